package io.kvmserver.linux;

import io.kvmserver.host.SyscallNumbers;

/**
 * One thread of the guest program: what Linux keeps per task. Threads take turns on the VM's one
 * vCPU ({@link Scheduler}); while a thread is off it, its CPU state is in {@link #context()}.
 *
 * <p>A thread is RUNNING (on the vCPU), RUNNABLE (waiting for its turn, its context ready to
 * load), PARKED (in a system call that must wait: {@link #parked()} says for what, and how to try
 * the call again), or EXITED.
 */
public final class GuestThread {

    private static final FileDescription[] NO_FILES = new FileDescription[0];
    private static final long[] NO_EPOCHS = new long[0];

    /** Where a thread is. */
    public enum State {
        RUNNING, RUNNABLE, PARKED, EXITED
    }

    private final int tid;
    private final UserContext context;
    private State state = State.RUNNABLE;
    private Parked parked;

    /** Signals this thread blocks ({@code rt_sigprocmask}); bit {@code n - 1} for signal n. */
    private long blocked;
    /** Signals sent to this thread alone ({@code tgkill}, faults, {@code SIGPIPE}), not yet delivered. */
    private final PendingSignals pending;
    private long altStack;
    private long altStackSize;
    private int altStackFlags = SignalState.SS_DISABLE;
    private long clearChildTid;
    private long robustList;
    private long rseqArea;
    private int rseqSignature;
    private long rseqLength;
    /** The mask to put back when a handler returns after {@code rt_sigsuspend} changed it; -1 for none. */
    private long savedMask = -1;
    /** The call a signal interrupted ({@code EINTR}), to start over if the handler says so; -1 for none. */
    private long interruptedCall = -1;

    GuestThread(int tid, UserContext context) {
        this.tid = tid;
        this.context = context;
        this.pending = new PendingSignals();
    }

    private GuestThread(GuestThread o, byte[] spareFpu) {
        this.tid = o.tid;
        this.context = o.context.copy(spareFpu);
        this.state = o.state;
        this.parked = o.parked == null ? null : o.parked.copy();
        this.blocked = o.blocked;
        this.pending = o.pending.copy();
        this.altStack = o.altStack;
        this.altStackSize = o.altStackSize;
        this.altStackFlags = o.altStackFlags;
        this.clearChildTid = o.clearChildTid;
        this.robustList = o.robustList;
        this.rseqArea = o.rseqArea;
        this.rseqSignature = o.rseqSignature;
        this.rseqLength = o.rseqLength;
        this.savedMask = o.savedMask;
        this.interruptedCall = o.interruptedCall;
    }

    /**
     * A copy for a forked process: same state, nothing shared; the FPU state goes into
     * {@code spareFpu} if it fits (see {@link UserContext#copy(byte[])}), null for a new area.
     */
    GuestThread copy(byte[] spareFpu) {
        return new GuestThread(this, spareFpu);
    }

    public int tid() {
        return tid;
    }

    /** The thread's CPU state when it is not on the vCPU. */
    public UserContext context() {
        return context;
    }

    public State state() {
        return state;
    }

    void setState(State state) {
        this.state = state;
    }

    /** Why the thread waits, while {@link State#PARKED}. */
    public Parked parked() {
        return parked;
    }

    void setParked(Parked parked) {
        this.parked = parked;
    }

    public long blocked() {
        return blocked;
    }

    public void setBlocked(long mask) {
        // SIGKILL and SIGSTOP cannot be blocked.
        blocked = mask & ~(SignalState.bit(SignalState.SIGKILL) | SignalState.bit(SignalState.SIGSTOP));
    }

    PendingSignals pending() {
        return pending;
    }

    public long altStack() {
        return altStack;
    }

    public long altStackSize() {
        return altStackSize;
    }

    public int altStackFlags() {
        return altStackFlags;
    }

    public void setAltStack(long sp, long size, int flags) {
        altStack = sp;
        altStackSize = size;
        altStackFlags = flags;
    }

    /**
     * Whether the alternate signal stack is in use at {@code sp}, as Linux's on_sig_stack: never
     * while it is registered with SS_AUTODISARM (a handler that entered it disarmed it).
     */
    public boolean onAltStack(long sp) {
        return (altStackFlags & SignalState.SS_AUTODISARM) == 0 && withinAltStack(sp);
    }

    /** Whether {@code sp} lies on the registered alternate signal stack, whatever its flags. */
    public boolean withinAltStack(long sp) {
        return (altStackFlags & SignalState.SS_DISABLE) == 0 && sp > altStack && sp - altStack <= altStackSize;
    }

    public long clearChildTid() {
        return clearChildTid;
    }

    public void setClearChildTid(long address) {
        this.clearChildTid = address;
    }

    public long robustList() {
        return robustList;
    }

    public void setRobustList(long head) {
        this.robustList = head;
    }

    public long rseqArea() {
        return rseqArea;
    }

    /** The signature {@code rseq} registered: the four bytes before every abort handler. */
    public int rseqSignature() {
        return rseqSignature;
    }

    /** The length the area was registered with: unregistering must give the same. */
    public long rseqLength() {
        return rseqLength;
    }

    public void setRseqArea(long area, long length, int signature) {
        this.rseqArea = area;
        this.rseqLength = length;
        this.rseqSignature = signature;
    }

    void setInterruptedCall(long nr) {
        this.interruptedCall = nr;
    }

    long takeInterruptedCall() {
        long nr = interruptedCall;
        interruptedCall = -1;
        return nr;
    }

    long savedMask() {
        return savedMask;
    }

    void setSavedMask(long mask) {
        this.savedMask = mask;
    }

    @Override
    public String toString() {
        return switch (state) {
            case RUNNING -> "thread " + tid + " running";
            case RUNNABLE -> "thread " + tid + " ready to run";
            case PARKED -> "thread " + tid + " waiting in " + parked;
            case EXITED -> "thread " + tid + " exited";
        };
    }

    /**
     * A system call that must wait: what it waits for, and the call itself, to be tried again
     * once it may go on. Futex waits are woken directly; everything else is retried, which finds
     * out afresh what it waits for (as Linux restarts an interrupted call).
     */
    public static final class Parked {
        final long number;
        final long[] args;
        /** Host fds and events whose readiness may let the call go on. */
        final int[] fds;
        final short[] events;
        final int count;
        /** {@link System#nanoTime()} after which the call gives up (or is retried to do so). */
        final long deadline;
        /** A futex word this thread waits on, or -1. */
        final long futexAddress;
        final int futexBitset;
        /** Signals that end the wait as its result (rt_sigsuspend, rt_sigtimedwait, pause); 0 for none. */
        final long signalSet;
        /** Whether the call is tried again before anything else (after a fork, or a spurious wake). */
        boolean retry;

        Parked(long number, long[] args, int[] fds, short[] events, int count, long deadline, long futexAddress,
                int futexBitset, long signalSet) {
            this.number = number;
            this.args = args;
            this.fds = fds;
            this.events = events;
            this.count = count;
            this.deadline = deadline;
            this.futexAddress = futexAddress;
            this.futexBitset = futexBitset;
            this.signalSet = signalSet;
        }

        /**
         * Files an edge-triggered epoll wait left out of its host poll because it reported them
         * already, with their I/O epochs then: I/O on one of them re-arms its edge, so the call is
         * tried again ({@link Scheduler}).
         */
        FileDescription[] edgeFiles = NO_FILES;
        long[] edgeEpochs = NO_EPOCHS;

        /** Whether the program did I/O on an edge-triggered file this wait left out. */
        boolean edgeRearmed() {
            for (int i = 0; i < edgeFiles.length; i++) {
                if (edgeFiles[i].ioEpoch() != edgeEpochs[i]) {
                    return true;
                }
            }
            return false;
        }

        /** A copy for a forked process: the files are the other VM's, so the copy tries again. */
        Parked copy() {
            Parked c = new Parked(number, args.clone(), fds.clone(), events.clone(), count, deadline, futexAddress,
                    futexBitset, signalSet);
            c.retry = retry || edgeFiles.length > 0;
            return c;
        }

        public long number() {
            return number;
        }

        /** Argument {@code i} of the parked call, as the program passed it. */
        public long arg(int i) {
            return args[i];
        }

        @Override
        public String toString() {
            return SyscallNumbers.name(number) + (futexAddress >= 0 ? "(0x" + Long.toHexString(futexAddress) + ")" : "");
        }
    }
}
