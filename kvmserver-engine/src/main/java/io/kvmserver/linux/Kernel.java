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
    private final boolean trace;

    public Kernel(SyscallTable table, FileSystemPolicy fileSystem, NetworkPolicy network, GuestConsole console,
            String programHostPath, List<String> environment) {
        this(table, fileSystem, network, console, programHostPath, environment, new Denials());
    }

    /** @param denials where denials are recorded, with the naming and verbosity of the configuration */
    public Kernel(SyscallTable table, FileSystemPolicy fileSystem, NetworkPolicy network, GuestConsole console,
            String programHostPath, List<String> environment, Denials denials) {
        this(table, fileSystem, network, console, programHostPath, environment, denials, false);
    }

    /** @param trace whether every VM of the program logs its system calls ({@link SyscallTrace}) */
    public Kernel(SyscallTable table, FileSystemPolicy fileSystem, NetworkPolicy network, GuestConsole console,
            String programHostPath, List<String> environment, Denials denials, boolean trace) {
        this.trace = trace;
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

    /** Whether the program's VMs log every system call ({@link SyscallTrace}). */
    public boolean tracing() {
        return trace;
    }

    /** What the frozen template listens on, which request VMs may not take over. */
    public ServedEndpoints served() {
        return served;
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
    }

    public String programHostPath() {
        return programHostPath;
    }

    public List<String> environment() {
        return environment;
    }
}
