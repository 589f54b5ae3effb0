package io.kvmserver.autoconfigure;

import io.kvmserver.autoconfigure.KvmServerProperties.Limits;
import io.kvmserver.autoconfigure.KvmServerProperties.Output;
import io.kvmserver.autoconfigure.KvmServerProperties.Permissions;
import io.kvmserver.autoconfigure.KvmServerProperties.Route;
import io.kvmserver.autoconfigure.KvmServerProperties.VolumeProperties;
import io.kvmserver.autoconfigure.KvmServerProperties.Warmup;
import io.kvmserver.config.InvalidOptionException;
import io.kvmserver.config.KvmServerOptions;
import io.kvmserver.config.Option;
import io.kvmserver.config.OptionNaming;
import io.kvmserver.config.Volume;
import java.util.ArrayList;
import java.util.List;

/**
 * The settings of one kvmserver: those under {@code kvmserver.*} for the application's default
 * server ({@link KvmServerProperties}), and the same under {@code kvmserver.servers.<name>.*} for
 * each named server ({@link KvmServerProperties.Server}). Every setting of the C++ kvmserver's
 * command line has a property here, with the same default.
 *
 * <p>The settings are described once, in the engine's catalog ({@link Option}); the javadoc of
 * each property repeats the catalog's description (the configuration processor reads it from
 * here), followed by what a bare number means and by what is particular to Spring Boot, and a
 * test checks the generated metadata against the catalog.
 */
public abstract class KvmServerSettings {

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

    /**
     * Whether to log only the system calls that reach the host, as the trace logs them: where calls
     * are answered in the guest (nested PVM hosts) they are left out, and still answered there, so
     * the log shows what a request costs in exits. The logger is 'io.kvmserver.trace'.
     */
    private final boolean traceHostCalls;

    /** Requests sent to the program before its template is frozen. */
    private final Warmup warmup;

    /** What the guest may read, write, see and connect to. */
    private final Permissions permissions;

    /** Time and memory limits. */
    private final Limits limits;

    /** How the program's output is logged. */
    private final Output output;

    /** Requests of the application that the program serves, through its route address. */
    private final Route route;

    KvmServerSettings(boolean enabled, String program, List<String> args, String cwd, List<String> env, int threads,
            boolean ephemeral, boolean ephemeralKeepWorkingMemory, boolean verbose, boolean trace,
            boolean traceHostCalls, Warmup warmup,
            Permissions permissions, Limits limits, Output output, Route route) {
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
        this.traceHostCalls = traceHostCalls;
        this.warmup = warmup;
        this.permissions = permissions;
        this.limits = limits;
        this.output = output;
        this.route = route;
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

    public boolean isTraceHostCalls() {
        return this.traceHostCalls;
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

    public Route getRoute() {
        return this.route;
    }

    /** An HTTP field name: a token of RFC 9110's tchar. */
    private static final java.util.regex.Pattern HEADER_NAME =
            java.util.regex.Pattern.compile("[!#$%&'*+.^_`|~0-9A-Za-z-]+");

    /**
     * Checks these settings with the engine's rules, naming them as {@code naming} does; the
     * program is checked as written (the lifecycle resolves it later).
     * @throws InvalidOptionException for the first setting the engine refuses
     */
    void validate(ServerNaming naming) {
        toOptions(this.program, this.args, List.of(), naming).build();
        boolean noAddress = this.route.getAddress() == null || this.route.getAddress().isEmpty();
        if (!this.route.getPaths().isEmpty() && noAddress) {
            throw new InvalidOptionException(Option.ROUTE_ADDRESS, naming.nameOf(Option.ROUTE_ADDRESS),
                    naming.nameOf(Option.ROUTE_ADDRESS) + " must be set to the address the program listens on (for"
                            + " example 127.0.0.1:8000) when " + naming.property("route.paths") + " is set",
                    null);
        }
        if (this.route.getMaxWait().isNegative()) {
            throw new InvalidOptionException(Option.ROUTE_ADDRESS, naming.property("route.max-wait"),
                    naming.property("route.max-wait") + " must not be negative, got " + this.route.getMaxWait(), null);
        }
        if (this.route.getMaxWait().compareTo(KvmServerOptions.MAX_DURATION) > 0) {
            throw new InvalidOptionException(Option.ROUTE_ADDRESS, naming.property("route.max-wait"),
                    naming.property("route.max-wait") + " must be at most " + KvmServerOptions.MAX_DURATION.toDays() / 365
                            + " years, got " + this.route.getMaxWait(), null);
        }
        if (this.route.getMaxBodySize().isNegative()) {
            throw new InvalidOptionException(Option.ROUTE_ADDRESS, naming.property("route.max-body-size"),
                    naming.property("route.max-body-size") + " must not be negative, got "
                            + this.route.getMaxBodySize(), null);
        }
        if (this.route.getMaxWaiting() < 0) {
            throw new InvalidOptionException(Option.ROUTE_ADDRESS, naming.property("route.max-waiting"),
                    naming.property("route.max-waiting") + " must not be negative, got "
                            + this.route.getMaxWaiting(), null);
        }
        if (this.route.getMaxBufferedSize().isNegative()) {
            throw new InvalidOptionException(Option.ROUTE_ADDRESS, naming.property("route.max-buffered-size"),
                    naming.property("route.max-buffered-size") + " must not be negative, got "
                            + this.route.getMaxBufferedSize(), null);
        }
        if (this.route.isRequestBuffering()
                && this.route.getMaxBufferedSize().compareTo(this.route.getMaxBodySize()) < 0) {
            throw new InvalidOptionException(Option.ROUTE_ADDRESS, naming.property("route.max-buffered-size"),
                    naming.property("route.max-buffered-size") + " must be at least "
                            + naming.property("route.max-body-size") + " (" + this.route.getMaxBodySize()
                            + ") while request bodies are read whole, got " + this.route.getMaxBufferedSize()
                            + ": a body of the largest size would never fit", null);
        }
        for (String header : this.route.getSensitiveHeaders()) {
            if (!HEADER_NAME.matcher(header.strip()).matches()) {
                throw new InvalidOptionException(Option.ROUTE_ADDRESS, naming.property("route.sensitive-headers"),
                        naming.property("route.sensitive-headers") + ": '" + header + "' is not a header name (list"
                                + " them separated by commas, as in 'Authorization,Cookie')", null);
            }
        }
        for (String path : this.route.getPaths()) {
            if (!path.startsWith("/")) {
                throw new InvalidOptionException(Option.ROUTE_ADDRESS, naming.property("route.paths"),
                        naming.property("route.paths") + " '" + path + "' must start with '/', as in '/render/**'",
                        null);
            }
        }
    }

    /**
     * The engine configuration these settings describe, named in Spring Boot's terms, not yet
     * validated: customizers may still change it, and {@link KvmServerOptions.Builder#build()}
     * then reports a problem with the property's name.
     * @param program the program's host path (this configuration's program, resolved)
     * @param args the program's arguments (resources resolved)
     * @param extraReadable host paths the guest must be able to read in addition to
     * {@code allow-read}: the extracted classpath resources
     * @return the engine's options, before customizers
     * @throws InvalidOptionException for a volume that is not valid
     */
    public KvmServerOptions.Builder toOptions(String program, List<String> args, List<String> extraReadable) {
        return toOptions(program, args, extraReadable, ServerNaming.DEFAULT);
    }

    KvmServerOptions.Builder toOptions(String program, List<String> args, List<String> extraReadable,
            ServerNaming naming) {
        List<String> allowRead = new ArrayList<>(this.permissions.getAllowRead());
        if (!this.permissions.isAllowAll()) {
            allowRead.addAll(extraReadable);
        }
        KvmServerOptions.Builder builder = KvmServerOptions.builder()
            .naming(naming.forOptions())
            .program((program != null) ? program : "")
            .args(args)
            .env(this.env)
            .threads(this.threads)
            .ephemeral(this.ephemeral)
            .ephemeralKeepWorkingMemory(this.ephemeralKeepWorkingMemory)
            .verbose(this.verbose)
            .trace(this.trace)
            .traceHostCalls(this.traceHostCalls)
            .warmup(this.warmup.getCount())
            .warmupPath(this.warmup.getPath())
            .settleTime(this.warmup.getSettleTime())
            .allowAll(this.permissions.isAllowAll())
            .allowRead(allowRead)
            .allowWrite(this.permissions.getAllowWrite())
            .allowEnv(this.permissions.getAllowEnv())
            .allowNet(this.permissions.isAllowNet())
            .allowConnect(this.permissions.getAllowConnect())
            .allowListen(this.permissions.getAllowListen())
            .routeAddress((this.route.getAddress() != null) ? this.route.getAddress() : "")
            .volumes(volumes(this.permissions.getVolumes(), naming))
            .maxBootTime(this.limits.getMaxBootTime())
            .maxRequestTime(this.limits.getMaxRequestTime())
            .maxMainMemory(this.limits.getMaxMainMemory().toBytes())
            .maxAddressSpace(this.limits.getMaxAddressSpace().toBytes())
            .maxRequestMemory(this.limits.getMaxRequestMemory().toBytes())
            .limitRequestMemory(this.limits.getLimitRequestMemory().toBytes());
        if (this.cwd != null) {
            builder.cwd(this.cwd);
        }
        return builder;
    }

    private static List<Volume> volumes(List<VolumeProperties> volumes, OptionNaming naming) {
        List<Volume> result = new ArrayList<>();
        for (int i = 0; i < volumes.size(); i++) {
            VolumeProperties volume = volumes.get(i);
            String name = naming.nameOf(Option.VOLUME) + "[" + i + "]";
            for (String part : new String[] { "host", "guest" }) {
                String value = part.equals("host") ? volume.getHost() : volume.getGuest();
                if (value == null || value.isBlank()) {
                    throw new InvalidOptionException(Option.VOLUME, name + "." + part, name + "." + part
                            + " must be set: the " + part + " path of the volume", null);
                }
            }
            try {
                result.add(new Volume(volume.getHost(), volume.getGuest(), volume.getMode().isWritable()));
            }
            catch (IllegalArgumentException ex) {
                throw new InvalidOptionException(Option.VOLUME, name, name + ": " + ex.getMessage(), null);
            }
        }
        return result;
    }

}
