package io.kvmserver.config;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * Every setting of one kvmserver, with the defaults of the C++ kvmserver. What each setting
 * means, its flag, key, property and default are in the catalog, {@link Option}.
 *
 * <p>The compact constructor is the single place where a configuration is judged: whether it
 * came from the command line, a {@code kvmserver.toml}, Spring Boot properties or Java code, an
 * instance that exists is valid, so the engine never re-checks it. Messages name settings the
 * way their users do, through {@link #naming()}: {@code --max-request-time} for the command line,
 * {@code kvmserver.limits.max-request-time} for Spring Boot. The engine uses {@link #nameOf} for
 * every message about a setting, so that a Spring user never reads a command-line flag.
 *
 * <p>Permission lists follow the C++ flag semantics: an empty list means the permission is not
 * granted; {@code --allow-read} without a value is {@code ["/"]}, {@code --allow-env} without a
 * value is {@code ["*"]}, {@code --allow-connect}/{@code --allow-listen} without a value are
 * {@code ["*"]} (any address, any port). Paths in {@code allowRead}, {@code allowWrite} and
 * {@code cwd} must be absolute; they are stored lexically normalized. Listen rules name local
 * addresses, never host names, so that checking them needs no network lookup.
 *
 * <p>Memory limits are in bytes but must be whole MiB, because the flags and the file count in
 * MiB and {@link #describe()} must print a configuration that reads back unchanged.
 *
 * @param program the host path of the executable to run
 * @param args the program's arguments, without {@code argv[0]}
 * @param cwd the guest's working directory (absolute)
 * @param env explicit {@code NAME=VALUE} variables; they win over allowed host variables
 * @param threads the number of request VMs, 0 for one per CPU (see {@link #effectiveThreads()})
 * @param ephemeral reset a request VM after every connection
 * @param warmup the number of warmup requests sent before the template is frozen
 * @param warmupPath the HTTP path of the warmup requests
 * @param settleTime how long the template may keep running, once it waits for connections, for
 *        the timers it armed to fire before it is frozen (0: frozen at its first such wait)
 * @param verbose log more
 * @param trace log every system call of the program (the logger {@code io.kvmserver.trace})
 * @param traceHostCalls log only the system calls that reach the host (the calls answered in the
 *        guest on PVM stay answered there, unlogged)
 * @param printConfig print the configuration and exit without running the program
 * @param allowAll no sandbox restrictions on files, environment or network
 * @param allowRead host path prefixes the guest may read
 * @param allowWrite host path prefixes the guest may write (and read)
 * @param allowEnv host variable names passed to the guest: {@code NAME}, {@code PREFIX_*} or {@code *}
 * @param allowNet connect and listen anywhere
 * @param allowConnect {@code host:port} rules for outgoing connections, see {@link HostPort}
 * @param allowListen {@code address:port} rules for listening sockets, see {@link HostPort}
 * @param routeAddress the {@code address:port} the program listens on that the engine serves privately
 *     (through a unix socket of its own, see {@link HostPort}), or empty for none
 * @param volumes host paths mapped to other guest paths
 * @param maxBootTime how long the program may take to reach its listening wait
 * @param maxRequestTime how long one request may take
 * @param maxMainMemory bytes of guest memory for the program
 * @param maxAddressSpace bytes of guest address space
 * @param maxRequestMemory bytes one request may dirty before it is stopped
 * @param limitRequestMemory bytes of private memory a request VM keeps after its reset
 * @param ephemeralKeepWorkingMemory keep the pages a request dirtied private after the reset
 *     (so the next request does not fault on them again)
 * @param naming how messages name the settings: {@link OptionNaming#COMMAND_LINE} unless the
 *     configuration came from elsewhere
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
        Duration settleTime,
        boolean verbose,
        boolean trace,
        boolean traceHostCalls,
        boolean printConfig,
        boolean allowAll,
        List<String> allowRead,
        List<String> allowWrite,
        List<String> allowEnv,
        boolean allowNet,
        List<String> allowConnect,
        List<String> allowListen,
        String routeAddress,
        List<Volume> volumes,
        Duration maxBootTime,
        Duration maxRequestTime,
        long maxMainMemory,
        long maxAddressSpace,
        long maxRequestMemory,
        long limitRequestMemory,
        boolean ephemeralKeepWorkingMemory,
        OptionNaming naming) {

    /** One mebibyte, the unit of every memory flag. */
    public static final long MIB = 1L << 20;
    /** The longest duration a setting may take: 100 years (deadlines are monotonic nanoseconds). */
    public static final Duration MAX_DURATION = Duration.ofDays(36_500);

    /**
     * The largest address space: the lower canonical half of a 4-level-paging x86-64 address
     * space (128 TiB), which is where a Linux program lives.
     */
    public static final long MAX_ADDRESS_SPACE_LIMIT = 1L << 47;

    /** Validates everything and makes the lists immutable. */
    public KvmServerOptions {
        Objects.requireNonNull(naming, "naming");
        Checks check = new Checks(naming);
        if (Objects.requireNonNull(program, "program").isBlank()) {
            throw check.invalid(Option.PROGRAM, " must be set to the executable to run");
        }
        args = List.copyOf(args);
        cwd = check.absolute(Objects.requireNonNull(cwd, "cwd"), Option.CWD);
        env = List.copyOf(env);
        env.forEach(check::envAssignment);
        check.atLeast(threads, 0, Option.THREADS);
        check.atLeast(warmup, 0, Option.WARMUP);
        if (!Objects.requireNonNull(warmupPath, "warmupPath").startsWith("/")) {
            throw check.invalid(Option.WARMUP_PATH, " must start with '/', got '" + warmupPath + "'");
        }
        allowRead = allowRead.stream().map(p -> check.absolute(p, Option.ALLOW_READ)).toList();
        allowWrite = allowWrite.stream().map(p -> check.absolute(p, Option.ALLOW_WRITE)).toList();
        allowEnv = List.copyOf(allowEnv);
        allowEnv.forEach(check::envPattern);
        allowConnect = check.hostPortRules(allowConnect, Option.ALLOW_CONNECT);
        allowListen = check.hostPortRules(allowListen, Option.ALLOW_LISTEN);
        check.routeAddress(Objects.requireNonNull(routeAddress, "routeAddress"));
        volumes = List.copyOf(volumes);
        check.distinctGuestPaths(volumes);
        if (allowAll) {
            check.allowAllAlone(allowRead, allowWrite, allowEnv, allowNet, allowConnect, allowListen, volumes);
        }
        check.positive(maxBootTime, Option.MAX_BOOT_TIME);
        check.positive(maxRequestTime, Option.MAX_REQUEST_TIME);
        check.notNegative(settleTime, Option.SETTLE_TIME);
        if (settleTime.compareTo(maxBootTime) >= 0) {
            throw check.invalid(Option.SETTLE_TIME, " (" + OptionType.seconds(settleTime) + " s) must be less than "
                    + naming.nameOf(Option.MAX_BOOT_TIME) + " (" + OptionType.seconds(maxBootTime)
                    + " s): settling is the end of a start, not most of it");
        }
        check.memory(maxAddressSpace, MIB, MAX_ADDRESS_SPACE_LIMIT, Option.MAX_ADDRESS_SPACE);
        check.memory(maxMainMemory, MIB, Long.MAX_VALUE, Option.MAX_MAIN_MEMORY);
        if (maxMainMemory > maxAddressSpace) {
            throw check.invalid(Option.MAX_MAIN_MEMORY, " (" + maxMainMemory / MIB + " MiB) must not exceed "
                    + naming.nameOf(Option.MAX_ADDRESS_SPACE) + " (" + maxAddressSpace / MIB + " MiB)");
        }
        check.memory(maxRequestMemory, MIB, Long.MAX_VALUE, Option.MAX_REQUEST_MEMORY);
        check.memory(limitRequestMemory, 0, Long.MAX_VALUE, Option.LIMIT_REQUEST_MEMORY);
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
     * The name of a setting as the people who configured this server write it, for messages:
     * {@code --max-request-time} or {@code kvmserver.limits.max-request-time}.
     */
    public String nameOf(Option option) {
        return naming.nameOf(option);
    }

    /**
     * Renders this configuration as a {@code kvmserver.toml}, one key per setting, for
     * {@code --print-config}. Reading the result back (as a config file, with no flags) gives
     * this configuration again, except {@code printConfig}, which is left out so that the printed
     * file runs the server instead of printing itself.
     */
    public String describe() {
        StringBuilder out = new StringBuilder();
        Option.Section section = Option.Section.PROGRAM;
        for (Option option : Option.values()) {
            if (option == Option.PRINT_CONFIG) {
                continue;
            }
            if (option.section() != section) {
                out.append('\n');
                section = option.section();
            }
            out.append(option.key()).append(" = ").append(option.type().toToml(option.valueIn(this))).append('\n');
        }
        return out.toString();
    }

    /** The validations of the compact constructor, with messages in the users' naming. */
    private record Checks(OptionNaming naming) {

        InvalidOptionException invalid(Option option, String problem) {
            return new InvalidOptionException(option, naming.nameOf(option), naming.nameOf(option) + problem, null);
        }

        String absolute(String path, Option option) {
            if (!path.startsWith("/")) {
                throw invalid(option, " path '" + path + "' must be absolute");
            }
            return Path.of(path).normalize().toString();
        }

        List<String> hostPortRules(List<String> rules, Option option) {
            for (String rule : rules) {
                HostPort hostPort;
                try {
                    hostPort = HostPort.parse(rule);
                } catch (IllegalArgumentException e) {
                    throw new InvalidOptionException(option, naming.nameOf(option), naming.nameOf(option) + ": "
                            + e.getMessage(), e);
                }
                if (option == Option.ALLOW_LISTEN && !hostPort.isLocalAddress()) {
                    throw invalid(option, ": '" + rule + "' names a host; a listen rule names a local address: an IP"
                            + " address such as 127.0.0.1:8000 or [::1]:8000, localhost, or *:8000 for any address");
                }
            }
            return List.copyOf(rules);
        }

        void routeAddress(String address) {
            if (address.isEmpty()) {
                return;
            }
            HostPort hostPort;
            try {
                hostPort = HostPort.parse(address);
            } catch (IllegalArgumentException e) {
                throw new InvalidOptionException(Option.ROUTE_ADDRESS, naming.nameOf(Option.ROUTE_ADDRESS),
                        naming.nameOf(Option.ROUTE_ADDRESS) + ": " + e.getMessage(), e);
            }
            if (!hostPort.isLocalAddress() || hostPort.anyPort()) {
                throw invalid(Option.ROUTE_ADDRESS, ": '" + address + "' must be the local address and port the"
                        + " program listens on, such as 127.0.0.1:8000, [::1]:8000, localhost:8000 or *:8000");
            }
        }

        void envAssignment(String assignment) {
            if (assignment.indexOf('=') <= 0) {
                throw invalid(Option.ENV, " '" + assignment + "' must be NAME=VALUE with a non-empty NAME");
            }
        }

        void envPattern(String pattern) {
            int star = pattern.indexOf('*');
            if (pattern.isEmpty() || pattern.indexOf('=') >= 0 || star >= 0 && star != pattern.length() - 1) {
                throw invalid(Option.ALLOW_ENV, " '" + pattern + "' must be a variable NAME, a PREFIX_* or *");
            }
        }

        void distinctGuestPaths(List<Volume> volumes) {
            List<String> seen = new ArrayList<>();
            for (Volume volume : volumes) {
                if (seen.contains(volume.guestPath())) {
                    throw invalid(Option.VOLUME, " maps guest path " + volume.guestPath() + " twice");
                }
                seen.add(volume.guestPath());
            }
        }

        void allowAllAlone(List<String> allowRead, List<String> allowWrite, List<String> allowEnv, boolean allowNet,
                List<String> allowConnect, List<String> allowListen, List<Volume> volumes) {
            Option other = !allowRead.isEmpty() ? Option.ALLOW_READ
                    : !allowWrite.isEmpty() ? Option.ALLOW_WRITE
                    : !allowEnv.isEmpty() ? Option.ALLOW_ENV
                    : allowNet ? Option.ALLOW_NET
                    : !allowConnect.isEmpty() ? Option.ALLOW_CONNECT
                    : !allowListen.isEmpty() ? Option.ALLOW_LISTEN
                    : !volumes.isEmpty() ? Option.VOLUME
                    : null;
            if (other != null) {
                String allowAll = naming.nameOf(Option.ALLOW_ALL);
                throw new InvalidOptionException(other, naming.nameOf(other), allowAll + " excludes "
                        + naming.nameOf(other) + ": " + allowAll + " already grants everything, so drop one of them",
                        null);
            }
        }

        void atLeast(int value, int min, Option option) {
            if (value < min) {
                throw invalid(option, " must be at least " + min + ", got " + value);
            }
        }

        void notNegative(Duration duration, Option option) {
            if (Objects.requireNonNull(duration, option.key()).isNegative()) {
                throw invalid(option, " must be at least 0 seconds, got " + OptionType.seconds(duration));
            }
            notTooLong(duration, option);
        }

        void positive(Duration duration, Option option) {
            if (Objects.requireNonNull(duration, option.key()).isNegative() || duration.isZero()) {
                throw invalid(option, " must be more than 0 seconds, got " + OptionType.seconds(duration));
            }
            notTooLong(duration, option);
        }

        /** Deadlines are monotonic nanoseconds: a duration past a century would overflow them. */
        private void notTooLong(Duration duration, Option option) {
            if (duration.compareTo(MAX_DURATION) > 0) {
                throw invalid(option, " must be at most " + MAX_DURATION.toDays() / 365 + " years ("
                        + MAX_DURATION.getSeconds() + " seconds), got " + OptionType.seconds(duration));
            }
        }

        void memory(long bytes, long min, long max, Option option) {
            if (bytes % MIB != 0) {
                throw invalid(option, " must be a whole number of MiB, got " + bytes + " bytes");
            }
            if (bytes < min) {
                throw invalid(option, " must be at least " + min / MIB + " MiB, got " + bytes / MIB);
            }
            if (bytes > max) {
                throw invalid(option, " must be at most " + max / MIB + " MiB, got " + bytes / MIB);
            }
        }
    }

    /**
     * Collects settings one by one; starts from the defaults of the catalog ({@link Option}),
     * which are the C++ kvmserver's, with the JVM's working directory as cwd.
     */
    public static final class Builder {
        private String program = "";
        private List<String> args;
        private String cwd = System.getProperty("user.dir");
        private List<String> env;
        private int threads;
        private boolean ephemeral;
        private int warmup;
        private String warmupPath;
        private Duration settleTime;
        private boolean verbose;
        private boolean trace;
        private boolean traceHostCalls;
        private boolean printConfig;
        private boolean allowAll;
        private List<String> allowRead;
        private List<String> allowWrite;
        private List<String> allowEnv;
        private boolean allowNet;
        private List<String> allowConnect;
        private List<String> allowListen;
        private String routeAddress;
        private List<Volume> volumes;
        private Duration maxBootTime;
        private Duration maxRequestTime;
        private long maxMainMemory;
        private long maxAddressSpace;
        private long maxRequestMemory;
        private long limitRequestMemory;
        private boolean ephemeralKeepWorkingMemory;
        private OptionNaming naming = OptionNaming.COMMAND_LINE;

        private Builder() {
            Option.applyDefaults(this);
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
            settleTime = o.settleTime;
            verbose = o.verbose;
            trace = o.trace;
            traceHostCalls = o.traceHostCalls;
            printConfig = o.printConfig;
            allowAll = o.allowAll;
            allowRead = o.allowRead;
            allowWrite = o.allowWrite;
            allowEnv = o.allowEnv;
            allowNet = o.allowNet;
            allowConnect = o.allowConnect;
            allowListen = o.allowListen;
            routeAddress = o.routeAddress;
            volumes = o.volumes;
            maxBootTime = o.maxBootTime;
            maxRequestTime = o.maxRequestTime;
            maxMainMemory = o.maxMainMemory;
            maxAddressSpace = o.maxAddressSpace;
            maxRequestMemory = o.maxRequestMemory;
            limitRequestMemory = o.limitRequestMemory;
            ephemeralKeepWorkingMemory = o.ephemeralKeepWorkingMemory;
            naming = o.naming;
        }

        /** How messages name the settings; {@link OptionNaming#COMMAND_LINE} unless set. */
        public Builder naming(OptionNaming value) {
            naming = value;
            return this;
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

        public Builder settleTime(Duration value) {
            settleTime = value;
            return this;
        }

        public Builder verbose(boolean value) {
            verbose = value;
            return this;
        }

        public Builder trace(boolean value) {
            trace = value;
            return this;
        }

        public Builder traceHostCalls(boolean value) {
            traceHostCalls = value;
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

        public Builder routeAddress(String value) {
            routeAddress = value;
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

        /**
         * Validates and builds.
         *
         * @throws InvalidOptionException naming the offending setting in the builder's naming
         */
        public KvmServerOptions build() {
            return new KvmServerOptions(program, args, cwd, env, threads, ephemeral, warmup, warmupPath, settleTime,
                    verbose,
                    trace, traceHostCalls, printConfig, allowAll, allowRead, allowWrite, allowEnv, allowNet, allowConnect, allowListen,
                    routeAddress, volumes, maxBootTime, maxRequestTime, maxMainMemory, maxAddressSpace,
                    maxRequestMemory, limitRequestMemory, ephemeralKeepWorkingMemory, naming);
        }
    }
}
