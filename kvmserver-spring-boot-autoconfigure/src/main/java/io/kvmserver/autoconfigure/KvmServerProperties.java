package io.kvmserver.autoconfigure;

import io.kvmserver.config.InvalidOptionException;
import io.kvmserver.config.KvmServerOptions;
import io.kvmserver.config.Option;
import io.kvmserver.config.OptionNaming;
import java.time.Duration;
import java.time.temporal.ChronoUnit;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;
import org.springframework.boot.convert.DataSizeUnit;
import org.springframework.boot.convert.DurationUnit;
import org.springframework.boot.logging.LogLevel;
import org.springframework.util.unit.DataSize;
import org.springframework.util.unit.DataUnit;

/**
 * Configuration of the kvmservers run by the application, under {@code kvmserver.*}: the
 * application's default server, configured right here, and any number of named servers under
 * {@code kvmserver.servers.<name>.*}, each with the same settings ({@link KvmServerSettings}).
 *
 * <p>Instances are immutable and valid: the constructor checks every server with the engine's own
 * rules ({@link KvmServerOptions}), which name settings by these properties
 * ({@link OptionNaming#SPRING_BOOT}, {@link ServerNaming} for a named server), so that a mistake
 * stops the application while it binds its configuration, before the web server starts. Unknown
 * {@code kvmserver.*} keys are refused, like unknown flags and file keys.
 */
@ConfigurationProperties(prefix = "kvmserver", ignoreUnknownFields = false)
public final class KvmServerProperties extends KvmServerSettings {

    /**
     * The properties that exist only in Spring Boot: every other {@code kvmserver.*} property
     * is the Spring name of a setting of the catalog.
     */
    public static final List<String> SPRING_ONLY = List.of("kvmserver.enabled", "kvmserver.output.stdout-level",
            "kvmserver.output.stderr-level", "kvmserver.route.paths", "kvmserver.route.max-wait", "kvmserver.route.max-waiting",
            "kvmserver.route.request-buffering", "kvmserver.route.max-body-size", "kvmserver.route.max-buffered-size",
            "kvmserver.route.sensitive-headers",
            "kvmserver.servers");

    /**
     * Further servers, by name (lower-case letters, digits and hyphens), each with the same
     * settings as the default server: 'kvmserver.servers.render.program' and so on.
     */
    private final Map<String, Server> servers;

    public KvmServerProperties(@DefaultValue("true") boolean enabled, String program, @DefaultValue List<String> args,
            String cwd, @DefaultValue List<String> env, @DefaultValue("1") int threads,
            @DefaultValue("false") boolean ephemeral, @DefaultValue("true") boolean ephemeralKeepWorkingMemory,
            @DefaultValue("false") boolean verbose, @DefaultValue("false") boolean trace,
            @DefaultValue("false") boolean traceHostCalls, @DefaultValue Warmup warmup, @DefaultValue Permissions permissions, @DefaultValue Limits limits, @DefaultValue Output output,
            @DefaultValue Route route, @DefaultValue Map<String, Server> servers) {
        super(enabled, program, args, cwd, env, threads, ephemeral, ephemeralKeepWorkingMemory, verbose, trace,
                traceHostCalls, warmup, permissions, limits, output, route);
        this.servers = new LinkedHashMap<>(servers);
        if (hasDefaultServer()) {
            validate(ServerNaming.DEFAULT);
        }
        this.servers.forEach((name, server) -> {
            if (!ServerNaming.isValidName(name) || (name.equals(ServerNaming.DEFAULT_NAME) && hasDefaultServer())) {
                throw new InvalidOptionException(Option.PROGRAM, "kvmserver.servers." + name,
                        "kvmserver.servers." + name + ": '" + name + "' cannot name a server: use lower-case letters,"
                                + " digits and inner hyphens"
                                + (name.equals(ServerNaming.DEFAULT_NAME) ? ", and not 'default', which is the name of"
                                        + " the server configured at kvmserver.*" : ""),
                        null);
            }
            if (enabled && server.isEnabled()) {
                server.validate(ServerNaming.of(name));
            }
        });
    }

    /**
     * Whether the settings at {@code kvmserver.*} configure a server: the program is set, or no
     * named server is (then a missing program is the mistake to report).
     */
    public boolean hasDefaultServer() {
        return isEnabled() && (getProgram() != null || this.servers.isEmpty());
    }

    public Map<String, Server> getServers() {
        return this.servers;
    }

    /**
     * The servers to run, by name, in configuration order: the default server first (named
     * {@value ServerNaming#DEFAULT_NAME}), then every enabled named server; none when
     * {@code kvmserver.enabled} is false.
     */
    public Map<String, KvmServerSettings> enabledServers() {
        Map<String, KvmServerSettings> enabled = new LinkedHashMap<>();
        if (!isEnabled()) {
            return enabled;
        }
        if (hasDefaultServer()) {
            enabled.put(ServerNaming.DEFAULT_NAME, this);
        }
        this.servers.forEach((name, server) -> {
            if (server.isEnabled()) {
                enabled.put(name, server);
            }
        });
        return enabled;
    }

    /** A named server's settings: the same as the default server's, under {@code kvmserver.servers.<name>}. */
    public static final class Server extends KvmServerSettings {

        public Server(@DefaultValue("true") boolean enabled, String program, @DefaultValue List<String> args,
                String cwd, @DefaultValue List<String> env, @DefaultValue("1") int threads,
                @DefaultValue("false") boolean ephemeral, @DefaultValue("true") boolean ephemeralKeepWorkingMemory,
                @DefaultValue("false") boolean verbose, @DefaultValue("false") boolean trace,
                @DefaultValue("false") boolean traceHostCalls, @DefaultValue Warmup warmup, @DefaultValue Permissions permissions, @DefaultValue Limits limits, @DefaultValue Output output,
                @DefaultValue Route route) {
            super(enabled, program, args, cwd, env, threads, ephemeral, ephemeralKeepWorkingMemory, verbose, trace,
                    traceHostCalls, warmup, permissions, limits, output, route);
        }

    }

    /** Warmup requests, sent once the program listens and before the template is frozen. */
    public static final class Warmup {

        /** Number of requests sent to the program once it listens, before its template is frozen. */
        private final int count;

        /** HTTP path of the warmup requests. */
        private final String path;

        /**
         * How long the template may keep running once it waits for connections (after any
         * warmup), for the timers it armed to fire once there instead of in every request VM; it
         * is frozen at its first wait for connections with no timer due within that time, or after a
         * poll interval that did nothing. The boot may take max-boot-time plus this, and settling
         * at most half of the boot time left; 0 freezes it at its first wait. A bare number means
         * seconds.
         */
        private final Duration settleTime;

        public Warmup(@DefaultValue("0") int count, @DefaultValue("/") String path,
                @DefaultValue("0s") @DurationUnit(ChronoUnit.SECONDS) Duration settleTime) {
            this.count = count;
            this.path = path;
            this.settleTime = settleTime;
        }

        public int getCount() {
            return this.count;
        }

        public String getPath() {
            return this.path;
        }

        public Duration getSettleTime() {
            return this.settleTime;
        }

    }

    /**
     * The guest's sandbox. Nothing is allowed unless listed; a program that must listen needs
     * 'allow-listen' (or 'allow-net'), and a dynamically linked one needs to read its libraries.
     */
    public static final class Permissions {

        /**
         * Whether to lift every restriction on files, environment and network, except the
         * engine's own (the route's directory, the JVM's /proc entries); excludes the other
         * permissions.
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
         * Memory the program may map readable, writable or executable, or from a file; address
         * space it only reserves (PROT_NONE, anonymous) does not count, and only the pages it
         * touches use host memory. A bare number means megabytes (MiB); only whole MiB are allowed.
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


    /**
     * Requests of the application that the program serves: they are forwarded, through the
     * application's filters (security, tracing, error handling), to a request VM of the program,
     * which listens privately on the route address (no TCP port, no listen permission).
     */
    public static final class Route {

        /**
         * Path patterns of the requests forwarded to the program, such as '/render/**' (Spring's
         * path pattern syntax); the path is forwarded as it is. Needs 'route.address'.
         */
        private final List<String> paths;

        /**
         * The address:port the program listens on, served privately: the engine backs that
         * listening socket with a unix socket of its own instead of a TCP port, so the program
         * needs no listen permission for it and only the engine's clients (the application's
         * routes) reach it.
         */
        private final String address;

        /**
         * How long a routed request waits for a free request VM before it is answered 503
         * Service Unavailable. A bare number means seconds.
         */
        private final Duration maxWait;

        /**
         * How many routed requests may wait for a free request VM at once; more are answered 503
         * Service Unavailable at once. Each waiting request holds a thread of the application's
         * web server, so the routes' waits together must leave threads for everything else the
         * application serves (its other routes, its controllers, its health probes).
         */
        private final int maxWaiting;

        /**
         * Whether a request body is read whole before a request VM is taken: in memory up to
         * 64 KiB, beyond that in a temporary file that has no name (no guest, and no other
         * process, can open it), gone with the request. A client that uploads slowly then holds
         * no request VM that other clients wait for, and the program gets the body's
         * Content-Length even when the client sent it chunked. Set it to false for programs that
         * answer while the body still arrives: the body then streams to the program as it comes,
         * and a client that sends it slowly holds its request VM up to 'limits.max-request-time'.
         */
        private final boolean requestBuffering;

        /**
         * The largest request body a routed request may have: a larger one is answered 413
         * Content Too Large before a request VM is taken (a body of unknown length as soon as it
         * grows past it). With request buffering, it bounds the disk one request may use. A bare
         * number means megabytes.
         */
        private final DataSize maxBodySize;

        /**
         * The most the request bodies being read whole (request buffering) may hold together, in
         * memory and in their temporary files (in /dev/shm, which is memory, where it exists): a
         * request whose body would pass it is answered 503 Service Unavailable before a request
         * VM is taken, and its client may try again. Bounds what many or slow uploaders make the
         * host keep; at least 'route.max-body-size'. A bare number means megabytes.
         */
        private final DataSize maxBufferedSize;

        /**
         * Headers that never pass the route, either way: the program does not see the client's
         * credentials (Spring Security has checked them already) or the application's cookies,
         * and cannot set what holds for the application's whole site (its cookies, HSTS, another
         * host for its connections, a wipe of its storage, a service worker's scope). The list
         * replaces the default one (a default it leaves out is logged at start); set it to an
         * empty list to pass them all.
         */
        private final List<String> sensitiveHeaders;

        public Route(@DefaultValue List<String> paths, String address,
                @DefaultValue("5s") @DurationUnit(ChronoUnit.SECONDS) Duration maxWait,
                @DefaultValue("20") int maxWaiting,
                @DefaultValue("true") boolean requestBuffering,
                @DefaultValue("10MB") @DataSizeUnit(DataUnit.MEGABYTES) DataSize maxBodySize,
                @DefaultValue("100MB") @DataSizeUnit(DataUnit.MEGABYTES) DataSize maxBufferedSize,
                @DefaultValue({ "Authorization", "Proxy-Authorization", "Cookie", "Set-Cookie",
                        "Strict-Transport-Security", "Alt-Svc", "Clear-Site-Data",
                        "Service-Worker-Allowed" }) List<String> sensitiveHeaders) {
            this.paths = List.copyOf(paths);
            this.address = address;
            this.maxWait = maxWait;
            this.maxWaiting = maxWaiting;
            this.requestBuffering = requestBuffering;
            this.maxBodySize = maxBodySize;
            this.maxBufferedSize = maxBufferedSize;
            this.sensitiveHeaders = List.copyOf(sensitiveHeaders);
        }

        public List<String> getPaths() {
            return this.paths;
        }

        public String getAddress() {
            return this.address;
        }

        public Duration getMaxWait() {
            return this.maxWait;
        }

        public int getMaxWaiting() {
            return this.maxWaiting;
        }

        public boolean isRequestBuffering() {
            return this.requestBuffering;
        }

        public DataSize getMaxBodySize() {
            return this.maxBodySize;
        }

        public DataSize getMaxBufferedSize() {
            return this.maxBufferedSize;
        }

        public List<String> getSensitiveHeaders() {
            return this.sensitiveHeaders;
        }

    }

}
