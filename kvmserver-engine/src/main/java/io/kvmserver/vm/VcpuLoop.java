package io.kvmserver.vm;

import com.sun.jna.Memory;
import io.kvmserver.elf.ElfFile;
import io.kvmserver.host.LibC;
import io.kvmserver.host.SyscallNumbers;
import io.kvmserver.kvm.KvmAbi;
import io.kvmserver.kvm.KvmException;
import io.kvmserver.kvm.VcpuExit;
import io.kvmserver.kvm.VcpuFd;
import io.kvmserver.linux.FpuFormat;
import io.kvmserver.linux.GuestCalls;
import io.kvmserver.linux.GuestThread;
import io.kvmserver.linux.Rseq;
import io.kvmserver.linux.HostWaiter;
import io.kvmserver.linux.Kernel;
import io.kvmserver.linux.LinuxProcess;
import io.kvmserver.linux.Scheduler;
import io.kvmserver.linux.SignalFrame;
import io.kvmserver.linux.SignalState;
import io.kvmserver.linux.Siginfo;
import io.kvmserver.linux.Signals;
import io.kvmserver.linux.Syscall;
import io.kvmserver.linux.SyscallTable;
import io.kvmserver.linux.SyscallTrace;
import io.kvmserver.linux.UserContext;
import io.kvmserver.memory.GuestMemory;
import io.kvmserver.x86.CpuSetup;
import io.kvmserver.x86.GuestCallPages;
import io.kvmserver.x86.GuestLayout;
import io.kvmserver.x86.TrapStub;

/**
 * The vCPU loop of one {@link GuestVm}: runs the vCPU and decides what each exit means, a system
 * call to emulate, a fault to deliver or report, a tick of the time slice. It is apart from
 * {@link GuestVm} so that the lifecycle (boot, fork, freeze, reset, close) and the hot path can
 * each be read on their own; it lives as long as its VM, and a reset hands it the new process.
 *
 * <p>The program's threads take turns on the one vCPU ({@link Scheduler}): a thread whose call
 * must wait is parked and another one runs; a time slice ({@link TimeSlice}) makes a thread that
 * computes without calls give the vCPU up, and its tick also fires the program's timers. Signals
 * are delivered whenever a thread is about to return to user mode: after a call, a fault, a
 * switch or a tick ({@link Signals}).
 *
 * <p>The loop allocates nothing per exit of a single-threaded program: registers are read through
 * sync regs, the system call context is reused, and errors are returned as values.
 */
final class VcpuLoop {

    private static final int SIGSEGV = Faults.SIGSEGV;
    private static final int SIGILL = Faults.SIGILL;
    /** How long a thread keeps the vCPU while another one is runnable. */
    static final long TIME_SLICE_NANOS = 10_000_000L;
    /**
     * Whether the last KVM_RUN ended at the trap stub (a system call's doorbell write or the
     * {@code out} of a fault the stub took): then KVM has nothing in flight. Any other end (a
     * kick, a tick) may have cut an exception's injection short. True until the vCPU first runs.
     */
    private boolean lastExitAtTrap = true;
    /**
     * Whether the last exit stopped the vCPU halfway through the PVM syscall entry (a tick or a
     * kick), judged from where it stopped, not from where the host then sends it: a host call
     * returns to the RCX the program chose, which may be inside the entry (a program that rings
     * the doorbell itself), and the entry must then find the page published afresh.
     */
    private boolean stoppedInsideEntry;
    /** How every ephemeral request ends (one immutable result, not one per request). */
    private static final RunResult CONNECTION_CLOSED = RunResult.of(RunResult.Kind.REQUEST_DONE, "connection closed");

    private final VcpuFd vcpu;
    private final GuestMemory memory;
    /** The guest-physical address of the system call doorbell. */
    private final long doorbell;
    private final SyscallTable table;
    private final Syscall syscall;
    private final HostWaiter waiter;
    /** The request VM's dirty pages, or null for a template (which is never reset). */
    private final DirtyPages dirty;
    /** The system call trace, or null when it is off (the option {@code trace}). */
    private final SyscallTrace trace;
    private final FpuFormat fpuFormat;
    private final ContextSwitch cpu;
    /** The calls the syscall entry answers in the guest: published before each entry, performed after. */
    private final GuestCalls calls;
    /** The template's, until its freeze, where the entry runs at CPL 3; null otherwise. */
    private SyscallSiteRewriter rewriter;
    /** Set by {@link #resumeAtFrozenWait}: the next run starts with the frozen wait. */
    private boolean atFrozenWait;
    private final TimeSlice slice = new TimeSlice();
    private final Memory sregs = new Memory(KvmAbi.SREGS_SIZE);
    private final Memory segmentBases = CpuSetup.msrBlock(new long[][] {{CpuSetup.MSR_FS_BASE, 0},
        {CpuSetup.MSR_GS_BASE, 0}});
    private LinuxProcess process;
    private long sliceStart;

    private volatile RunResult.Kind stopKind;
    private volatile String stopDetail;
    private volatile long vcpuThread;
    private long exits;
    private long runNanos;
    private long syscalls;
    /** Calls per system call number (the last slot counts numbers out of range). */
    private final long[] syscallCounts = new long[SyscallNumbers.COUNT + 1];

    VcpuLoop(VcpuFd vcpu, GuestMemory memory, Kernel kernel, LinuxProcess process, HostWaiter waiter,
            DirtyPages dirty, FpuFormat fpuFormat, SyscallTrace trace, boolean answersInGuest) {
        this.vcpu = vcpu;
        this.memory = memory;
        this.doorbell = GuestLayout.doorbellPhysical(memory.size());
        this.table = kernel.table();
        this.process = process;
        this.waiter = waiter;
        this.dirty = dirty;
        this.trace = trace;
        this.syscall = new Syscall(kernel, process, waiter);
        syscall.setTrace(trace);
        this.calls = new GuestCalls(memory, answersInGuest);
        syscall.setGuestCalls(calls);
        this.fpuFormat = fpuFormat;
        this.cpu = new ContextSwitch(vcpu, memory, fpuFormat, answersInGuest);
        syscall.setFpuFormat(fpuFormat);
        syscall.setCpu(new Syscall.ThreadCpu() {
            @Override
            public void capture(UserContext into) {
                cpu.capture(into);
                UserContext own = VcpuLoop.this.process.scheduler().current().context();
                into.fsBase = own.fsBase;
                into.gsBase = own.gsBase;
            }

            @Override
            public long userStackPointer() {
                return cpu.userStackPointer();
            }
        });
    }

    /**
     * Rewrites the call sites in {@code program} (loaded {@code bias} bytes above its addresses),
     * in the code the program maps from files and those it executes, until {@link #sealCallSites}.
     */
    void rewriteCallSites(ElfFile program, long bias) {
        rewriter = new SyscallSiteRewriter(memory);
        rewriter.scanProgram(process.memory(), program, bias);
        process.observeCode(rewriter);
    }

    /** Stops rewriting call sites (the freeze); returns how many were rewritten. */
    int sealCallSites() {
        if (rewriter == null) {
            return 0;
        }
        rewriter.seal();
        process.observeCode(null);
        int count = rewriter.rewritten();
        rewriter = null;
        return count;
    }

    /** The process a reset rebuilt from the template: the next run and every call act on it. */
    void setProcess(LinuxProcess process) {
        this.process = process;
        syscall.setProcess(process);
    }

    Syscall syscall() {
        return syscall;
    }

    long exits() {
        return exits;
    }

    /** Nanoseconds in {@code KVM_RUN}: the program running, and the exits KVM handles itself. */
    long runNanos() {
        return runNanos;
    }

    long syscalls() {
        return syscalls;
    }

    /** Adds the calls per system call number into {@code totals} (racy reads: for metrics). */
    void addSyscallCounts(long[] totals) {
        for (int i = 0; i < syscallCounts.length && i < totals.length; i++) {
            totals[i] += syscallCounts[i];
        }
    }

    /**
     * Makes a running (or the next) {@link #run()} return a result of {@code kind}; from any
     * thread. {@link GuestVm} calls it under its interrupt lock, only while the VM is open.
     */
    void stop(RunResult.Kind kind, String detail) {
        stopDetail = detail;
        stopKind = kind;
        waiter.kick();
        vcpu.requestImmediateExit();
        long thread = vcpuThread;
        if (thread != 0) {
            VcpuInterrupter.kick(thread);
        }
    }

    /**
     * Makes the running {@code KVM_RUN} return if the program queued calls in the guest, so that
     * they are performed now rather than at its next exit (a program computing after a queued
     * write); from any thread, under {@link GuestVm}'s interrupt lock while the VM is open.
     */
    void nudgeIfCallsQueued() {
        long thread = vcpuThread;
        if (thread != 0 && calls.pending()) {
            VcpuInterrupter.kick(thread);
        }
    }

    /** Forgets a stop aimed at the request that just ended (under {@link GuestVm}'s interrupt lock). */
    void clearStop() {
        stopKind = null;
    }

    /**
     * Whether the last KVM_RUN ended at the trap stub (the doorbell's write or an exception
     * entry's {@code out}), with nothing in flight in KVM.
     */
    boolean lastExitAtTrap() {
        return lastExitAtTrap;
    }

    /**
     * The vCPU was just put back at the template's freeze point (a fork or a reset): the next
     * run makes the frozen wait on the host, without the exit that entering the guest would cost.
     */
    void resumeAtFrozenWait() {
        atFrozenWait = true;
    }

    ContextSwitch cpu() {
        return cpu;
    }

    /** Gives the vCPU a reset's FPU state, before the program runs again ({@link ContextSwitch#restoreFpu}). */
    void restoreFpu(Memory image) {
        cpu.restoreFpu(image);
    }

    /** Runs the guest until it exits, crashes, waits for a connection, or is interrupted. */
    RunResult run() {
        VcpuInterrupter.install();
        vcpuThread = LibC.pthread_self();
        sliceStart = System.nanoTime();
        // Taken whatever this run does: only the first entry after a fork or reset may find the
        // vCPU at the frozen wait (a thread resumed later sits on the same iretq, elsewhere).
        boolean frozenWait = atFrozenWait;
        atFrozenWait = false;
        stoppedInsideEntry = false; // a run starts after a host call or a reset: the page is published
        try {
            RunResult result = runUntilDone(frozenWait);
            // A run that ends inside the syscall entry (a time limit, a crash) leaves its
            // committed queue entries to be performed here: the entry never resumes.
            try {
                if (calls.pending()) {
                    syscalls += calls.flush(syscall, syscallCounts);
                }
                if (result.kind() == RunResult.Kind.REQUEST_DONE) {
                    calls.dropUnmaps(); // the reset restores what they would have unmapped
                } else {
                    calls.performUnmaps(syscall); // a template freezes, a VM waits: as Linux left it
                }
            } catch (GuestMemory.LimitExceeded e) {
                // the queue was performed; emptying it would pass the limit, and the VM is done
            }
            return result;
        } finally {
            // Whatever ends the run, an engine failure included (the worker then replaces the
            // VM): console space set aside for the entry is the shared buffer's, not this VM's.
            calls.releaseConsole();
            slice.disarm();
            vcpuThread = 0;
            vcpu.clearImmediateExit();
        }
    }

    /** The run's loop: enters the guest and handles its exits until the run ends. */
    private RunResult runUntilDone(boolean frozenWait) {
        while (true) {
            RunResult.Kind stop = stopKind;
            if (stop != null) {
                return stopped(stop);
            }
            updateTick();
            // The frozen wait, made without entering the guest (see stopAtFrozenSyscall).
            boolean atWait = frozenWait && cpu.stopAtFrozenSyscall();
            frozenWait = false;
            RunResult result;
            try {
                if (!stoppedInsideEntry) { // halfway through, the entry goes on with the page it read
                    calls.publish(process, waiter);
                }
                result = atWait ? emulateSyscall() : enterGuest();
            } catch (GuestMemory.LimitExceeded e) {
                return memoryLimit();
            }
            if (result != null) {
                return result;
            }
        }
    }

    /** Runs the guest to its next exit; null to go on running, or why the run ends. */
    private RunResult enterGuest() {
        cpu.beforeEntry();
        long entered = System.nanoTime();
        VcpuExit exit = vcpu.run();
        runNanos += System.nanoTime() - entered;
        exits++;
        cpu.afterExit();
        stoppedInsideEntry = insideFastEntry();
        // Before anything else the exit leads to (a call, a fault, a stop, a reset): what the
        // program queued happened before it. Not while the syscall entry is halfway through
        // queueing a call (a tick or a kick stopped it there): emptying the queue under it would
        // make it reuse bytes already queued. It resumes, and the next exit performs the queue.
        boolean queued = calls.pending();
        if ((queued || calls.holdsConsole()) && !stoppedInsideEntry) {
            if (queued) {
                syscalls += calls.flush(syscall, syscallCounts);
            }
            calls.releaseConsole(); // held only while the guest runs
        }
        if (calls.unmapsDue() && !closeAtDoorbell(exit)) {
            calls.performUnmaps(syscall); // before the host looks at memory for any other exit
        }
        if (rewriter != null) {
            rewriter.learnRecorded(process.memory());
        }
        lastExitAtTrap = exit.reason() == VcpuExit.Reason.MMIO || exit.reason() == VcpuExit.Reason.IO;
        if (dirty != null) {
            dirty.collect();
            if (dirty.overLimit()) {
                return memoryLimit();
            }
        }
        return onExit(exit);
    }

    /**
     * Whether the exit is the syscall entry's doorbell for a {@code close}: the one call the
     * queued unmaps wait past, since it may end the request ({@link GuestCalls#performUnmaps}).
     */
    private boolean closeAtDoorbell(VcpuExit exit) {
        return exit.reason() == VcpuExit.Reason.MMIO && vcpu.reg(KvmAbi.RIP) == TrapStub.FAST_DOORBELL_RIP
                && vcpu.reg(KvmAbi.RAX) == SyscallNumbers.CLOSE;
    }

    /** Whether the vCPU stopped inside the PVM syscall entry, anywhere but at its doorbell. */
    private boolean insideFastEntry() {
        long rip = vcpu.reg(KvmAbi.RIP);
        return rip >= TrapStub.FAST_SYSCALL_ENTRY && rip < TrapStub.FAST_SYSCALL_END
                && rip != TrapStub.FAST_DOORBELL_RIP;
    }

    private RunResult stopped(RunResult.Kind kind) {
        return RunResult.of(kind, stopDetail + " " + whereStopped());
    }

    /**
     * Where the program was when it was stopped, for the log: the system calls its threads were
     * waiting in (a program stuck on the host is told apart from one spinning), else its RIP.
     */
    private String whereStopped() {
        long rip = vcpu.reg(KvmAbi.RIP);
        StringBuilder b = new StringBuilder();
        GuestThread current = process.scheduler().current();
        if (GuestLayout.inTrapCode(rip) && current != null
                && current.parked() == null && syscall.number() >= 0) {
            b.append("waiting in ").append(SyscallNumbers.name(syscall.number())).append('(').append(syscall.arg(0))
                    .append(", ...)");
        }
        for (GuestThread t : process.scheduler().threads()) {
            if (t.parked() != null) {
                b.append(b.length() == 0 ? "waiting: " : "; ").append("thread ").append(t.tid()).append(" in ")
                        .append(SyscallNumbers.name(t.parked().number())).append('(').append(t.parked().arg(0)).append(", ...)");
            }
        }
        return b.length() == 0 ? "at RIP 0x" + Long.toHexString(rip) : b.toString();
    }

    /**
     * Keeps the time-slice tick running exactly while something needs it: another thread to
     * switch to or parked calls to look after, or a guest timer to fire.
     */
    private void updateTick() {
        boolean wanted = process.scheduler().liveCount() > 1 || process.timers().armed();
        if (wanted != slice.armed()) {
            if (wanted) {
                slice.arm(TIME_SLICE_NANOS);
            } else {
                slice.disarm();
            }
        }
    }

    private RunResult memoryLimit() {
        return RunResult.of(RunResult.Kind.MEMORY_LIMIT, "request dirtied "
                + (dirty.count() * GuestLayout.PAGE_SIZE >> 20) + " MiB of guest memory");
    }

    /** What one exit means: null to go on running, or why the run ends. */
    private RunResult onExit(VcpuExit exit) {
        return switch (exit.reason()) {
            case MMIO -> onMmio((VcpuExit.Mmio) exit);
            case IO -> onPortIo((VcpuExit.Io) exit);
            case INTERRUPTED -> onTick();
            case DIRTY_RING_FULL -> {
                dirty.harvest();
                yield null;
            }
            case SHUTDOWN -> crash(SIGSEGV, "triple fault at RIP 0x" + Long.toHexString(vcpu.reg(KvmAbi.RIP)));
            case HLT -> crash(SIGSEGV, "hlt executed");
            case INTERNAL_ERROR -> crash(SIGILL, "KVM internal error " + ((VcpuExit.InternalError) exit).suberror()
                    + " (instruction KVM cannot emulate)");
            case FAIL_ENTRY -> crash(SIGSEGV, "VM entry failed, hardware reason 0x"
                    + Long.toHexString(((VcpuExit.FailEntry) exit).hardwareReason()));
            case OTHER -> crash(SIGSEGV, "unexpected KVM exit " + ((VcpuExit.Other) exit).exitReason());
        };
    }

    /**
     * An MMIO exit: the syscall entry ringing the doorbell (every system call), or the program
     * touching the doorbell page itself, which Linux would answer with SIGSEGV (nothing is
     * mapped below {@code mmap_min_addr}). The data of the entry's write is the code segment it
     * ran with: CPL 3 on PVM, CPL 0 where {@code syscall} changes privilege.
     */
    private RunResult onMmio(VcpuExit.Mmio mmio) {
        long at = vcpu.reg(KvmAbi.RIP);
        if (mmio.isWrite() && mmio.address() == doorbell && mmio.length() == 2
                && (at == TrapStub.SYSCALL_DOORBELL_RIP || at == TrapStub.FAST_DOORBELL_RIP)) {
            if (mmio.data() == GuestLayout.USER_CS) {
                cpu.stoppedAt(ContextSwitch.Stop.SYSCALL_IN_USER_MODE);
                return emulateSyscall();
            }
            if (mmio.data() == GuestLayout.KERNEL_CS) {
                cpu.stoppedAt(ContextSwitch.Stop.SYSCALL_DIRECT);
                return emulateSyscall();
            }
        }
        // Not the entry's write: finish the access in KVM now (a read would otherwise complete
        // into whatever state the vCPU holds at its next run, the next request's after a reset).
        long rip = vcpu.reg(KvmAbi.RIP);
        vcpu.completePendingExit();
        lastExitAtTrap = false;
        return crash(SIGSEGV, "segmentation fault " + (mmio.isWrite() ? "writing" : "reading") + " 0x"
                + Long.toHexString(GuestLayout.SYSCALL_DOORBELL + (mmio.address() & (GuestLayout.PAGE_SIZE - 1)))
                + " (the engine's system call page) near RIP 0x" + Long.toHexString(rip));
    }

    /** A port I/O exit: only the exception entries make them (an exception, or a stray program's). */
    private RunResult onPortIo(VcpuExit.Io io) {
        int vector = io.port() - TrapStub.PORT_EXCEPTION_BASE;
        if (vector < 0 || vector >= GuestLayout.EXCEPTION_VECTORS) {
            return crash(SIGSEGV, "write to unexpected I/O port 0x" + Integer.toHexString(io.port()));
        }
        long frame = vcpu.reg(KvmAbi.RSP);
        if (frame != GuestLayout.EXCEPTION_FRAME) {
            return crash(SIGSEGV, "exception " + vector + " with a corrupt exception stack");
        }
        long errorCode = memory.getLong(frame);
        long rip = memory.getLong(frame + 8);
        long cs = memory.getLong(frame + 16);
        cpu.stoppedAt(ContextSwitch.Stop.EXCEPTION);
        return fault(vector, errorCode, rip, (cs & 3) == 3);
    }

    /** Emulates the call in the registers; null to go on running, or why the run ends. */
    private RunResult emulateSyscall() {
        syscalls++;
        // Linux reads the number as an int: the upper half of RAX is ignored (1 << 32 | 39 is getpid).
        long nr = (int) vcpu.reg(KvmAbi.RAX);
        syscallCounts[nr >= 0 && nr < SyscallNumbers.COUNT ? (int) nr : SyscallNumbers.COUNT]++;
        if (rewriter != null) {
            rewriter.learn(process.memory(), vcpu.reg(KvmAbi.RCX), nr);
        }
        Scheduler threads = process.scheduler();
        // A wait blocks the host thread only when nothing else could happen meanwhile.
        waiter.setParking(threads.liveCount() > 1 || process.timers().armed());
        syscall.begin(nr, vcpu.reg(KvmAbi.RDI), vcpu.reg(KvmAbi.RSI), vcpu.reg(KvmAbi.RDX),
                vcpu.reg(KvmAbi.R10), vcpu.reg(KvmAbi.R8), vcpu.reg(KvmAbi.R9));
        calls.beforeHostCall();
        int tid = trace != null ? threads.current().tid() : 0;
        long result = table.dispatch(syscall);
        if (calls.unmapsDue() && !waiter.connections().finished()) {
            calls.performUnmaps(syscall); // the close that did not end the request: they wait no more
        }
        if (trace != null) {
            trace.log(tid, syscall, result);
        }
        RunResult.Kind stop = stopKind;
        if (stop != null) {
            // Stopped during the call (a wait cut short): the run ends with the vCPU still in the
            // call, so that the log can say which call the program was in.
            return stopped(stop);
        }
        if (syscall.takeFreezeRequested()) {
            return freezeAt(threads.current());
        }
        if (syscall.exitRequested()) {
            int signal = syscall.fatalSignal();
            int status = syscall.exitStatus();
            syscall.clearEffects();
            return signal != 0 ? killedBy(signal, "raised by the program") : RunResult.exited(status);
        }
        if (syscall.takeThreadExited()) {
            return switchThread();
        }
        GuestThread current = threads.current();
        if (result == Syscall.RESTART) {
            cpu.capture(current.context());
            threads.park(current, syscall.parkedCall());
            return switchThread();
        }
        UserContext replacement = syscall.takeReplacement();
        if (replacement != null) {
            RunResult bad = load(replacement);
            if (bad != null) {
                return bad;
            }
        } else {
            cpu.returnFromSyscall(result);
        }
        if (syscall.takeSegmentBasesChanged()) {
            segmentBases.setLong(8 + 8, current.context().fsBase);
            segmentBases.setLong(8 + 16 + 8, current.context().gsBase);
            vcpu.setMsrs(segmentBases);
        }
        if (waiter.connections().finished()) {
            return CONNECTION_CLOSED;
        }
        if (syscall.takeYield() || threads.othersRunnable() && System.nanoTime() - sliceStart >= TIME_SLICE_NANOS) {
            if (threads.othersRunnable()) {
                cpu.capture(current.context());
                threads.yieldCurrent();
                return switchThread();
            }
        }
        return deliverSignals(current);
    }

    /** Resumes {@code ctx} on the vCPU; a crash when KVM refuses its FPU state (a forged frame). */
    private RunResult load(UserContext ctx) {
        try {
            cpu.load(ctx);
            return null;
        } catch (KvmException e) {
            return crash(SIGSEGV, "invalid FPU state in a signal frame (" + e.getMessage() + ")");
        }
    }

    /**
     * The template reached its wait for connections in {@code t}: it freezes there, with the
     * thread's context back at the {@code syscall} instruction so that every request VM makes the
     * wait again. If another thread could still run, it runs first (the thread tries again
     * later): a template freezes only once all of its start-up work is done.
     */
    private RunResult freezeAt(GuestThread t) {
        cpu.capture(t.context());
        Signals.rewind(t.context(), syscall.number());
        Scheduler threads = process.scheduler();
        if (threads.othersRunnable()) {
            threads.yieldCurrent();
            return switchThread();
        }
        RunResult bad = load(t.context());
        return bad != null ? bad : RunResult.of(RunResult.Kind.WAITING, "waiting for connections in "
                + SyscallNumbers.name(syscall.number()));
    }

    /**
     * The running thread left the vCPU (parked, yielded or exited): the next runnable one gets it,
     * after waiting for one if none is. Ends the run when the wait is cut short (a time limit, a
     * client that hung up) or when the template reaches its freeze point.
     */
    private RunResult switchThread() {
        Scheduler threads = process.scheduler();
        GuestThread next = threads.next();
        while (next == null) {
            int outcome = threads.awaitRunnable(syscall);
            if (outcome == Scheduler.KICKED) {
                if (waiter.connections().finished()) {
                    return CONNECTION_CLOSED;
                }
                RunResult.Kind stop = stopKind;
                return stop != null ? stopped(stop) : RunResult.of(RunResult.Kind.TIMED_OUT, "interrupted");
            }
            if (outcome == Scheduler.FREEZE) {
                syscall.takeFreezeRequested();
                GuestThread t = threads.freezing();
                long nr = t.parked().number();
                threads.beginFreeze(t);
                RunResult bad = load(t.context());
                return bad != null ? bad : RunResult.of(RunResult.Kind.WAITING, "waiting for connections in "
                        + SyscallNumbers.name(nr));
            }
            next = threads.next();
        }
        sliceStart = System.nanoTime();
        if (Signals.hasDeliverable(process, next)) {
            int fatal = Signals.deliver(syscall, next, next.context(), fpuFormat, GuestLayout.USER_CS,
                    GuestLayout.USER_SS);
            if (fatal != Signals.DELIVERED) {
                return killedBy(fatal, "sent to thread " + next.tid());
            }
        } else {
            Signals.returnWithoutSignal(next);
        }
        return load(next.context());
    }

    /**
     * Delivers the running thread's pending signals before it returns to user mode: its context
     * is taken off the vCPU only when there is one.
     */
    private RunResult deliverSignals(GuestThread t) {
        long now = System.nanoTime();
        process.timers().fireDue(process, now);
        if (!Signals.hasDeliverable(process, t)) {
            Signals.returnWithoutSignal(t);
            return null;
        }
        UserContext ctx = t.context();
        cpu.capture(ctx);
        int fatal = Signals.deliver(syscall, t, ctx, fpuFormat, GuestLayout.USER_CS, GuestLayout.USER_SS);
        if (fatal != Signals.DELIVERED) {
            return killedBy(fatal, "sent to the program");
        }
        return load(ctx);
    }

    /**
     * A tick of the time slice (or any other interruption of KVM_RUN): fires due timers, looks
     * after parked calls, and when another thread is runnable and the running one has had its
     * slice, switches. Only in user mode: a tick that finds the vCPU in the trap stub waits for
     * the next one.
     */
    private RunResult onTick() {
        if (stopKind != null || !slice.armed()) {
            return null;
        }
        long rip = vcpu.reg(KvmAbi.RIP);
        if (GuestLayout.inTrapCode(rip)) {
            return null;
        }
        cpu.stoppedAt(ContextSwitch.Stop.USER);
        Scheduler threads = process.scheduler();
        GuestThread current = threads.current();
        boolean others = threads.poll(syscall);
        if (others && System.nanoTime() - sliceStart >= TIME_SLICE_NANOS) {
            cpu.capture(current.context());
            if (!Rseq.abortIfInside(process.memory(), current, current.context())) {
                return killedBy(SIGSEGV, "preempted in a restartable sequence whose descriptor is not valid");
            }
            threads.yieldCurrent();
            return switchThread();
        }
        return deliverSignals(current);
    }

    private RunResult killedBy(int signal, String how) {
        return crash(signal, "killed by " + SignalState.name(signal) + " (" + how + ")");
    }

    /**
     * A CPU exception. In user mode, a handler the program installed for the signal runs (a JIT
     * that catches its own SIGSEGV, a guard page); otherwise the program dies of the signal, with
     * a description of the fault.
     */
    private RunResult fault(int vector, long errorCode, long rip, boolean userMode) {
        if (userMode && ContextSwitch.inFpuRestorePage(rip)) {
            // The program jumped into the engine's FPU restore (executable at CPL 3 on PVM,
            // supervisor-only elsewhere): Linux kills a program that executes below
            // mmap_min_addr with SIGSEGV; its handlers do not run, as for the doorbell, since
            // the restore may have been left halfway (ContextSwitch.afterExit).
            return crash(SIGSEGV, "segmentation fault executing 0x" + Long.toHexString(rip)
                    + " (the engine's FPU restore page)");
        }
        if (vector == Faults.DEBUG && userMode && GuestLayout.inTrapCode(rip)) {
            // A program single-stepping itself (TF) into the syscall entry, through a rewritten
            // site (the entry clears TF only after a few instructions) or by a jump: the steps are
            // the engine's, not the program's (Linux shows none inside a call either). It goes on.
            return null;
        }
        if (userMode && calls.enabled() && (vector == Faults.PAGE_FAULT || vector == Faults.GENERAL_PROTECTION)
                && rip >= TrapStub.FAST_SYSCALL_ENTRY && rip < TrapStub.FAST_SYSCALL_END) {
            // The syscall entry used a bad pointer of the program's: the host makes the call
            // instead (EFAULT), with the registers the entry saved on entry.
            vcpu.setReg(KvmAbi.RAX, memory.getLong(GuestCallPages.SAVED_RAX));
            vcpu.setReg(KvmAbi.RCX, memory.getLong(GuestCallPages.SAVED_RCX));
            vcpu.setReg(KvmAbi.RSI, memory.getLong(GuestCallPages.SAVED_RSI));
            vcpu.setReg(KvmAbi.RDI, memory.getLong(GuestCallPages.SAVED_RDI));
            memory.putLong(GuestLayout.EXCEPTION_FRAME + 8, TrapStub.FAST_SLOW_PATH);
            return null;
        }
        long cr2 = 0;
        if (vector == Faults.PAGE_FAULT) {
            vcpu.getSregs(sregs);
            cr2 = sregs.getLong(KvmAbi.SREGS_CR2);
        }
        GuestThread t = process.scheduler().current();
        if (userMode && t != null) {
            SignalState signals = process.signals();
            boolean mapped = vector == Faults.PAGE_FAULT && process.memory().find(cr2) != null;
            Siginfo probe = Faults.signal(vector, rip, cr2, mapped, null);
            if (probe != null && signals.handler(probe.signo()) != SignalState.SIG_DFL
                    && signals.handler(probe.signo()) != SignalState.SIG_IGN) {
                UserContext ctx = t.context();
                cpu.capture(ctx);
                Siginfo info = Faults.signal(vector, rip, cr2, mapped, ctx.fpu);
                int fatal = Signals.deliverFault(syscall, t, ctx, info, new SignalFrame.Trap(vector, errorCode, cr2),
                        fpuFormat, GuestLayout.USER_CS, GuestLayout.USER_SS);
                if (fatal == Signals.DELIVERED) {
                    return load(ctx);
                }
            }
        }
        return Faults.describe(vector, errorCode, rip, cr2);
    }

    private RunResult crash(int signal, String detail) {
        return RunResult.crashed(signal, detail);
    }

    /** Stops the time-slice timer for good, and gives back any console space still set aside. */
    void close() {
        calls.releaseConsole();
        slice.close();
    }
}
