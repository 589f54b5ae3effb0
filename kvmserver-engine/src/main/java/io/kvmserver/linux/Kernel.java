package io.kvmserver.linux;

import io.kvmserver.sandbox.FileSystemPolicy;
import io.kvmserver.sandbox.NetworkPolicy;
import java.util.List;

/**
 * What every VM of one program shares and never changes: the syscall table, the permission
 * policies, the console, the program's identity. Per-VM state is in {@link LinuxProcess}.
 */
public final class Kernel implements AutoCloseable {

    private final SyscallTable table;
    private final FileSystemPolicy fileSystem;
    private final NetworkPolicy network;
    private final BufferedConsole console;
    private final String programHostPath;
    private final List<String> environment;
    private final Denials denials;
    private final ServedEndpoints served = new ServedEndpoints();
    private final Tracing tracing;
    private final RouteSocket route;

    /** Which system calls the program's VMs log ({@link SyscallTrace}). */
    public enum Tracing {
        /** None. */
        OFF,
        /** Every call the program makes: no call is answered in the guest. */
        ALL,
        /** The calls that reach the host: those answered in the guest on PVM stay there, unlogged. */
        HOST_CALLS
    }

    public Kernel(SyscallTable table, FileSystemPolicy fileSystem, NetworkPolicy network, GuestConsole console,
            String programHostPath, List<String> environment) {
        this(table, fileSystem, network, console, programHostPath, environment, new Denials());
    }

    /** @param denials where denials are recorded, with the naming and verbosity of the configuration */
    public Kernel(SyscallTable table, FileSystemPolicy fileSystem, NetworkPolicy network, GuestConsole console,
            String programHostPath, List<String> environment, Denials denials) {
        this(table, fileSystem, network, console, programHostPath, environment, denials, Tracing.OFF, null);
    }

    /**
     * @param tracing which system calls every VM of the program logs ({@link SyscallTrace})
     * @param route the address the engine serves privately, or null (see {@link RouteSocket})
     */
    public Kernel(SyscallTable table, FileSystemPolicy fileSystem, NetworkPolicy network, GuestConsole console,
            String programHostPath, List<String> environment, Denials denials, Tracing tracing, RouteSocket route) {
        this.tracing = tracing;
        this.route = route;
        this.denials = denials;
        this.table = table;
        this.fileSystem = fileSystem;
        this.network = network;
        this.console = BufferedConsole.of(console);
        this.programHostPath = programHostPath;
        this.environment = List.copyOf(environment);
    }

    public SyscallTable table() {
        return table;
    }

    public FileSystemPolicy fileSystem() {
        return fileSystem;
    }

    /** Permission denials of every VM of this program. */
    public Denials denials() {
        return denials;
    }

    /** Whether the program's VMs log system calls ({@link SyscallTrace}): every one, or those that reach the host. */
    public boolean tracing() {
        return tracing != Tracing.OFF;
    }

    /** Whether the trace leaves out the calls answered in the guest, which stay answered there. */
    public boolean tracesHostCallsOnly() {
        return tracing == Tracing.HOST_CALLS;
    }

    /** What the frozen template listens on, which request VMs may not take over. */
    public ServedEndpoints served() {
        return served;
    }

    /** The route address, served privately, or null when the program's listener is served on the network. */
    public RouteSocket route() {
        return route;
    }

    public NetworkPolicy network() {
        return network;
    }

    /** Guest output: bounded, so that no VM ever blocks on the real console. */
    public BufferedConsole console() {
        return console;
    }

    /** Flushes guest output and releases what the policies hold; once no VM of the program runs. */
    @Override
    public void close() {
        console.close();
        fileSystem.close();
        if (route != null) {
            route.close();
        }
    }

    public String programHostPath() {
        return programHostPath;
    }

    public List<String> environment() {
        return environment;
    }
}
