package io.kvmserver.config;

import java.math.BigDecimal;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.stream.Collectors;

/**
 * Every setting of one kvmserver, with the defaults of the C++ kvmserver.
 *
 * <p>The compact constructor is the single place where a configuration is judged: whether it
 * came from the command line, a {@code kvmserver.toml} or Java code, an instance that exists is
 * valid, so the engine never re-checks it. Messages name the command-line flag, because that is
 * what users know from the help text and the file keys are the same names.
 *
 * <p>Permission lists follow the C++ flag semantics: an empty list means the permission is not
 * granted; {@code --allow-read} without a value is {@code ["/"]}, {@code --allow-env} without a
 * value is {@code ["*"]}, {@code --allow-connect}/{@code --allow-listen} without a value are
 * {@code ["*"]} (any address, any port). Paths in {@code allowRead}, {@code allowWrite} and
 * {@code cwd} must be absolute; they are stored lexically normalized.
 *
 * <p>Memory limits are in bytes but must be whole MiB, because the flags and the file count in
 * MiB and {@link #describe()} must print a configuration that reads back unchanged.
 *
 * @param program the host path of the executable to run
 * @param args the program's arguments, without {@code argv[0]}
 * @param cwd the guest's working directory (absolute)
 * @param env explicit {@code NAME=VALUE} variables from {@code --env}; they win over allowed host variables
 * @param threads the number of request VMs, 0 for one per CPU (see {@link #effectiveThreads()})
 * @param ephemeral reset a request VM after every connection
 * @param warmup the number of warmup requests sent before the template is frozen
 * @param warmupPath the HTTP path of the warmup requests
 * @param verbose log more
 * @param printConfig print the configuration and exit without running the program
 * @param allowAll no sandbox restrictions on files, environment or network
 * @param allowRead host path prefixes the guest may read
 * @param allowWrite host path prefixes the guest may write (and read)
 * @param allowEnv host variable names passed to the guest: {@code NAME}, {@code PREFIX_*} or {@code *}
 * @param allowNet connect and listen anywhere
 * @param allowConnect {@code host:port} rules for outgoing connections, see {@link HostPort}
 * @param allowListen {@code host:port} rules for listening sockets, see {@link HostPort}
 * @param volumes host paths mapped to other guest paths
 * @param maxBootTime how long the program may take to reach its listening wait
 * @param maxRequestTime how long one request may take
 * @param maxMainMemory bytes of guest memory for the program
 * @param maxAddressSpace bytes of guest address space
 * @param maxRequestMemory bytes one request may dirty before it is stopped
 * @param limitRequestMemory bytes of private memory a request VM keeps after its reset
 * @param ephemeralKeepWorkingMemory keep the pages a request dirtied private after the reset
 *     (so the next request does not fault on them again); {@code --no-ephemeral-keep-working-memory}
 *     turns it off
 */
public record KvmServerOptions(
        String program,
        List<String> args,
        String cwd,
        List<String> env,
        int threads,
        boolean ephemeral,
        int warmup,
        String warmupPath,
        boolean verbose,
        boolean printConfig,
        boolean allowAll,
        List<String> allowRead,
        List<String> allowWrite,
        List<String> allowEnv,
        boolean allowNet,
        List<String> allowConnect,
        List<String> allowListen,
        List<Volume> volumes,
        Duration maxBootTime,
        Duration maxRequestTime,
        long maxMainMemory,
        long maxAddressSpace,
        long maxRequestMemory,
        long limitRequestMemory,
        boolean ephemeralKeepWorkingMemory) {

    /** One mebibyte, the unit of every memory flag. */
    public static final long MIB = 1L << 20;

    /**
     * The largest address space: the lower canonical half of a 4-level-paging x86-64 address
     * space (128 TiB), which is where a Linux program lives.
     */
    public static final long MAX_ADDRESS_SPACE_LIMIT = 1L << 47;

    /** Validates everything and makes the lists immutable. */
    public KvmServerOptions {
        program = requireNonBlank(program, "program", "a program to run is required");
        args = List.copyOf(args);
        cwd = absolute(requireNonBlank(cwd, "cwd", "--cwd must not be empty"), "--cwd");
        env = List.copyOf(env);
        env.forEach(KvmServerOptions::checkEnvAssignment);
        requireAtLeast(threads, 0, "--threads");
        requireAtLeast(warmup, 0, "--warmup");
        if (!Objects.requireNonNull(warmupPath, "warmupPath").startsWith("/")) {
            throw new IllegalArgumentException("--warmup-path must start with '/', got '" + warmupPath + "'");
        }
        allowRead = absolutePaths(allowRead, "--allow-read");
        allowWrite = absolutePaths(allowWrite, "--allow-write");
        allowEnv = List.copyOf(allowEnv);
        allowEnv.forEach(KvmServerOptions::checkEnvPattern);
        allowConnect = hostPortRules(allowConnect, "--allow-connect");
        allowListen = hostPortRules(allowListen, "--allow-listen");
        volumes = List.copyOf(volumes);
        checkDistinctGuestPaths(volumes);
        if (allowAll) {
            checkAllowAllAlone(allowRead, allowWrite, allowEnv, allowNet, allowConnect, allowListen, volumes);
        }
        requirePositive(maxBootTime, "--max-boot-time");
        requirePositive(maxRequestTime, "--max-request-time");
        requireMemory(maxAddressSpace, MIB, MAX_ADDRESS_SPACE_LIMIT, "--max-address-space");
        requireMemory(maxMainMemory, MIB, Long.MAX_VALUE, "--max-main-memory");
        if (maxMainMemory > maxAddressSpace) {
            throw new IllegalArgumentException("--max-main-memory (" + maxMainMemory / MIB
                    + " MiB) must not exceed --max-address-space (" + maxAddressSpace / MIB + " MiB)");
        }
        requireMemory(maxRequestMemory, MIB, Long.MAX_VALUE, "--max-request-memory");
        requireMemory(limitRequestMemory, 0, Long.MAX_VALUE, "--limit-request-memory");
    }

    /** A builder holding the C++ kvmserver's defaults, with the JVM's working directory as cwd. */
    public static Builder builder() {
        return new Builder();
    }

    /** A builder that starts from this configuration. */
    public Builder toBuilder() {
        return new Builder(this);
    }

    /** The number of request VMs to create: {@link #threads()}, or the CPU count when it is 0. */
    public int effectiveThreads() {
        return threads == 0 ? Runtime.getRuntime().availableProcessors() : threads;
    }

    /**
     * Renders this configuration as a {@code kvmserver.toml}, one key per flag, for
     * {@code --print-config}. Reading the result back (as a config file, with no flags) gives
     * this configuration again, except {@code printConfig}, which is left out so that the printed
     * file runs the server instead of printing itself.
     */
    public String describe() {
        StringBuilder out = new StringBuilder();
        line(out, "program", TomlSubset.quote(program));
        line(out, "args", array(args));
        line(out, "cwd", TomlSubset.quote(cwd));
        line(out, "env", array(env));
        line(out, "threads", threads);
        line(out, "ephemeral", ephemeral);
        line(out, "warmup", warmup);
        line(out, "warmup-path", TomlSubset.quote(warmupPath));
        line(out, "verbose", verbose);
        out.append('\n');
        line(out, "allow-all", allowAll);
        line(out, "allow-read", array(allowRead));
        line(out, "allow-write", array(allowWrite));
        line(out, "allow-env", array(allowEnv));
        line(out, "allow-net", allowNet);
        line(out, "allow-connect", array(allowConnect));
        line(out, "allow-listen", array(allowListen));
        line(out, "volume", array(volumes.stream().map(Volume::spec).toList()));
        out.append('\n');
        line(out, "max-boot-time", seconds(maxBootTime));
        line(out, "max-request-time", seconds(maxRequestTime));
        line(out, "max-main-memory", maxMainMemory / MIB);
        line(out, "max-address-space", maxAddressSpace / MIB);
        line(out, "max-request-memory", maxRequestMemory / MIB);
        line(out, "limit-request-memory", limitRequestMemory / MIB);
        line(out, "no-ephemeral-keep-working-memory", !ephemeralKeepWorkingMemory);
        return out.toString();
    }

    private static void line(StringBuilder out, String key, Object value) {
        out.append(key).append(" = ").append(value).append('\n');
    }

    private static String array(List<String> values) {
        return values.stream().map(TomlSubset::quote).collect(Collectors.joining(", ", "[", "]"));
    }

    private static String seconds(Duration duration) {
        BigDecimal seconds = BigDecimal.valueOf(duration.getSeconds()).add(BigDecimal.valueOf(duration.getNano(), 9));
        return seconds.stripTrailingZeros().toPlainString();
    }

    private static String requireNonBlank(String value, String name, String message) {
        if (Objects.requireNonNull(value, name).isBlank()) {
            throw new IllegalArgumentException(message);
        }
        return value;
    }

    private static String absolute(String path, String flag) {
        if (!path.startsWith("/")) {
            throw new IllegalArgumentException(flag + " path '" + path + "' must be absolute");
        }
        return Path.of(path).normalize().toString();
    }

    private static List<String> absolutePaths(List<String> paths, String flag) {
        return paths.stream().map(p -> absolute(p, flag)).toList();
    }

    private static List<String> hostPortRules(List<String> rules, String flag) {
        for (String rule : rules) {
            try {
                HostPort.parse(rule);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(flag + ": " + e.getMessage(), e);
            }
        }
        return List.copyOf(rules);
    }

    private static void checkEnvAssignment(String assignment) {
        if (assignment.indexOf('=') <= 0) {
            throw new IllegalArgumentException("--env '" + assignment + "' must be NAME=VALUE with a non-empty NAME");
        }
    }

    private static void checkEnvPattern(String pattern) {
        int star = pattern.indexOf('*');
        if (pattern.isEmpty() || pattern.indexOf('=') >= 0 || star >= 0 && star != pattern.length() - 1) {
            throw new IllegalArgumentException("--allow-env '" + pattern
                    + "' must be a variable NAME, a PREFIX_* or *");
        }
    }

    private static void checkDistinctGuestPaths(List<Volume> volumes) {
        List<String> seen = new ArrayList<>();
        for (Volume volume : volumes) {
            if (seen.contains(volume.guestPath())) {
                throw new IllegalArgumentException("--volume maps guest path " + volume.guestPath() + " twice");
            }
            seen.add(volume.guestPath());
        }
    }

    private static void checkAllowAllAlone(List<String> allowRead, List<String> allowWrite, List<String> allowEnv,
            boolean allowNet, List<String> allowConnect, List<String> allowListen, List<Volume> volumes) {
        String other = !allowRead.isEmpty() ? "--allow-read"
                : !allowWrite.isEmpty() ? "--allow-write"
                : !allowEnv.isEmpty() ? "--allow-env"
                : allowNet ? "--allow-net"
                : !allowConnect.isEmpty() ? "--allow-connect"
                : !allowListen.isEmpty() ? "--allow-listen"
                : !volumes.isEmpty() ? "--volume"
                : null;
        if (other != null) {
            throw new IllegalArgumentException("--allow-all excludes " + other
                    + ": --allow-all already grants everything, so drop one of them");
        }
    }

    private static void requireAtLeast(int value, int min, String flag) {
        if (value < min) {
            throw new IllegalArgumentException(flag + " must be at least " + min + ", got " + value);
        }
    }

    private static void requirePositive(Duration duration, String flag) {
        if (Objects.requireNonNull(duration, flag).isNegative() || duration.isZero()) {
            throw new IllegalArgumentException(flag + " must be more than 0 seconds, got " + seconds(duration));
        }
    }

    private static void requireMemory(long bytes, long min, long max, String flag) {
        if (bytes % MIB != 0) {
            throw new IllegalArgumentException(flag + " must be a whole number of MiB, got " + bytes + " bytes");
        }
        if (bytes < min) {
            throw new IllegalArgumentException(flag + " must be at least " + min / MIB + " MiB, got " + bytes / MIB);
        }
        if (bytes > max) {
            throw new IllegalArgumentException(flag + " must be at most " + max / MIB + " MiB, got " + bytes / MIB);
        }
    }

    /** Collects settings one by one; starts from the defaults of the C++ kvmserver. */
    public static final class Builder {
        private String program = "";
        private List<String> args = List.of();
        private String cwd = System.getProperty("user.dir");
        private List<String> env = List.of();
        private int threads = 1;
        private boolean ephemeral;
        private int warmup;
        private String warmupPath = "/";
        private boolean verbose;
        private boolean printConfig;
        private boolean allowAll;
        private List<String> allowRead = List.of();
        private List<String> allowWrite = List.of();
        private List<String> allowEnv = List.of();
        private boolean allowNet;
        private List<String> allowConnect = List.of();
        private List<String> allowListen = List.of();
        private List<Volume> volumes = List.of();
        private Duration maxBootTime = Duration.ofSeconds(20);
        private Duration maxRequestTime = Duration.ofSeconds(8);
        private long maxMainMemory = 8192 * MIB;
        private long maxAddressSpace = 131072 * MIB;
        private long maxRequestMemory = 128 * MIB;
        private long limitRequestMemory = 128 * MIB;
        private boolean ephemeralKeepWorkingMemory = true;

        private Builder() {
        }

        private Builder(KvmServerOptions o) {
            program = o.program;
            args = o.args;
            cwd = o.cwd;
            env = o.env;
            threads = o.threads;
            ephemeral = o.ephemeral;
            warmup = o.warmup;
            warmupPath = o.warmupPath;
            verbose = o.verbose;
            printConfig = o.printConfig;
            allowAll = o.allowAll;
            allowRead = o.allowRead;
            allowWrite = o.allowWrite;
            allowEnv = o.allowEnv;
            allowNet = o.allowNet;
            allowConnect = o.allowConnect;
            allowListen = o.allowListen;
            volumes = o.volumes;
            maxBootTime = o.maxBootTime;
            maxRequestTime = o.maxRequestTime;
            maxMainMemory = o.maxMainMemory;
            maxAddressSpace = o.maxAddressSpace;
            maxRequestMemory = o.maxRequestMemory;
            limitRequestMemory = o.limitRequestMemory;
            ephemeralKeepWorkingMemory = o.ephemeralKeepWorkingMemory;
        }

        public Builder program(String value) {
            program = value;
            return this;
        }

        public Builder args(List<String> value) {
            args = value;
            return this;
        }

        public Builder cwd(String value) {
            cwd = value;
            return this;
        }

        public Builder env(List<String> value) {
            env = value;
            return this;
        }

        public Builder threads(int value) {
            threads = value;
            return this;
        }

        public Builder ephemeral(boolean value) {
            ephemeral = value;
            return this;
        }

        public Builder warmup(int value) {
            warmup = value;
            return this;
        }

        public Builder warmupPath(String value) {
            warmupPath = value;
            return this;
        }

        public Builder verbose(boolean value) {
            verbose = value;
            return this;
        }

        public Builder printConfig(boolean value) {
            printConfig = value;
            return this;
        }

        public Builder allowAll(boolean value) {
            allowAll = value;
            return this;
        }

        public Builder allowRead(List<String> value) {
            allowRead = value;
            return this;
        }

        public Builder allowWrite(List<String> value) {
            allowWrite = value;
            return this;
        }

        public Builder allowEnv(List<String> value) {
            allowEnv = value;
            return this;
        }

        public Builder allowNet(boolean value) {
            allowNet = value;
            return this;
        }

        public Builder allowConnect(List<String> value) {
            allowConnect = value;
            return this;
        }

        public Builder allowListen(List<String> value) {
            allowListen = value;
            return this;
        }

        public Builder volumes(List<Volume> value) {
            volumes = value;
            return this;
        }

        public Builder maxBootTime(Duration value) {
            maxBootTime = value;
            return this;
        }

        public Builder maxRequestTime(Duration value) {
            maxRequestTime = value;
            return this;
        }

        public Builder maxMainMemory(long bytes) {
            maxMainMemory = bytes;
            return this;
        }

        public Builder maxAddressSpace(long bytes) {
            maxAddressSpace = bytes;
            return this;
        }

        public Builder maxRequestMemory(long bytes) {
            maxRequestMemory = bytes;
            return this;
        }

        public Builder limitRequestMemory(long bytes) {
            limitRequestMemory = bytes;
            return this;
        }

        public Builder ephemeralKeepWorkingMemory(boolean value) {
            ephemeralKeepWorkingMemory = value;
            return this;
        }

        /** Validates and builds; the exception message names the offending flag. */
        public KvmServerOptions build() {
            return new KvmServerOptions(program, args, cwd, env, threads, ephemeral, warmup, warmupPath, verbose,
                    printConfig, allowAll, allowRead, allowWrite, allowEnv, allowNet, allowConnect, allowListen,
                    volumes, maxBootTime, maxRequestTime, maxMainMemory, maxAddressSpace, maxRequestMemory,
                    limitRequestMemory, ephemeralKeepWorkingMemory);
        }
    }
}
