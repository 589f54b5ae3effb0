package io.kvmserver.autoconfigure;

import io.kvmserver.config.InvalidOptionException;
import io.kvmserver.config.KvmServerOptions;
import io.kvmserver.config.Option;
import io.kvmserver.config.OptionNaming;
import io.kvmserver.config.Volume;
import java.time.Duration;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;
import org.springframework.boot.convert.DataSizeUnit;
import org.springframework.boot.convert.DurationUnit;
import org.springframework.boot.logging.LogLevel;
import org.springframework.util.unit.DataSize;
import org.springframework.util.unit.DataUnit;

/**
 * Configuration of the kvmserver run by the application, under {@code kvmserver.*}. Every
 * setting of the C++ kvmserver's command line has a property here, with the same default.
 *
 * <p>The settings are described once, in the engine's catalog ({@link Option}); the javadoc of
 * each property repeats the catalog's description (the configuration processor reads it from
 * here), followed by what a bare number means and by what is particular to Spring Boot, and a
 * test checks the generated metadata against the catalog.
 *
 * <p>Instances are immutable and valid: the constructor checks the whole configuration with the
 * engine's own rules ({@link KvmServerOptions}), which name settings by these properties
 * ({@link OptionNaming#SPRING_BOOT}), so that a mistake stops the application while it binds its
 * configuration, before the web server starts. Unknown {@code kvmserver.*} keys are refused,
 * like unknown flags and file keys.
 */
@ConfigurationProperties(prefix = "kvmserver", ignoreUnknownFields = false)
public final class KvmServerProperties {

    /**
     * The properties that exist only in Spring Boot: every other {@code kvmserver.*} property
     * is the Spring name of a setting of the catalog.
     */
    public static final List<String> SPRING_ONLY = List.of("kvmserver.enabled", "kvmserver.output.stdout-level",
            "kvmserver.output.stderr-level");

    /**
     * Whether to run the kvmserver. The server runs when this is true, or unset while
     * 'kvmserver.program' is set.
     */
    private final boolean enabled;

    /**
     * The x86-64 Linux executable to run. An absolute path, a path relative to the application's
     * working directory, or a 'classpath:' resource (extracted to a private temporary directory
     * that the guest may read, deleted on stop).
     */
    private final String program;

    /**
     * Arguments of the program, without argv[0]. An argument 'classpath:...' is replaced by the
     * path of the extracted resource.
     */
    private final List<String> args;

    /** The guest's working directory (absolute). Defaults to the application's working directory. */
    private final String cwd;

    /** Environment variables of the guest, as NAME=VALUE; they win over passed host variables. */
    private final List<String> env;

    /** Number of request VMs, each serving one connection at a time; 0 for one per CPU. */
    private final int threads;

    /** Whether to reset a request VM to the frozen template after every connection. */
    private final boolean ephemeral;

    /**
     * Whether a reset keeps the pages a request dirtied private to the VM, so that the next
     * request does not fault on them again.
     */
    private final boolean ephemeralKeepWorkingMemory;

    /** Whether to log more about the server, including every permission denial. */
    private final boolean verbose;

    /**
     * Whether to log every system call of the program (its VM, thread, arguments, result and any
     * permission denial) at INFO, to find out why a program fails. Slow. The logger is
     * 'io.kvmserver.trace'.
     */
    private final boolean trace;

    /** Requests sent to the program before its template is frozen. */
    private final Warmup warmup;

    /** What the guest may read, write, see and connect to. */
    private final Permissions permissions;

    /** Time and memory limits. */
    private final Limits limits;

    /** How the program's output is logged. */
    private final Output output;

    public KvmServerProperties(@DefaultValue("true") boolean enabled, String program, @DefaultValue List<String> args,
            String cwd, @DefaultValue List<String> env, @DefaultValue("1") int threads,
            @DefaultValue("false") boolean ephemeral, @DefaultValue("true") boolean ephemeralKeepWorkingMemory,
            @DefaultValue("false") boolean verbose, @DefaultValue("false") boolean trace, @DefaultValue Warmup warmup,
            @DefaultValue Permissions permissions, @DefaultValue Limits limits, @DefaultValue Output output) {
        this.enabled = enabled;
        this.program = program;
        this.args = List.copyOf(args);
        this.cwd = cwd;
        this.env = List.copyOf(env);
        this.threads = threads;
        this.ephemeral = ephemeral;
        this.ephemeralKeepWorkingMemory = ephemeralKeepWorkingMemory;
        this.verbose = verbose;
        this.trace = trace;
        this.warmup = warmup;
        this.permissions = permissions;
        this.limits = limits;
        this.output = output;
        if (enabled) {
            toOptions(program, args, List.of()).build();
        }
    }

    public boolean isEnabled() {
        return this.enabled;
    }

    public String getProgram() {
        return this.program;
    }

    public List<String> getArgs() {
        return this.args;
    }

    public String getCwd() {
        return this.cwd;
    }

    public List<String> getEnv() {
        return this.env;
    }

    public int getThreads() {
        return this.threads;
    }

    public boolean isEphemeral() {
        return this.ephemeral;
    }

    public boolean isEphemeralKeepWorkingMemory() {
        return this.ephemeralKeepWorkingMemory;
    }

    public boolean isVerbose() {
        return this.verbose;
    }

    public boolean isTrace() {
        return this.trace;
    }

    public Warmup getWarmup() {
        return this.warmup;
    }

    public Permissions getPermissions() {
        return this.permissions;
    }

    public Limits getLimits() {
        return this.limits;
    }

    public Output getOutput() {
        return this.output;
    }

    /**
     * The engine configuration these properties describe, not yet validated: customizers may
     * still change it, and {@link KvmServerOptions.Builder#build()} then reports a problem with
     * the property's name.
     * @param program the program's host path (this configuration's program, resolved)
     * @param args the program's arguments (resources resolved)
     * @param extraReadable host paths the guest must be able to read in addition to
     * {@code allow-read}: the extracted classpath resources
     * @return the engine's options, named in Spring Boot's terms, before customizers
     * @throws InvalidOptionException for a volume that is not valid
     */
    public KvmServerOptions.Builder toOptions(String program, List<String> args, List<String> extraReadable) {
        List<String> allowRead = new ArrayList<>(this.permissions.allowRead);
        if (!this.permissions.allowAll) {
            allowRead.addAll(extraReadable);
        }
        KvmServerOptions.Builder builder = KvmServerOptions.builder()
            .naming(OptionNaming.SPRING_BOOT)
            .program((program != null) ? program : "")
            .args(args)
            .env(this.env)
            .threads(this.threads)
            .ephemeral(this.ephemeral)
            .ephemeralKeepWorkingMemory(this.ephemeralKeepWorkingMemory)
            .verbose(this.verbose)
            .trace(this.trace)
            .warmup(this.warmup.count)
            .warmupPath(this.warmup.path)
            .allowAll(this.permissions.allowAll)
            .allowRead(allowRead)
            .allowWrite(this.permissions.allowWrite)
            .allowEnv(this.permissions.allowEnv)
            .allowNet(this.permissions.allowNet)
            .allowConnect(this.permissions.allowConnect)
            .allowListen(this.permissions.allowListen)
            .volumes(volumes(this.permissions.volumes))
            .maxBootTime(this.limits.maxBootTime)
            .maxRequestTime(this.limits.maxRequestTime)
            .maxMainMemory(this.limits.maxMainMemory.toBytes())
            .maxAddressSpace(this.limits.maxAddressSpace.toBytes())
            .maxRequestMemory(this.limits.maxRequestMemory.toBytes())
            .limitRequestMemory(this.limits.limitRequestMemory.toBytes());
        if (this.cwd != null) {
            builder.cwd(this.cwd);
        }
        return builder;
    }

    private static List<Volume> volumes(List<VolumeProperties> volumes) {
        List<Volume> result = new ArrayList<>();
        for (int i = 0; i < volumes.size(); i++) {
            VolumeProperties volume = volumes.get(i);
            try {
                result.add(new Volume(volume.host, volume.guest, volume.mode.writable));
            }
            catch (IllegalArgumentException | NullPointerException ex) {
                throw new InvalidOptionException(Option.VOLUME,
                        OptionNaming.SPRING_BOOT.nameOf(Option.VOLUME) + "[" + i + "]: "
                                + ((ex.getMessage() != null) ? ex.getMessage() : "host and guest must both be set"));
            }
        }
        return result;
    }

    /** Warmup requests, sent once the program listens and before the template is frozen. */
    public static final class Warmup {

        /** Number of requests sent to the program once it listens, before its template is frozen. */
        private final int count;

        /** HTTP path of the warmup requests. */
        private final String path;

        public Warmup(@DefaultValue("0") int count, @DefaultValue("/") String path) {
            this.count = count;
            this.path = path;
        }

        public int getCount() {
            return this.count;
        }

        public String getPath() {
            return this.path;
        }

    }

    /**
     * The guest's sandbox. Nothing is allowed unless listed; a program that must listen needs
     * 'allow-listen' (or 'allow-net'), and a dynamically linked one needs to read its libraries.
     */
    public static final class Permissions {

        /**
         * Whether to lift every restriction on files, environment and network; excludes the
         * other permissions.
         */
        private final boolean allowAll;

        /** Host path prefixes the guest may read ('/' for everything). */
        private final List<String> allowRead;

        /** Host path prefixes the guest may write (and read). */
        private final List<String> allowWrite;

        /** Host environment variables passed to the guest: NAME, PREFIX_* or * for all. */
        private final List<String> allowEnv;

        /** Whether the guest may connect and listen anywhere. */
        private final boolean allowNet;

        /**
         * host:port rules for outgoing connections: a host name or an IP address (IPv6 in
         * brackets), '*' or an empty host for any address, port 0 or none for any port.
         */
        private final List<String> allowConnect;

        /**
         * address:port rules for listening sockets: an IP address (IPv6 in brackets) or
         * localhost, '*' or an empty host for any address, port 0 or none for any port. For
         * example '127.0.0.1:8000'.
         */
        private final List<String> allowListen;

        /**
         * Host paths the guest sees at other paths, read-only unless the mode is w or rw. Each has
         * a 'host' and a 'guest' path (both absolute) and a 'mode' (r, w or rw; r if unset).
         */
        private final List<VolumeProperties> volumes;

        public Permissions(@DefaultValue("false") boolean allowAll, @DefaultValue List<String> allowRead,
                @DefaultValue List<String> allowWrite, @DefaultValue List<String> allowEnv,
                @DefaultValue("false") boolean allowNet, @DefaultValue List<String> allowConnect,
                @DefaultValue List<String> allowListen, @DefaultValue List<VolumeProperties> volumes) {
            this.allowAll = allowAll;
            this.allowRead = List.copyOf(allowRead);
            this.allowWrite = List.copyOf(allowWrite);
            this.allowEnv = List.copyOf(allowEnv);
            this.allowNet = allowNet;
            this.allowConnect = List.copyOf(allowConnect);
            this.allowListen = List.copyOf(allowListen);
            this.volumes = List.copyOf(volumes);
        }

        public boolean isAllowAll() {
            return this.allowAll;
        }

        public List<String> getAllowRead() {
            return this.allowRead;
        }

        public List<String> getAllowWrite() {
            return this.allowWrite;
        }

        public List<String> getAllowEnv() {
            return this.allowEnv;
        }

        public boolean isAllowNet() {
            return this.allowNet;
        }

        public List<String> getAllowConnect() {
            return this.allowConnect;
        }

        public List<String> getAllowListen() {
            return this.allowListen;
        }

        public List<VolumeProperties> getVolumes() {
            return this.volumes;
        }

    }

    /** A host directory or file that the guest sees at another path (C++ --volume). */
    public static final class VolumeProperties {

        /** Absolute host path. */
        private final String host;

        /** Absolute path at which the guest sees it. */
        private final String guest;

        /** Access of the guest: r (read-only), w or rw (read and write). */
        private final VolumeMode mode;

        public VolumeProperties(String host, String guest, @DefaultValue("r") VolumeMode mode) {
            this.host = host;
            this.guest = guest;
            this.mode = mode;
        }

        public String getHost() {
            return this.host;
        }

        public String getGuest() {
            return this.guest;
        }

        public VolumeMode getMode() {
            return this.mode;
        }

    }

    /** The access modes of a volume, spelled as in the C++ --volume flag. */
    public enum VolumeMode {

        /** Read-only. */
        R(false),

        /** Read and write. */
        W(true),

        /** Read and write. */
        RW(true);

        private final boolean writable;

        VolumeMode(boolean writable) {
            this.writable = writable;
        }

        public boolean isWritable() {
            return this.writable;
        }

    }

    /** Time and memory limits of the template and the request VMs. */
    public static final class Limits {

        /**
         * How long the program may take to start and wait for connections. A bare number means
         * seconds.
         */
        private final Duration maxBootTime;

        /**
         * How long one request may take before its VM is stopped and reset. A bare number means
         * seconds.
         */
        private final Duration maxRequestTime;

        /**
         * Memory the program may map readable, writable or executable; address space it only
         * reserves (PROT_NONE) does not count, and only the pages it touches use host memory. A
         * bare number means megabytes (MiB); only whole MiB are allowed.
         */
        private final DataSize maxMainMemory;

        /**
         * The program's address range: every mapping, reservations included, lies below it. A
         * bare number means megabytes (MiB); only whole MiB are allowed.
         */
        private final DataSize maxAddressSpace;

        /**
         * Memory one request may dirty before it is stopped. A bare number means megabytes
         * (MiB); only whole MiB are allowed.
         */
        private final DataSize maxRequestMemory;

        /**
         * Private memory a request VM keeps after its reset; above it, a reset gives pages back.
         * A bare number means megabytes (MiB); only whole MiB are allowed.
         */
        private final DataSize limitRequestMemory;

        public Limits(@DefaultValue("20s") @DurationUnit(ChronoUnit.SECONDS) Duration maxBootTime,
                @DefaultValue("8s") @DurationUnit(ChronoUnit.SECONDS) Duration maxRequestTime,
                @DefaultValue("8192MB") @DataSizeUnit(DataUnit.MEGABYTES) DataSize maxMainMemory,
                @DefaultValue("131072MB") @DataSizeUnit(DataUnit.MEGABYTES) DataSize maxAddressSpace,
                @DefaultValue("128MB") @DataSizeUnit(DataUnit.MEGABYTES) DataSize maxRequestMemory,
                @DefaultValue("128MB") @DataSizeUnit(DataUnit.MEGABYTES) DataSize limitRequestMemory) {
            this.maxBootTime = maxBootTime;
            this.maxRequestTime = maxRequestTime;
            this.maxMainMemory = maxMainMemory;
            this.maxAddressSpace = maxAddressSpace;
            this.maxRequestMemory = maxRequestMemory;
            this.limitRequestMemory = limitRequestMemory;
        }

        public Duration getMaxBootTime() {
            return this.maxBootTime;
        }

        public Duration getMaxRequestTime() {
            return this.maxRequestTime;
        }

        public DataSize getMaxMainMemory() {
            return this.maxMainMemory;
        }

        public DataSize getMaxAddressSpace() {
            return this.maxAddressSpace;
        }

        public DataSize getMaxRequestMemory() {
            return this.maxRequestMemory;
        }

        public DataSize getLimitRequestMemory() {
            return this.limitRequestMemory;
        }

    }

    /** How the program's standard output and standard error are logged. */
    public static final class Output {

        /**
         * Level at which the lines the program writes to its standard output are logged, on
         * the logger 'kvmserver.guest.stdout'.
         */
        private final LogLevel stdoutLevel;

        /**
         * Level at which the lines the program writes to its standard error are logged, on the
         * logger 'kvmserver.guest.stderr'. Servers write access logs there, so it is not a
         * warning by default.
         */
        private final LogLevel stderrLevel;

        public Output(@DefaultValue("info") LogLevel stdoutLevel, @DefaultValue("info") LogLevel stderrLevel) {
            this.stdoutLevel = stdoutLevel;
            this.stderrLevel = stderrLevel;
        }

        public LogLevel getStdoutLevel() {
            return this.stdoutLevel;
        }

        public LogLevel getStderrLevel() {
            return this.stderrLevel;
        }

    }

}
