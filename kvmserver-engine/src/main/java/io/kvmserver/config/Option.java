package io.kvmserver.config;

import io.kvmserver.config.KvmServerOptions.Builder;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.function.Function;

/**
 * Every setting of a kvmserver, described once: its command-line flag and {@code kvmserver.toml}
 * key, its Spring Boot property, how its value is written, its default, its unit and its help
 * text, and where its value lives in {@link KvmServerOptions}.
 *
 * <p>This is the single source of truth. The command line's parser and {@code --help}, the
 * configuration file reader, {@link KvmServerOptions#describe()} and the builder's defaults are
 * derived from it; the Spring Boot properties (whose javadoc the configuration processor needs)
 * and the README's tables are checked against it by tests. Adding a setting means adding a
 * constant here, a component to {@link KvmServerOptions} and the code that uses it; the tests
 * name every copy that is missing.
 *
 * <p>Values are in their converted form ({@link OptionType}): {@link Integer}, {@link Boolean},
 * {@link Duration}, bytes as {@link Long}, {@link String} or a list of strings. A setting whose
 * flag switches something off ({@link #isInverted()}) holds the flag's value, the opposite of
 * the {@link KvmServerOptions} component and of the Spring property.
 */
public enum Option {

    PROGRAM(positional("program", OptionType.STRING)
            .spring("kvmserver.program")
            .describe("The x86-64 Linux executable to run.")
            .defaultText("required")
            .reads(KvmServerOptions::program).writes((b, v, base) -> b.program((String) v))),
    ARGS(positional("args", OptionType.REPEATED)
            .spring("kvmserver.args")
            .describe("Arguments of the program, without argv[0].")
            .defaultValue(List.of())
            .reads(KvmServerOptions::args).writes((b, v, base) -> b.args(strings(v)))),

    CWD(flag("cwd", OptionType.STRING, "DIR")
            .spring("kvmserver.cwd")
            .describe("The guest's working directory (absolute).")
            .defaultText("the working directory").example("/srv/app")
            .reads(KvmServerOptions::cwd).writes((b, v, base) -> b.cwd(base.resolve((String) v).toString()))),
    ENV(flag("env", OptionType.REPEATED, "NAME=VALUE")
            .spring("kvmserver.env")
            .describe("Environment variables of the guest, as NAME=VALUE; they win over passed host variables.")
            .defaultValue(List.of()).example("MODE=production")
            .reads(KvmServerOptions::env).writes((b, v, base) -> b.env(strings(v)))),
    THREADS(flag("threads", OptionType.UINT, "N").shortFlag('t')
            .spring("kvmserver.threads")
            .describe("Number of request VMs, each serving one connection at a time; 0 for one per CPU.")
            .defaultValue(1).example("4")
            .reads(KvmServerOptions::threads).writes((b, v, base) -> b.threads((Integer) v))),
    EPHEMERAL(flag("ephemeral", OptionType.FLAG, "").shortFlag('e')
            .spring("kvmserver.ephemeral")
            .describe("Whether to reset a request VM to the frozen template after every connection.")
            .defaultValue(false)
            .reads(KvmServerOptions::ephemeral).writes((b, v, base) -> b.ephemeral((Boolean) v))),
    WARMUP(flag("warmup", OptionType.UINT, "N").shortFlag('w')
            .spring("kvmserver.warmup.count")
            .describe("Number of requests sent to the program once it listens, before its template is frozen.")
            .defaultValue(0).example("100")
            .reads(KvmServerOptions::warmup).writes((b, v, base) -> b.warmup((Integer) v))),
    WARMUP_PATH(flag("warmup-path", OptionType.STRING, "PATH")
            .spring("kvmserver.warmup.path")
            .describe("HTTP path of the warmup requests.")
            .defaultValue("/").example("/ping")
            .reads(KvmServerOptions::warmupPath).writes((b, v, base) -> b.warmupPath((String) v))),
    SETTLE_TIME(flag("settle-time", OptionType.SECONDS, "SECONDS")
            .spring("kvmserver.warmup.settle-time")
            .describe("How long the template may keep running once it waits for connections (after any warmup),"
                    + " for the timers it armed to fire once there instead of in every request VM; it is frozen at"
                    + " its first wait for connections with no timer due within that time, or after a poll interval"
                    + " that did nothing. The boot may take max-boot-time plus this, and settling at most half of"
                    + " the boot time left; 0 freezes it at its first wait.")
            .defaultValue(Duration.ZERO).example("12")
            .reads(KvmServerOptions::settleTime).writes((b, v, base) -> b.settleTime((Duration) v))),
    VERBOSE(flag("verbose", OptionType.FLAG, "").shortFlag('v')
            .spring("kvmserver.verbose")
            .describe("Whether to log more about the server, including every permission denial.")
            .defaultValue(false)
            .reads(KvmServerOptions::verbose).writes((b, v, base) -> b.verbose((Boolean) v))),
    TRACE(flag("trace", OptionType.FLAG, "")
            .spring("kvmserver.trace")
            .describe("Whether to log every system call of the program (its VM, thread, arguments, result and"
                    + " any permission denial) at INFO, to find out why a program fails. Slow.")
            .defaultValue(false)
            .reads(KvmServerOptions::trace).writes((b, v, base) -> b.trace((Boolean) v))),
    TRACE_HOST_CALLS(flag("trace-host-calls", OptionType.FLAG, "")
            .spring("kvmserver.trace-host-calls")
            .describe("Whether to log only the system calls that reach the host, as the trace logs them: where"
                    + " calls are answered in the guest (nested PVM hosts) they are left out, and still answered"
                    + " there, so the log shows what a request costs in exits.")
            .defaultValue(false)
            .reads(KvmServerOptions::traceHostCalls).writes((b, v, base) -> b.traceHostCalls((Boolean) v))),
    PRINT_CONFIG(flag("print-config", OptionType.FLAG, "")
            .describe("Print the configuration as TOML and exit without running the program.")
            .defaultValue(false)
            .reads(KvmServerOptions::printConfig).writes((b, v, base) -> b.printConfig((Boolean) v))),

    ALLOW_ALL(permission("allow-all", OptionType.FLAG, "")
            .spring("kvmserver.permissions.allow-all")
            .describe("Whether to lift every restriction on files, environment and network, except the engine's"
                    + " own (the route's directory, the JVM's /proc entries); excludes the other permissions.")
            .defaultValue(false)
            .reads(KvmServerOptions::allowAll).writes((b, v, base) -> b.allowAll((Boolean) v))),
    ALLOW_READ(permission("allow-read", OptionType.LIST, "PATHS").implicitValue("/")
            .spring("kvmserver.permissions.allow-read")
            .describe("Host path prefixes the guest may read ('/' for everything).")
            .defaultValue(List.of()).example("/usr,/etc/ssl")
            .reads(KvmServerOptions::allowRead).writes((b, v, base) -> b.allowRead(paths(v, base)))),
    ALLOW_WRITE(permission("allow-write", OptionType.LIST, "PATHS").implicitValue("/")
            .spring("kvmserver.permissions.allow-write")
            .describe("Host path prefixes the guest may write (and read).")
            .defaultValue(List.of()).example("/tmp")
            .reads(KvmServerOptions::allowWrite).writes((b, v, base) -> b.allowWrite(paths(v, base)))),
    ALLOW_ENV(permission("allow-env", OptionType.LIST, "NAMES").implicitValue("*")
            .spring("kvmserver.permissions.allow-env")
            .describe("Host environment variables passed to the guest: NAME, PREFIX_* or * for all.")
            .defaultValue(List.of()).example("HOME,API_*")
            .reads(KvmServerOptions::allowEnv).writes((b, v, base) -> b.allowEnv(strings(v)))),
    ALLOW_NET(permission("allow-net", OptionType.FLAG, "")
            .spring("kvmserver.permissions.allow-net")
            .describe("Whether the guest may connect and listen anywhere.")
            .defaultValue(false)
            .reads(KvmServerOptions::allowNet).writes((b, v, base) -> b.allowNet((Boolean) v))),
    ALLOW_CONNECT(permission("allow-connect", OptionType.LIST, "HOST:PORT,...").implicitValue("*")
            .spring("kvmserver.permissions.allow-connect")
            .describe("host:port rules for outgoing connections: a host name or an IP address (IPv6 in"
                    + " brackets), '*' or an empty host for any address, port 0 or none for any port.")
            .defaultValue(List.of()).example("example.com:443")
            .reads(KvmServerOptions::allowConnect).writes((b, v, base) -> b.allowConnect(strings(v)))),
    ALLOW_LISTEN(permission("allow-listen", OptionType.LIST, "ADDRESS:PORT,...").implicitValue("*")
            .spring("kvmserver.permissions.allow-listen")
            .describe("address:port rules for listening sockets: an IP address (IPv6 in brackets) or"
                    + " localhost, '*' or an empty host for any address, port 0 or none for any port.")
            .defaultValue(List.of()).example("127.0.0.1:8000")
            .reads(KvmServerOptions::allowListen).writes((b, v, base) -> b.allowListen(strings(v)))),
    ROUTE_ADDRESS(permission("route-address", OptionType.STRING, "ADDRESS:PORT")
            .spring("kvmserver.route.address")
            .describe("The address:port the program listens on, served privately: the engine backs that listening"
                    + " socket with a unix socket of its own instead of a TCP port, so the program needs no listen"
                    + " permission for it and only the engine's clients (the application's routes) reach it.")
            .defaultValue("").defaultText("none").example("127.0.0.1:8000")
            .reads(KvmServerOptions::routeAddress).writes((b, v, base) -> b.routeAddress((String) v))),
    VOLUME(permission("volume", OptionType.REPEATED, "HOST:GUEST[:r|w|rw]")
            .spring("kvmserver.permissions.volumes")
            .describe("Host paths the guest sees at other paths, read-only unless the mode is w or rw.")
            .defaultValue(List.of()).example("/srv/data:/data:rw")
            .reads(o -> o.volumes().stream().map(Volume::spec).toList())
            .writes((b, v, base) -> b.volumes(strings(v).stream().map(spec -> Volume.parse(spec, base)).toList()))),

    MAX_BOOT_TIME(limit("max-boot-time", OptionType.SECONDS, "SECONDS")
            .spring("kvmserver.limits.max-boot-time")
            .describe("How long the program may take to start and wait for connections.")
            .defaultValue(Duration.ofSeconds(20)).example("30")
            .reads(KvmServerOptions::maxBootTime).writes((b, v, base) -> b.maxBootTime((Duration) v))),
    MAX_REQUEST_TIME(limit("max-request-time", OptionType.SECONDS, "SECONDS")
            .spring("kvmserver.limits.max-request-time")
            .describe("How long one request may take before its VM is stopped and reset.")
            .defaultValue(Duration.ofSeconds(8)).example("5")
            .reads(KvmServerOptions::maxRequestTime).writes((b, v, base) -> b.maxRequestTime((Duration) v))),
    MAX_MAIN_MEMORY(limit("max-main-memory", OptionType.MIB, "MiB")
            .spring("kvmserver.limits.max-main-memory")
            .describe("Memory the program may map readable, writable or executable, or from a file; address"
                    + " space it only reserves (PROT_NONE, anonymous) does not count, and only the pages it"
                    + " touches use host memory.")
            .defaultValue(8192 * KvmServerOptions.MIB).example("1024")
            .reads(KvmServerOptions::maxMainMemory).writes((b, v, base) -> b.maxMainMemory((Long) v))),
    MAX_ADDRESS_SPACE(limit("max-address-space", OptionType.MIB, "MiB")
            .spring("kvmserver.limits.max-address-space")
            .describe("The program's address range: every mapping, reservations included, lies below it.")
            .defaultValue(131072 * KvmServerOptions.MIB).example("262144")
            .reads(KvmServerOptions::maxAddressSpace).writes((b, v, base) -> b.maxAddressSpace((Long) v))),
    MAX_REQUEST_MEMORY(limit("max-request-memory", OptionType.MIB, "MiB")
            .spring("kvmserver.limits.max-request-memory")
            .describe("Memory one request may dirty before it is stopped.")
            .defaultValue(128 * KvmServerOptions.MIB).example("64")
            .reads(KvmServerOptions::maxRequestMemory).writes((b, v, base) -> b.maxRequestMemory((Long) v))),
    LIMIT_REQUEST_MEMORY(limit("limit-request-memory", OptionType.MIB, "MiB")
            .spring("kvmserver.limits.limit-request-memory")
            .describe("Private memory a request VM keeps after its reset; above it, a reset gives pages back.")
            .defaultValue(128 * KvmServerOptions.MIB).example("0")
            .reads(KvmServerOptions::limitRequestMemory).writes((b, v, base) -> b.limitRequestMemory((Long) v))),
    EPHEMERAL_KEEP_WORKING_MEMORY(limit("no-ephemeral-keep-working-memory", OptionType.FLAG, "").inverted()
            .spring("kvmserver.ephemeral-keep-working-memory")
            .describe("Whether a reset keeps the pages a request dirtied private to the VM, so that the next"
                    + " request does not fault on them again.")
            .describeFlag("Give the pages a request dirtied back at its reset instead of keeping them.")
            .defaultValue(false)
            .reads(o -> !o.ephemeralKeepWorkingMemory())
            .writes((b, v, base) -> b.ephemeralKeepWorkingMemory(!(Boolean) v)));

    /** The groups of settings, in the order {@code --help} and {@code --print-config} show them. */
    public enum Section {
        PROGRAM("Program"), GENERAL("Options"), PERMISSIONS("Permissions"), LIMITS("Limits");

        private final String title;

        Section(String title) {
            this.title = title;
        }

        /** The heading of the section in {@code --help}. */
        public String title() {
            return title;
        }
    }

    /** Stores a converted value in a builder; {@code hostBase} resolves relative host paths. */
    @FunctionalInterface
    private interface Writer {
        void write(Builder builder, Object value, Path hostBase);
    }

    private static final Path ROOT = Path.of("/");

    private final String key;
    private final char shortFlag;
    private final OptionType type;
    private final Section section;
    private final String valueName;
    private final String implicitValue;
    private final String springProperty;
    private final boolean inverted;
    private final Object defaultValue;
    private final String defaultText;
    private final String description;
    private final String flagDescription;
    private final String example;
    private final Function<KvmServerOptions, Object> reader;
    private final Writer writer;

    Option(Definition d) {
        this.key = d.key;
        this.shortFlag = d.shortFlag;
        this.type = d.type;
        this.section = d.section;
        this.valueName = d.valueName;
        this.implicitValue = d.implicitValue;
        this.springProperty = d.springProperty;
        this.inverted = d.inverted;
        this.defaultValue = d.defaultValue;
        this.defaultText = d.defaultText;
        this.description = Objects.requireNonNull(d.description, d.key);
        this.flagDescription = d.flagDescription != null ? d.flagDescription : imperative(d.description);
        this.example = d.example;
        this.reader = Objects.requireNonNull(d.reader, d.key);
        this.writer = Objects.requireNonNull(d.writer, d.key);
    }

    /** The long flag without {@code --}, which is also the key in {@code kvmserver.toml}. */
    public String key() {
        return key;
    }

    /** The one-letter flag ({@code t} for {@code -t}), or {@code '\0'} if there is none. */
    public char shortFlag() {
        return shortFlag;
    }

    public OptionType type() {
        return type;
    }

    public Section section() {
        return section;
    }

    /** True for the program and its arguments, which the command line takes without a flag. */
    public boolean isPositional() {
        return section == Section.PROGRAM;
    }

    /**
     * How the command line and messages for its users write this setting: {@code --threads},
     * or {@code program} for a positional one.
     */
    public String flag() {
        return isPositional() ? key : "--" + key;
    }

    /** What the value is, in the help text: {@code N}, {@code SECONDS}, {@code PATHS}... */
    public String valueName() {
        return valueName;
    }

    /** What a {@link OptionType#LIST} flag given without a value means, such as {@code /}. */
    public String implicitValue() {
        return implicitValue;
    }

    /** The Spring Boot property, such as {@code kvmserver.limits.max-request-time}, if it has one. */
    public Optional<String> springProperty() {
        return Optional.ofNullable(springProperty);
    }

    /**
     * True if the flag switches the setting off: its value is the opposite of the
     * {@link KvmServerOptions} component and of the Spring Boot property.
     */
    public boolean isInverted() {
        return inverted;
    }

    /** The default in converted form, or null for a setting without a fixed default. */
    public Object defaultValue() {
        return defaultValue;
    }

    /** The default as people read it, on the command line's terms: {@code 8192}, {@code off}... */
    public String defaultText() {
        return defaultText != null ? defaultText : type.display(defaultValue);
    }

    /** What the setting does, one or two sentences: the help text and the property's description. */
    public String description() {
        return description;
    }

    /**
     * What the flag does, for {@code --help}: {@link #description()} as an imperative ("Reset..."
     * for "Whether to reset..."), or its own text for a flag that switches a setting off.
     */
    public String flagDescription() {
        return flagDescription;
    }

    /** A typical value as written on the command line, or null. */
    public String example() {
        return example;
    }

    /** This setting's value in {@code options}, in converted form. */
    public Object valueIn(KvmServerOptions options) {
        return reader.apply(options);
    }

    /**
     * Stores a converted value in {@code builder}.
     *
     * @param hostBase the host directory relative host paths are resolved against
     */
    public void apply(Builder builder, Object value, Path hostBase) {
        writer.write(builder, value, hostBase);
    }

    /** The setting whose long flag or file key is {@code key}. */
    public static Optional<Option> byKey(String key) {
        return Arrays.stream(values()).filter(o -> o.key.equals(key)).findFirst();
    }

    /** Stores every default in a fresh builder: the builder's defaults are the catalog's. */
    static void applyDefaults(Builder builder) {
        for (Option option : values()) {
            if (option.defaultValue != null) {
                option.apply(builder, option.defaultValue, ROOT);
            }
        }
    }

    /** "Whether to reset ..." as a flag's help says it: "Reset ...". */
    private static String imperative(String description) {
        String prefix = "Whether to ";
        if (!description.startsWith(prefix)) {
            return description;
        }
        String rest = description.substring(prefix.length());
        return Character.toUpperCase(rest.charAt(0)) + rest.substring(1);
    }

    @SuppressWarnings("unchecked")
    private static List<String> strings(Object value) {
        return (List<String>) value;
    }

    private static List<String> paths(Object value, Path base) {
        return strings(value).stream().map(p -> base.resolve(p).toString()).toList();
    }

    private static Definition positional(String key, OptionType type) {
        return new Definition(key, type, Section.PROGRAM, key.toUpperCase());
    }

    private static Definition flag(String key, OptionType type, String valueName) {
        return new Definition(key, type, Section.GENERAL, valueName);
    }

    private static Definition permission(String key, OptionType type, String valueName) {
        return new Definition(key, type, Section.PERMISSIONS, valueName);
    }

    private static Definition limit(String key, OptionType type, String valueName) {
        return new Definition(key, type, Section.LIMITS, valueName);
    }

    /** Collects one constant's facts, so that each constant reads as a list of named facts. */
    private static final class Definition {
        private final String key;
        private final OptionType type;
        private final Section section;
        private final String valueName;
        private char shortFlag;
        private String implicitValue;
        private String springProperty;
        private boolean inverted;
        private Object defaultValue;
        private String defaultText;
        private String description;
        private String flagDescription;
        private String example;
        private Function<KvmServerOptions, Object> reader;
        private Writer writer;

        Definition(String key, OptionType type, Section section, String valueName) {
            this.key = key;
            this.type = type;
            this.section = section;
            this.valueName = valueName;
        }

        Definition shortFlag(char value) {
            shortFlag = value;
            return this;
        }

        Definition implicitValue(String value) {
            implicitValue = value;
            return this;
        }

        Definition spring(String property) {
            springProperty = property;
            return this;
        }

        Definition inverted() {
            inverted = true;
            return this;
        }

        Definition defaultValue(Object value) {
            defaultValue = value;
            return this;
        }

        Definition defaultText(String text) {
            defaultText = text;
            return this;
        }

        Definition describe(String text) {
            description = text;
            return this;
        }

        Definition describeFlag(String text) {
            flagDescription = text;
            return this;
        }

        Definition example(String text) {
            example = text;
            return this;
        }

        Definition reads(Function<KvmServerOptions, Object> value) {
            reader = value;
            return this;
        }

        Definition writes(Writer value) {
            writer = value;
            return this;
        }
    }
}
