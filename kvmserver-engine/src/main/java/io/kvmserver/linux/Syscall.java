package io.kvmserver.linux;

/**
 * The system call being handled on one vCPU: its number and arguments, the process it belongs
 * to, and the effects a handler asks of the vCPU loop (exit, new FS base, a TLB flush).
 *
 * <p>One instance per vCPU is reused for every call, so that dispatching allocates nothing.
 */
public final class Syscall {

    private final Kernel kernel;
    private final HostWaiter waiter;
    private LinuxProcess process;
    private long number;
    private final long[] args = new long[6];

    private boolean exitRequested;
    private int exitStatus;
    private int fatalSignal;
    private boolean segmentBasesChanged;
    private volatile boolean freezeOnListenerWait;
    private boolean freezeRequested;
    private volatile FileDescription listener;
    /** The permission denial this call met, for the trace; null if none. */
    private Denials.Kind deniedKind;
    private String deniedTarget;

    public Syscall(Kernel kernel, LinuxProcess process, HostWaiter waiter) {
        this.kernel = kernel;
        this.process = process;
        this.waiter = waiter;
    }

    public void begin(long nr, long a0, long a1, long a2, long a3, long a4, long a5) {
        this.number = nr;
        args[0] = a0;
        args[1] = a1;
        args[2] = a2;
        args[3] = a3;
        args[4] = a4;
        args[5] = a5;
        deniedKind = null;
        deniedTarget = null;
    }

    public Kernel kernel() {
        return kernel;
    }

    /** Where the call blocks, if it must: the VM's waiter, which its time limit can end. */
    public HostWaiter waiter() {
        return waiter;
    }

    public LinuxProcess process() {
        return process;
    }

    public void setProcess(LinuxProcess process) {
        this.process = process;
        clearEffects();
    }

    public AddressSpace memory() {
        return process.memory();
    }

    public FdTable files() {
        return process.files();
    }

    public long number() {
        return number;
    }

    /** Argument {@code i} as the raw 64-bit register. */
    public long arg(int i) {
        return args[i];
    }

    /** Argument {@code i} as a C {@code int}: the kernel ignores the upper half of the register. */
    public int intArg(int i) {
        return (int) args[i];
    }

    /**
     * Records that the policy denied this call {@code kind} access to {@code target}: counted and
     * logged by the program's {@link Denials}, and shown next to the call in the trace.
     */
    public void deny(Denials.Kind kind, String target) {
        kernel.denials().record(kind, target);
        deniedKind = kind;
        deniedTarget = target;
    }

    /** What the policy denied the current call, or null. */
    public Denials.Kind deniedKind() {
        return deniedKind;
    }

    /** The path or address the current call was denied, or null. */
    public String deniedTarget() {
        return deniedTarget;
    }

    // ---- effects for the vCPU loop ----

    public void requestExit(int status) {
        exitRequested = true;
        exitStatus = status;
    }

    public void requestFatalSignal(int signal) {
        exitRequested = true;
        fatalSignal = signal;
    }

    public boolean exitRequested() {
        return exitRequested;
    }

    public int exitStatus() {
        return exitStatus;
    }

    public int fatalSignal() {
        return fatalSignal;
    }

    public void markSegmentBasesChanged() {
        segmentBasesChanged = true;
    }

    public boolean takeSegmentBasesChanged() {
        boolean v = segmentBasesChanged;
        segmentBasesChanged = false;
        return v;
    }

    /** In the template: a wait on the listening socket freezes the program instead of waiting. */
    public void setFreezeOnListenerWait(boolean value) {
        this.freezeOnListenerWait = value;
    }

    public boolean freezeOnListenerWait() {
        return freezeOnListenerWait;
    }

    /**
     * The program is about to wait for a connection on {@code listeningSocket}: stop here, before
     * the wait is performed.
     */
    public void requestFreeze(FileDescription listeningSocket) {
        freezeRequested = true;
        listener = listeningSocket;
    }

    /** The socket the program last listened on, or null: warmup connects to it. */
    public FileDescription listener() {
        return listener;
    }

    /** Called when the program starts listening on a socket. */
    public void listening(FileDescription socket) {
        listener = socket;
    }

    /** Whether the current call froze the template (without consuming the request). */
    public boolean freezeRequested() {
        return freezeRequested;
    }

    public boolean takeFreezeRequested() {
        boolean v = freezeRequested;
        freezeRequested = false;
        return v;
    }

    public void clearEffects() {
        freezeRequested = false;
        exitRequested = false;
        exitStatus = 0;
        fatalSignal = 0;
        segmentBasesChanged = false;
    }
}
