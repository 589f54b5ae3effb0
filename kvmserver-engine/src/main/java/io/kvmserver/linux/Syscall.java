package io.kvmserver.linux;

import com.sun.jna.Memory;

/**
 * The system call being handled on one vCPU: its number and arguments, the process it belongs
 * to, and the effects a handler asks of the vCPU loop (exit, new FS base, a TLB flush).
 *
 * <p>One instance per vCPU is reused for every call, so that dispatching allocates nothing.
 */
public final class Syscall {

    /**
     * What a handler returns when the call must wait while other threads run: the thread parks
     * (its wait is recorded by the {@link HostWaiter}) and the call is finished later, on its
     * behalf ({@link #retry}). Linux's {@code ERESTARTSYS}; never seen by the guest.
     */
    public static final long RESTART = -512;

    /**
     * The vCPU's view of the calling thread, for the calls that work on its whole CPU state:
     * {@code clone} copies it, {@code rt_sigreturn} replaces it.
     */
    public interface ThreadCpu {
        /** The calling thread's user context as this call will return to it (RAX aside), FPU included. */
        void capture(UserContext into);

        /** The calling thread's user stack pointer. */
        long userStackPointer();
    }

    private final Kernel kernel;
    private final HostWaiter waiter;
    private LinuxProcess process;
    private long number;
    private final long[] args = new long[6];
    private final long[] savedArgs = new long[6];
    // Native buffers for a host socket address and its length: accept and getpeername run on
    // every request, and a JNA Memory per call is a malloc, a free and a tracking-map entry.
    // One call at a time uses them (the VM's vCPU thread makes every host call).
    private final Memory sockaddr = new Memory(SOCKADDR_SCRATCH);
    private final Memory sockaddrLength = new Memory(4);

    private boolean exitRequested;
    private int exitStatus;
    private int fatalSignal;
    private boolean segmentBasesChanged;
    private volatile boolean freezeOnListenerWait;
    private volatile WarmupClients warmupClients;
    private long settleNanos;
    private long bootDeadline = Deadline.NEVER;
    private long settleEnd = Deadline.NEVER;
    /** Calls that reached the host, retries of a parked call not counted again. */
    private long hostCalls;
    /** {@link #hostCalls} when a settling wait last timed out; -1 before. */
    private long tickEndedAt = -1;
    /** That wait's timeout. */
    private long tickNanos;
    private long frozenWaitNanos = -1;
    private boolean freezeRequested;
    private volatile FileDescription listener;
    private ThreadCpu cpu;
    private SyscallTrace trace;
    private FpuFormat fpuFormat;
    private boolean yieldRequested;
    private UserContext replacement;
    private boolean threadExited;
    static final int SOCKADDR_SCRATCH = 128;
    /** The permission denial this call met, for the trace; null if none. */
    private Denials.Kind deniedKind;
    private String deniedTarget;
    private GuestCalls guestCalls;

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

    /** The thread making the call. */
    public GuestThread thread() {
        return process.scheduler().current();
    }

    /** Where calls finished on a parked thread's behalf are traced; null when the trace is off. */
    public void setTrace(SyscallTrace trace) {
        this.trace = trace;
    }

    public void setCpu(ThreadCpu cpu) {
        this.cpu = cpu;
    }

    public ThreadCpu cpu() {
        return cpu;
    }

    public void setFpuFormat(FpuFormat format) {
        this.fpuFormat = format;
    }

    /** The FPU state's format on this VM's CPU, for signal frames. */
    public FpuFormat fpuFormat() {
        return fpuFormat;
    }

    /** {@code sched_yield}: let another runnable thread have the vCPU. */
    public void requestYield() {
        yieldRequested = true;
    }

    public boolean takeYield() {
        boolean v = yieldRequested;
        yieldRequested = false;
        return v;
    }

    /**
     * Finishes a parked thread's call on its behalf (as the scheduler does once what it waits for
     * may have happened): the same handler, with the thread as the caller, waiting only until the
     * deadline the call first had. Returns the call's result, or {@link #RESTART} when it must
     * wait on (the waiter has recorded what for).
     */
    long retry(GuestThread t, long nr, long[] callArgs, long deadline) {
        long savedNumber = number;
        System.arraycopy(args, 0, savedArgs, 0, 6);
        Scheduler scheduler = process.scheduler();
        GuestThread running = scheduler.current();
        boolean parking = waiter.parking();
        scheduler.setCurrentForCall(t);
        waiter.setParking(true);
        waiter.beginRetry(deadline);
        try {
            number = nr;
            System.arraycopy(callArgs, 0, args, 0, 6);
            long result = kernel.table().dispatch(this);
            if (trace != null && result != RESTART) {
                trace.log(t.tid(), this, result);
            }
            return result;
        } finally {
            waiter.endRetry();
            waiter.setParking(parking);
            scheduler.setCurrentForCall(running);
            number = savedNumber;
            System.arraycopy(savedArgs, 0, args, 0, 6);
        }
    }

    public void setProcess(LinuxProcess process) {
        this.process = process;
        clearEffects();
        if (guestCalls != null) {
            guestCalls.reset();
        }
    }

    /** The calls the syscall entry answers in the guest, told of the connections the program accepts. */
    public void setGuestCalls(GuestCalls calls) {
        this.guestCalls = calls;
    }

    GuestCalls guestCalls() {
        return guestCalls;
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

    /** What the call that just returned {@link #RESTART} waits for, as the scheduler parks it. */
    public GuestThread.Parked parkedCall() {
        return waiter.takeRecorded(number, args);
    }

    /** Return from this call into {@code context} instead ({@code rt_sigreturn}): all of it, RAX included. */
    public void replaceContext(UserContext context) {
        replacement = context;
    }

    public UserContext takeReplacement() {
        UserContext r = replacement;
        replacement = null;
        return r;
    }

    /** The calling thread has exited: the vCPU goes to another one. */
    public void markThreadExited() {
        threadExited = true;
    }

    public boolean takeThreadExited() {
        boolean v = threadExited;
        threadExited = false;
        return v;
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
     * In a template whose warmup runs: the only clients it may serve ({@code null} otherwise).
     * Once it is to freeze ({@link #freezeOnListenerWait}) it serves none.
     */
    public void setWarmupClients(WarmupClients clients) {
        this.warmupClients = clients;
    }

    WarmupClients warmupClients() {
        return warmupClients;
    }

    /**
     * In the template: how long it may keep running once it first waits for connections, for the
     * timers it armed to fire there and not in every request VM ({@code settle-time}), and when
     * its boot time runs out ({@link System#nanoTime()}; the settle time included), of which the
     * settling takes at most half of what is left, so that a program busy when it ends has time
     * to come back to its wait.
     */
    public void settleBeforeFreeze(long nanos, long bootEndsAt) {
        settleNanos = nanos;
        bootDeadline = bootEndsAt;
        settleEnd = Deadline.NEVER;
    }

    /**
     * A call reached the host (the system call table counts it; not a retry of a parked one).
     * Only a template that may settle needs the count: a request VM does nothing here.
     */
    void countHostCall() {
        if (settleNanos != 0 && !waiter.retrying()) {
            hostCalls++;
        }
    }

    /** A settling wait of {@code timeoutNanos} timed out: a timer of the program's is due, and it runs now. */
    void settleTickEnded(long timeoutNanos) {
        tickEndedAt = hostCalls;
        tickNanos = timeoutNanos;
    }

    /**
     * Whether the program, after its last settling wait timed out, came straight back to wait
     * for at least half as long again without another call reaching the host: a periodic tick
     * with nothing to do (a poll interval), which settling longer would only repeat. A shorter
     * wait is the rest of a timer that woke early (event loops round their timers), not a tick.
     */
    boolean settledQuietly(long timeoutNanos) {
        return tickEndedAt >= 0 && hostCalls == tickEndedAt + 1 && timeoutNanos >= tickNanos / 2;
    }

    /**
     * The template freezes in a wait for connections with a timer of the program's due at
     * {@code deadline}: the wait's own timeout, another thread's timed wait, or a timer it armed.
     */
    void freezesInWaitUntil(long deadline) {
        frozenWaitNanos = Deadline.remaining(deadline);
    }

    /**
     * How long after the freeze a timer of the program's was due ({@link #freezesInWaitUntil}),
     * which every request VM started later runs, in nanoseconds; -1 when none was.
     */
    public long frozenWaitNanos() {
        return frozenWaitNanos;
    }

    /**
     * Whether a template at its wait for connections, which would block until {@code deadline},
     * runs the wait instead of freezing: the wait ends (a timer of the program's is due) within the
     * settle time, counted from its first wait for connections.
     */
    boolean settlesUntil(long deadline) {
        if (settleNanos == 0 || deadline == Deadline.NEVER) {
            return false;
        }
        if (settleEnd == Deadline.NEVER) {
            long now = System.nanoTime();
            settleEnd = now + Math.min(settleNanos, Math.max(0, (bootDeadline - now) / 2));
        }
        return deadline - settleEnd <= 0;
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

    /** Whether a freeze was requested, without taking the request. */
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
        replacement = null;
        threadExited = false;
        yieldRequested = false;
    }

    /** A native buffer of {@link #SOCKADDR_SCRATCH} bytes for a host call's socket address, valid during this call. */
    Memory sockaddrScratch() {
        return sockaddr;
    }

    /** A native buffer of 4 bytes for a host call's {@code socklen_t}, valid during this call. */
    Memory sockaddrLengthScratch() {
        return sockaddrLength;
    }
}
