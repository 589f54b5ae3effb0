package io.kvmserver.cli;

import static io.kvmserver.config.KvmServerOptions.MIB;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.kvmserver.config.KvmServerOptions;
import io.kvmserver.config.Option;
import io.kvmserver.config.Volume;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class CommandLineTest {

    @TempDir
    Path tmp;

    private Path wd;
    private Path bin;
    private Path server;
    private Map<String, String> hostEnv;

    @BeforeEach
    void setUp() throws IOException {
        wd = Files.createDirectory(tmp.resolve("work"));
        bin = Files.createDirectory(tmp.resolve("bin"));
        server = executable(bin.resolve("server"));
        hostEnv = Map.of("PATH", "/nonexistent:" + bin);
    }

    private static Path executable(Path path) throws IOException {
        Files.writeString(path, "#!/bin/sh\n");
        Files.setPosixFilePermissions(path, PosixFilePermissions.fromString("rwxr-xr-x"));
        return path;
    }

    private KvmServerOptions parse(String... argv) throws UsageException {
        return CommandLine.parse(List.of(argv), wd, hostEnv);
    }

    private String usageError(String... argv) {
        try {
            parse(argv);
        } catch (UsageException e) {
            assertThat(e.helpRequested()).isFalse();
            assertThat(e.getMessage()).endsWith("Run 'kvmserver --help' to see the options.");
            return e.getMessage();
        }
        throw new AssertionError("expected a usage error for " + List.of(argv));
    }

    private void writeConfig(String text) throws IOException {
        Files.writeString(wd.resolve("kvmserver.toml"), text);
    }

    @Test
    void programAloneGivesTheDefaultsWithTheWorkingDirectoryAsCwd() throws Exception {
        KvmServerOptions o = parse("server");

        assertThat(o).isEqualTo(KvmServerOptions.builder().program(server.toString()).cwd(wd.toString()).build());
    }

    @Test
    void findsTheProgramInPathOrRelativeToTheWorkingDirectory() throws Exception {
        Path local = executable(wd.resolve("local"));

        assertThat(parse("server").program()).isEqualTo(server.toString());
        assertThat(parse("./local").program()).isEqualTo(local.toString());
        assertThat(parse(server.toString()).program()).isEqualTo(server.toString());
    }

    @Test
    void reportsAProgramThatIsNotThere() {
        assertThat(usageError("nothere")).startsWith("program 'nothere' was not found in PATH");
        assertThat(usageError("./nothere")).startsWith("program " + wd.resolve("nothere") + " does not exist");
        assertThat(usageError("-t", "2")).startsWith("program is required");
    }

    @Test
    void optionalPermissionValuesAreOnlyTakenWithEquals() throws Exception {
        KvmServerOptions o = parse("--allow-read", server.toString(), "-c", "print(1)");

        assertThat(o.allowRead()).containsExactly("/");
        assertThat(o.program()).isEqualTo(server.toString());
        assertThat(o.args()).containsExactly("-c", "print(1)");
    }

    @Test
    void everythingAfterTheProgramBelongsToTheProgram() throws Exception {
        KvmServerOptions o = parse("-e", "server", "--threads", "3", "--", "-e", "--bogus", "server");

        assertThat(o.ephemeral()).isTrue();
        assertThat(o.threads()).isEqualTo(1);
        assertThat(o.args()).containsExactly("--threads", "3", "--", "-e", "--bogus", "server");
    }

    @Test
    void doubleDashEndsTheOptions() throws Exception {
        executable(bin.resolve("-dash"));

        KvmServerOptions o = parse("-t", "2", "--", "-dash", "-v");

        assertThat(o.program()).isEqualTo(bin.resolve("-dash").toString());
        assertThat(o.args()).containsExactly("-v");
        assertThat(o.verbose()).isFalse();
    }

    @Test
    void valuedFlagsTakeSpaceOrEqualsAndShortFormsMayBeGrouped() throws Exception {
        assertThat(parse("--threads", "3", "server").threads()).isEqualTo(3);
        assertThat(parse("--threads=4", "server").threads()).isEqualTo(4);
        assertThat(parse("-t", "5", "server").threads()).isEqualTo(5);
        assertThat(parse("-t6", "server").threads()).isEqualTo(6);
        KvmServerOptions grouped = parse("-evw7", "server");
        assertThat(grouped.ephemeral()).isTrue();
        assertThat(grouped.verbose()).isTrue();
        assertThat(grouped.warmup()).isEqualTo(7);
    }

    @Test
    void readsEveryFlag() throws Exception {
        KvmServerOptions o = parse("--cwd", "/guest", "--env", "A=1,2", "--env=B=x", "-t", "0", "-e", "-w", "10",
                "--warmup-path", "/health", "-v", "--print-config", "--allow-read=/usr,lib", "--allow-read=/etc",
                "--allow-write=/tmp", "--allow-env=HOME,API_*", "--allow-net", "--allow-connect=example.com:443",
                "--allow-listen=127.0.0.1:8000,[::1]:8000", "--volume", "data:/data:rw", "--volume=/srv:/srv",
                "--max-boot-time", "2.5", "--max-request-time=0.25", "--max-main-memory", "1024",
                "--max-address-space", "4096", "--max-request-memory", "64", "--limit-request-memory", "0",
                "--no-ephemeral-keep-working-memory", "server", "arg");

        assertThat(o).isEqualTo(KvmServerOptions.builder()
                .program(server.toString()).args(List.of("arg")).cwd("/guest").env(List.of("A=1,2", "B=x"))
                .threads(0).ephemeral(true).warmup(10).warmupPath("/health").verbose(true).printConfig(true)
                .allowRead(List.of("/usr", wd.resolve("lib").toString(), "/etc")).allowWrite(List.of("/tmp"))
                .allowEnv(List.of("HOME", "API_*")).allowNet(true).allowConnect(List.of("example.com:443"))
                .allowListen(List.of("127.0.0.1:8000", "[::1]:8000"))
                .volumes(List.of(new Volume(wd.resolve("data").toString(), "/data", true), new Volume("/srv", "/srv", false)))
                .maxBootTime(Duration.ofMillis(2500)).maxRequestTime(Duration.ofMillis(250))
                .maxMainMemory(1024 * MIB).maxAddressSpace(4096 * MIB).maxRequestMemory(64 * MIB)
                .limitRequestMemory(0).ephemeralKeepWorkingMemory(false).build());
    }

    @Test
    void permissionFlagsWithoutValueMeanEverything() throws Exception {
        KvmServerOptions o = parse("--allow-read", "--allow-write", "--allow-env", "--allow-connect", "--allow-listen",
                "server");

        assertThat(o.allowRead()).containsExactly("/");
        assertThat(o.allowWrite()).containsExactly("/");
        assertThat(o.allowEnv()).containsExactly("*");
        assertThat(o.allowConnect()).containsExactly("*");
        assertThat(o.allowListen()).containsExactly("*");
    }

    @Test
    void switchesAcceptExplicitTrueOrFalse() throws Exception {
        writeConfig("ephemeral = true\nverbose = true\n");

        KvmServerOptions o = parse("--ephemeral=false", "--verbose=true", "server");

        assertThat(o.ephemeral()).isFalse();
        assertThat(o.verbose()).isTrue();
        assertThat(usageError("--ephemeral=yes", "server")).startsWith("--ephemeral takes no value (or =true/=false)");
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "--bogus server                    | unknown option '--bogus'",
        "--bogus=1 server                  | unknown option '--bogus'",
        "-x server                         | unknown option '-x'",
        "-ex server                        | unknown option '-x'",
        "--threads                         | --threads needs a value",
        "--threads two server              | --threads expects a non-negative integer, got 'two'",
        "--threads -1 server               | --threads expects a non-negative integer, got '-1'",
        "--threads 99999999999 server      | --threads is too large: 99999999999",
        "-t 1 --threads 2 server           | --threads is given more than once",
        "--max-boot-time soon server       | --max-boot-time expects a number of seconds such as 2.5, got 'soon'",
        "--max-boot-time 0 server          | --max-boot-time must be more than 0 seconds, got 0",
        "--max-main-memory 1.5 server      | --max-main-memory expects a whole number of MiB, got '1.5'",
        "--allow-read= server              | --allow-read has an empty entry in ''",
        "--allow-read=/a,,/b server        | --allow-read has an empty entry in '/a,,/b'",
        "--allow-all --allow-read server   | --allow-all excludes --allow-read",
        "--allow-net --allow-all server    | --allow-all excludes --allow-net",
        "--volume /a server                | --volume: volume '/a' is not <host-path>:<guest-path>[:r|w|rw]",
        "--volume /a:b server              | --volume: volume guest path 'b' must be absolute",
        "--allow-connect=::1:80 server     | --allow-connect: '::1:80': write IPv6 addresses in brackets",
        "--env NOVALUE server              | --env 'NOVALUE' must be NAME=VALUE",
    })
    void reportsUsageErrorsNamingTheFlag(String argv, String message) {
        assertThat(usageError(argv.split(" "))).startsWith(message);
    }

    @Test
    void helpIsNotAnError() {
        assertThatThrownBy(() -> parse("-t", "2", "--help", "--bogus"))
                .isInstanceOfSatisfying(UsageException.class, e -> {
                    assertThat(e.helpRequested()).isTrue();
                    assertThat(e.getMessage()).isEqualTo(CommandLine.help());
                });
        assertThatThrownBy(() -> parse("-h")).isInstanceOfSatisfying(UsageException.class,
                e -> assertThat(e.helpRequested()).isTrue());
    }

    @Test
    void helpAfterTheProgramBelongsToTheProgram() throws Exception {
        assertThat(parse("server", "--help").args()).containsExactly("--help");
    }

    @Test
    void helpListsEveryFlag() {
        String help = CommandLine.help();

        assertThat(help).startsWith("kvmserver [OPTIONS] program [args...]\n");
        for (Option option : Option.values()) {
            assertThat(help).containsPattern("  " + java.util.regex.Pattern.quote(CommandLine.syntax(option)) + "[ \n]");
            if (option.shortFlag() != '\0') {
                assertThat(help).contains("  -" + option.shortFlag() + ", --" + option.key());
            }
        }
        assertThat(help).contains("Permissions:", "Limits:", "  -h, --help", "  -c, --config FILE",
                "      --allow-read[=PATHS]");
        assertThat(help.replaceAll("\\s+", " ")).contains("-t, --threads N Number of request VMs, each serving one"
                + " connection at a time; 0 for one per CPU. [default: 1] (e.g. --threads 4)");
    }

    @Test
    void readsKvmserverTomlFromTheWorkingDirectory() throws Exception {
        writeConfig("""
                # settings for the demo
                program = "server"
                args = ["--port", "8000"]
                threads = 2
                ephemeral = true
                allow-read = ["/a", "/b,/c"]
                allow-env = true
                allow-connect = "example.com:443"
                env = ["A=1"]
                volume = ["data:/data:rw"]
                max-boot-time = 1.5
                max-request-time = 3
                max-main-memory = 512
                no-ephemeral-keep-working-memory = true
                """);

        KvmServerOptions o = parse();

        assertThat(o.program()).isEqualTo(server.toString());
        assertThat(o.args()).containsExactly("--port", "8000");
        assertThat(o.threads()).isEqualTo(2);
        assertThat(o.ephemeral()).isTrue();
        assertThat(o.allowRead()).containsExactly("/a", "/b", "/c");
        assertThat(o.allowEnv()).containsExactly("*");
        assertThat(o.allowConnect()).containsExactly("example.com:443");
        assertThat(o.env()).containsExactly("A=1");
        assertThat(o.volumes()).containsExactly(new Volume(wd.resolve("data").toString(), "/data", true));
        assertThat(o.maxBootTime()).isEqualTo(Duration.ofMillis(1500));
        assertThat(o.maxRequestTime()).isEqualTo(Duration.ofSeconds(3));
        assertThat(o.maxMainMemory()).isEqualTo(512 * MIB);
        assertThat(o.ephemeralKeepWorkingMemory()).isFalse();
    }

    @Test
    void commandLineWinsOverTheFile() throws Exception {
        writeConfig("""
                program = "server"
                args = ["from-file"]
                threads = 2
                warmup = 5
                allow-read = ["/a", "/b"]
                allow-write = false
                """);
        executable(bin.resolve("other"));

        KvmServerOptions o = parse("-t", "4", "--allow-read=/c");

        assertThat(o.threads()).isEqualTo(4);
        assertThat(o.warmup()).isEqualTo(5);
        assertThat(o.allowRead()).containsExactly("/c");
        assertThat(o.allowWrite()).isEmpty();
        assertThat(o.args()).containsExactly("from-file");
        KvmServerOptions otherProgram = parse("other");
        assertThat(otherProgram.program()).isEqualTo(bin.resolve("other").toString());
        assertThat(otherProgram.args()).isEmpty();
    }

    @Test
    void allowAllInTheFileStillExcludesPermissionFlags() throws Exception {
        writeConfig("allow-all = true\n");

        assertThat(parse("server").allowAll()).isTrue();
        assertThat(usageError("--allow-env=HOME", "server")).startsWith("--allow-all excludes --allow-env");
        assertThat(parse("--allow-all=false", "--allow-env=HOME", "server").allowEnv()).containsExactly("HOME");
    }

    @Test
    void readsTheFileNamedByConfigInsteadOfTheDefault() throws Exception {
        writeConfig("threads = 2\n");
        Files.writeString(wd.resolve("other.toml"), "threads = 3\n");

        assertThat(parse("-c", "other.toml", "server").threads()).isEqualTo(3);
        assertThat(parse("--config=" + wd.resolve("other.toml"), "server").threads()).isEqualTo(3);
        assertThat(parse("server").threads()).isEqualTo(2);
    }

    @Test
    void aMissingNamedFileIsAnError() {
        assertThat(usageError("-c", "missing.toml", "server"))
                .startsWith("--config: " + wd.resolve("missing.toml") + " does not exist or is not a file");
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "threads = 2\\nbogus = 1            | kvmserver.toml:2: unknown key 'bogus'",
        "config = \"x.toml\"                | kvmserver.toml:1: unknown key 'config' (it can only be given on the command line)",
        "\\n\\nthreads = \"two\"            | kvmserver.toml:3: threads expects a non-negative integer, got \"two\"",
        "threads = -1                       | kvmserver.toml:1: threads expects a non-negative integer, got -1",
        "ephemeral = 1                      | kvmserver.toml:1: ephemeral expects true or false, got 1",
        "allow-read = [1]                   | kvmserver.toml:1: allow-read expects an array of \"strings\", got [1]",
        "max-boot-time = \"2\"              | kvmserver.toml:1: max-boot-time expects a number of seconds, got \"2\"",
        "max-main-memory = 1.5              | kvmserver.toml:1: max-main-memory expects a whole number of MiB, got 1.5",
        "volume = [\"/a\"]                  | kvmserver.toml:1: volume: volume '/a' is not <host-path>",
        "allow-read = [\"/a\",\\n\"/b\"]    | kvmserver.toml:1: unterminated array",
        "[section]                          | kvmserver.toml:1: tables ([name]) are not supported",
    })
    void fileErrorsNameTheLine(String toml, String message) throws IOException {
        writeConfig(toml.replace("\\n", "\n"));

        assertThat(usageError("server")).startsWith(wd.resolve(message.substring(0, message.indexOf(':'))) + message
                .substring(message.indexOf(':')));
    }

    @Test
    void printedConfigReadsBackAsTheSameConfig() throws Exception {
        KvmServerOptions original = parse("--cwd", "/guest", "--env", "Q=\"quoted\"", "-t", "3", "-e", "-w", "2",
                "--warmup-path", "/ping", "--allow-read=/usr,/etc", "--allow-write=/tmp", "--allow-env=HOME,API_*",
                "--allow-connect=example.com:443", "--allow-listen", "--volume", "/srv:/srv:rw",
                "--max-boot-time", "0.125", "--max-main-memory", "100", "--no-ephemeral-keep-working-memory",
                "--print-config", "server", "a b", "--c");
        Path elsewhere = Files.createDirectory(tmp.resolve("elsewhere"));
        Files.writeString(elsewhere.resolve("kvmserver.toml"), original.describe());

        KvmServerOptions readBack = CommandLine.parse(List.of(), elsewhere, Map.of());

        assertThat(readBack).isEqualTo(original.toBuilder().printConfig(false).build());
    }
}
