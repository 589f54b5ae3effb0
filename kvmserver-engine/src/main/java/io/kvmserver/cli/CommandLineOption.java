package io.kvmserver.cli;

import io.kvmserver.config.KvmServerOptions.Builder;
import io.kvmserver.config.Volume;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/**
 * Every option of the C++ kvmserver that this server implements, with its configuration-file
 * key (the long flag name), how its value is written, its help text and where its value goes.
 * One table keeps the parser, the file reader and {@code --help} from disagreeing.
 */
enum CommandLineOption {

    HELP("help", 'h', CommandLineType.FLAG, Section.OPTIONS, "", "Print this help message and exit", null),
    CONFIG("config", 'c', CommandLineType.STRING, Section.OPTIONS, "[kvmserver.toml]", "Read a toml file", null),
    CWD("cwd", CommandLineType.STRING, Section.OPTIONS, "TEXT [current directory]",
            "Set the guests working directory", (b, v, wd) -> b.cwd(wd.resolve((String) v).toString())),
    ENV("env", CommandLineType.REPEATED, Section.OPTIONS, "TEXT ...", "add an environment variable (NAME=VALUE)",
            (b, v, wd) -> b.env(strings(v))),
    THREADS("threads", 't', CommandLineType.UINT, Section.OPTIONS, "UINT [1]",
            "Number of request VMs (0 to use cpu count)", (b, v, wd) -> b.threads((Integer) v)),
    EPHEMERAL("ephemeral", 'e', CommandLineType.FLAG, Section.OPTIONS, "", "Use ephemeral VMs",
            (b, v, wd) -> b.ephemeral((Boolean) v)),
    WARMUP("warmup", 'w', CommandLineType.UINT, Section.OPTIONS, "UINT [0]", "Number of warmup requests",
            (b, v, wd) -> b.warmup((Integer) v)),
    WARMUP_PATH("warmup-path", CommandLineType.STRING, Section.OPTIONS, "TEXT [/]", "Path of the warmup requests",
            (b, v, wd) -> b.warmupPath((String) v)),
    VERBOSE("verbose", 'v', CommandLineType.FLAG, Section.OPTIONS, "", "Enable verbose output",
            (b, v, wd) -> b.verbose((Boolean) v)),
    PRINT_CONFIG("print-config", CommandLineType.FLAG, Section.OPTIONS, "",
            "Print config and exit without running program", (b, v, wd) -> b.printConfig((Boolean) v)),

    ALLOW_ALL("allow-all", CommandLineType.FLAG, Section.PERMISSIONS,
            "Excludes: --allow-read --allow-write --allow-env --allow-net --allow-connect --allow-listen --volume",
            "Allow all access", (b, v, wd) -> b.allowAll((Boolean) v)),
    ALLOW_READ("allow-read", CommandLineType.LIST, "/", "{/} Excludes: --allow-all",
            "Allow filesystem read access (e.g. --allow-read=/usr,/etc/ssl)",
            (b, v, wd) -> b.allowRead(paths(v, wd))),
    ALLOW_WRITE("allow-write", CommandLineType.LIST, "/", "{/} Excludes: --allow-all",
            "Allow filesystem write access (and read access to the same paths)",
            (b, v, wd) -> b.allowWrite(paths(v, wd))),
    ALLOW_ENV("allow-env", CommandLineType.LIST, "*", "{*} Excludes: --allow-all",
            "Allow access to environment variables. Optionally specify accessible environment variables"
                    + " (e.g. --allow-env=USER,PATH,API_*).",
            (b, v, wd) -> b.allowEnv(strings(v))),
    ALLOW_NET("allow-net", CommandLineType.FLAG, Section.PERMISSIONS, "Excludes: --allow-all", "Allow network access",
            (b, v, wd) -> b.allowNet((Boolean) v)),
    ALLOW_CONNECT("allow-connect", CommandLineType.LIST, "*", "{*} Excludes: --allow-all",
            "Allow outgoing network access (e.g. --allow-connect=example.com:443,[::1]:0)",
            (b, v, wd) -> b.allowConnect(strings(v))),
    ALLOW_LISTEN("allow-listen", CommandLineType.LIST, "*", "{*} Excludes: --allow-all",
            "Allow incoming network access (e.g. --allow-listen=127.0.0.1:8000)",
            (b, v, wd) -> b.allowListen(strings(v))),
    VOLUME("volume", CommandLineType.REPEATED, Section.PERMISSIONS, "Excludes: --allow-all",
            "<host-path>:<guest-path>[:r?w?=r]",
            (b, v, wd) -> b.volumes(strings(v).stream().map(spec -> Volume.parse(spec, wd)).toList())),

    MAX_BOOT_TIME("max-boot-time", CommandLineType.SECONDS, Section.ADVANCED, "FLOAT [20]",
            "Seconds the program may take to start", (b, v, wd) -> b.maxBootTime((Duration) v)),
    MAX_REQUEST_TIME("max-request-time", CommandLineType.SECONDS, Section.ADVANCED, "FLOAT [8]",
            "Seconds one request may take", (b, v, wd) -> b.maxRequestTime((Duration) v)),
    MAX_MAIN_MEMORY("max-main-memory", CommandLineType.MIB, Section.ADVANCED, "UINT [8192]",
            "MiB of guest memory", (b, v, wd) -> b.maxMainMemory((Long) v)),
    MAX_ADDRESS_SPACE("max-address-space", CommandLineType.MIB, Section.ADVANCED, "UINT [131072]",
            "MiB of guest address space", (b, v, wd) -> b.maxAddressSpace((Long) v)),
    MAX_REQUEST_MEMORY("max-request-memory", CommandLineType.MIB, Section.ADVANCED, "UINT [128]",
            "MiB one request may dirty", (b, v, wd) -> b.maxRequestMemory((Long) v)),
    LIMIT_REQUEST_MEMORY("limit-request-memory", CommandLineType.MIB, Section.ADVANCED, "UINT [128]",
            "MiB a request VM keeps after its reset", (b, v, wd) -> b.limitRequestMemory((Long) v)),
    NO_EPHEMERAL_KEEP_WORKING_MEMORY("no-ephemeral-keep-working-memory", CommandLineType.FLAG, Section.ADVANCED,
            "{false}", "Give back the pages of a request at its reset",
            (b, v, wd) -> b.ephemeralKeepWorkingMemory(!(Boolean) v)),

    PROGRAM("program", CommandLineType.STRING, Section.POSITIONALS, "TEXT REQUIRED", "Program",
            (b, v, wd) -> b.program((String) v)),
    ARGS("args", CommandLineType.REPEATED, Section.POSITIONALS, "TEXT ...", "Program arguments",
            (b, v, wd) -> b.args(strings(v)));

    /** The groups of the help text, in the order of the C++ kvmserver's help. */
    enum Section {
        POSITIONALS("POSITIONALS"), OPTIONS("OPTIONS"), PERMISSIONS("Permissions"), ADVANCED("Advanced");

        final String title;

        Section(String title) {
            this.title = title;
        }
    }

    /** Stores a converted value in the builder; {@code wd} resolves relative host paths. */
    @FunctionalInterface
    interface Setter {
        void apply(Builder builder, Object value, Path wd);
    }

    final String key;
    final char shortName;
    final CommandLineType type;
    final String implicitValue;
    final Section section;
    final String signature;
    final String description;
    private final Setter setter;

    CommandLineOption(String key, CommandLineType type, Section section, String signature, String description,
            Setter setter) {
        this(key, '\0', type, section, signature, description, setter);
    }

    CommandLineOption(String key, char shortName, CommandLineType type, Section section, String signature,
            String description, Setter setter) {
        this(key, shortName, type, null, section, signature, description, setter);
    }

    /** A permission list: its implicit value is what the flag means when given without {@code =}. */
    CommandLineOption(String key, CommandLineType type, String implicitValue, String signature, String description,
            Setter setter) {
        this(key, '\0', type, implicitValue, Section.PERMISSIONS, signature, description, setter);
    }

    CommandLineOption(String key, char shortName, CommandLineType type, String implicitValue, Section section,
            String signature, String description, Setter setter) {
        this.key = key;
        this.shortName = shortName;
        this.type = type;
        this.implicitValue = implicitValue;
        this.section = section;
        this.signature = signature;
        this.description = description;
        this.setter = setter;
    }

    /** The option whose long flag is {@code --name}; positionals have no flag. */
    static Optional<CommandLineOption> byLongFlag(String name) {
        return Arrays.stream(values()).filter(o -> o.isFlag() && o.key.equals(name)).findFirst();
    }

    /** The option whose short flag is {@code -c}. */
    static Optional<CommandLineOption> byShortFlag(char name) {
        return Arrays.stream(values()).filter(o -> o.shortName != '\0' && o.shortName == name).findFirst();
    }

    /** The option set by {@code key = ...} in the configuration file. */
    static Optional<CommandLineOption> byFileKey(String key) {
        return Arrays.stream(values()).filter(o -> o.isFileKey() && o.key.equals(key)).findFirst();
    }

    /** How the help text and messages write this option. */
    String flag() {
        return isFlag() ? "--" + key : key;
    }

    boolean isFlag() {
        return section != Section.POSITIONALS;
    }

    /** Help and the choice of the file itself make no sense inside the file. */
    boolean isFileKey() {
        return this != HELP && this != CONFIG;
    }

    void apply(Builder builder, Object value, Path workingDirectory) {
        setter.apply(builder, value, workingDirectory);
    }

    @SuppressWarnings("unchecked")
    private static List<String> strings(Object value) {
        return (List<String>) value;
    }

    private static List<String> paths(Object value, Path wd) {
        return strings(value).stream().map(p -> wd.resolve(p).toString()).toList();
    }
}
