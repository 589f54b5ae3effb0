package io.kvmserver.vm;

import io.kvmserver.memory.GuestMemory;

import com.sun.jna.Memory;
import io.kvmserver.config.Option;
import io.kvmserver.elf.ElfException;
import io.kvmserver.elf.ElfFile;
import io.kvmserver.elf.ElfLoader;
import io.kvmserver.elf.InitialStack;
import io.kvmserver.elf.LoadedProgram;
import io.kvmserver.kvm.Kvm;
import io.kvmserver.kvm.KvmAbi;
import io.kvmserver.host.LibC;
import io.kvmserver.kvm.VcpuExit;
import io.kvmserver.kvm.VcpuFd;
import io.kvmserver.kvm.VmFd;
import io.kvmserver.linux.AddressSpace;
import io.kvmserver.linux.FdTable;
import io.kvmserver.linux.HostWaiter;
import io.kvmserver.linux.Kernel;
import io.kvmserver.linux.LinuxProcess;
import io.kvmserver.host.SyscallNumbers;
import io.kvmserver.linux.FpuFormat;
import io.kvmserver.linux.GuestThread;
import io.kvmserver.linux.Scheduler;
import io.kvmserver.linux.SignalFrame;
import io.kvmserver.linux.SignalState;
import io.kvmserver.linux.Siginfo;
import io.kvmserver.linux.Signals;
import io.kvmserver.linux.Syscall;
import io.kvmserver.linux.SyscallTable;
import io.kvmserver.linux.UserContext;
import io.kvmserver.kvm.KvmException;
import io.kvmserver.linux.SyscallTrace;
import io.kvmserver.vdso.GuestClock;
import io.kvmserver.vdso.TimePage;
import io.kvmserver.vdso.VdsoImage;
import io.kvmserver.x86.CpuSetup;
import io.kvmserver.x86.GuestLayout;
import io.kvmserver.x86.PageTables;
import io.kvmserver.x86.TrapStub;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One KVM virtual machine with one vCPU running one Linux program, and the loop that runs it:
 * each exit is a system call to emulate or a fault to report.
 *
 * <p>A VM is either booted from an ELF file (the template) or forked from a frozen template
 * ({@link #fork}): then its memory is a private copy-on-write view of the template's, KVM logs the
 * pages it writes, and {@link #reset()} puts memory, registers and kernel state back.
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
public final class GuestVm implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(GuestVm.class);

    /** The stack the program starts with, at the top of its address space (RLIMIT_STACK). */
    static final long STACK_SIZE = 8L << 20;
    /** Unmapped pages between the stack and the mmap area, so a stack overflow faults. */
    static final long STACK_GUARD = 1L << 20;
    private static final int SIGSEGV = Faults.SIGSEGV;
    private static final int SIGILL = Faults.SIGILL;
    /** How long a thread keeps the vCPU while another one is runnable. */
    static final long TIME_SLICE_NANOS = 10_000_000L;

    private final VmFd vm;
    private final VcpuFd vcpu;
    private final GuestMemory memory;
    private final PageTables tables;
    private final Kernel kernel;
    private final SyscallTable table;
    private final Syscall syscall;
    private final HostWaiter waiter = new HostWaiter();
    private final VmSnapshot source;
    private final DirtyPages dirty;
    /** The system call trace, or null when it is off (the option {@code trace}). */
    private final SyscallTrace trace;
    /** The vDSO's time page, for a booted VM (a template): the host writes it until close. */
    private TimePage timePage;
    private LinuxProcess process;
    private final Memory sregs = new Memory(KvmAbi.SREGS_SIZE);
    private final Memory segmentBases = CpuSetup.msrBlock(new long[][] {{CpuSetup.MSR_FS_BASE, 0},
        {CpuSetup.MSR_GS_BASE, 0}});
    private final FpuFormat fpuFormat;
    /** Whether the reset in progress keeps the pages it restores as private copies. */
    private boolean resetKeeps;
    private final DirtyPages.RangeConsumer restoreRange = this::restoreRange;
    private final HotPageSet.PageRestorer hotPages = new HotPageSet.PageRestorer() {
        @Override
        public boolean restore(long address) {
            return memory.restoreFrom(source.memory(), address, GuestLayout.PAGE_SIZE);
        }

        @Override
        public void discard(long address) {
            memory.discard(address, GuestLayout.PAGE_SIZE);
        }
    };
    private final ContextSwitch cpu;
    private final TimeSlice slice = new TimeSlice();
    private long sliceStart;

    private final Object interruptLock = new Object();
    private long epoch;
    private volatile boolean closed;
    private volatile RunResult.Kind stopKind;
    private volatile String stopDetail;
    private volatile long vcpuThread;
    private long exits;
    private long syscalls;
    /** Calls per system call number (the last slot counts numbers out of range). */
    private final long[] syscallCounts = new long[SyscallNumbers.COUNT + 1];

    private GuestVm(VmFd vm, VcpuFd vcpu, GuestMemory memory, PageTables tables, Kernel kernel,
            LinuxProcess process, VmSnapshot source, DirtyPages dirty, FpuFormat fpuFormat,
            SyscallTrace trace) {
        this.vm = vm;
        this.vcpu = vcpu;
        this.memory = memory;
        this.tables = tables;
        this.kernel = kernel;
        this.table = kernel.table();
        this.process = process;
        this.source = source;
        this.dirty = dirty;
        this.trace = trace;
        this.syscall = new Syscall(kernel, process, waiter);
        syscall.setTrace(trace);
        this.fpuFormat = fpuFormat;
        this.cpu = new ContextSwitch(vcpu, memory, fpuFormat);
        syscall.setFpuFormat(fpuFormat);
        syscall.setCpu(new Syscall.ThreadCpu() {
            @Override
            public void capture(UserContext into) {
                cpu.capture(into);
                UserContext own = GuestVm.this.process.scheduler().current().context();
                into.fsBase = own.fsBase;
                into.gsBase = own.gsBase;
            }

            @Override
            public long userStackPointer() {
                return cpu.userStackPointer();
            }
        });
    }

    /** The XSAVE layout for {@code xcr0} on this host, as signal frames carry it. */
    private static FpuFormat fpuFormat(Kvm kvm, long xcr0) {
        return FpuFormat.of(xcr0, i -> kvm.cpuid(0xd, i));
    }

    /**
     * Creates a VM, loads {@code program} (and its dynamic loader) into it, and sets the vCPU at
     * the entry point with argv, envp and the auxiliary vector on the stack. Nothing runs yet.
     */
    public static GuestVm boot(Kvm kvm, Kernel kernel, ElfFile program, ElfFile interpreter, List<String> argv,
            String cwd, long mainMemory, long maxAddressSpace, FdTable files) {
        // The guest's memory spans its whole address range, so that reservations cost address space
        // only; mainMemory bounds what the program maps accessible (MemorySlots, AddressSpace).
        long userLimit = maxAddressSpace & -GuestLayout.PAGE_SIZE;
        long poolSize = PageTables.poolSizeFor(userLimit);
        GuestMemory memory = GuestMemory.create("kvmserver-template", userLimit + poolSize);
        VmFd vm = null;
        try {
            PageTables tables = new PageTables(memory, userLimit, userLimit + poolSize);
            CpuSetup.writeSystemRegion(memory, tables);
            AddressSpace space = new AddressSpace(memory, tables, userLimit, mainMemory);
            long stackBottom = userLimit - STACK_SIZE;
            space.setMmapTop(stackBottom - STACK_GUARD);
            LoadedProgram loaded = ElfLoader.load(space, program, interpreter);
            space.initBreak(AddressSpace.pageUp(loaded.programEnd()));
            if (!space.tryMap(stackBottom, STACK_SIZE, AddressSpace.PROT_READ | AddressSpace.PROT_WRITE
                    | (program.wantsExecutableStack() ? AddressSpace.PROT_EXEC : 0), "[stack]")) {
                throw new ElfException("program " + program.path() + " and its " + (STACK_SIZE >> 20)
                        + " MiB stack do not fit in " + (mainMemory >> 20) + " MiB of guest memory",
                        List.of(Option.MAX_MAIN_MEMORY));
            }
            long hwcap = kvm.cpuid(1, 0)[3] & 0xffffffffL;
            installVdso(memory, tables);
            long sp = InitialStack.write(space, userLimit, loaded, kernel.fileSystem().programGuestPath(), argv,
                    kernel.environment(), hwcap, GuestLayout.VDSO);
            LinuxProcess process = new LinuxProcess(space, files, cwd);

            vm = kvm.createVm();
            MemorySlots.attach(vm, memory, 0);
            VcpuFd vcpu = vm.createVcpu(0);
            CpuSetup.configure(vcpu, tables.root(), kvm.supportedXcr0());
            // Sync regs are pushed into the vCPU on the first run, so set every one of them.
            for (int r = KvmAbi.RAX; r <= KvmAbi.R15; r += 8) {
                vcpu.setReg(r, 0);
            }
            vcpu.setReg(KvmAbi.RIP, loaded.entry());
            vcpu.setReg(KvmAbi.RSP, sp);
            vcpu.setReg(KvmAbi.RFLAGS, CpuSetup.USER_RFLAGS_FIXED);
            GuestVm booted = new GuestVm(vm, vcpu, memory, tables, kernel, process, null, null,
                    fpuFormat(kvm, kvm.supportedXcr0()), kernel.tracing() ? SyscallTrace.template() : null);
            // Last: nothing can fail after it, and the host writes the page from now until close.
            booted.timePage = GuestClock.shared(kvm).attach(memory.host(GuestLayout.VVAR, GuestLayout.PAGE_SIZE),
                    GuestLayout.USER_START, userLimit);
            return booted;
        } catch (RuntimeException e) {
            if (vm != null) {
                vm.close();
            }
            memory.close();
            throw e;
        }
    }

    /**
     * Writes the vDSO image and maps it and its time page for the program, read-only. They live in
     * the engine's low region, which the program cannot map over; request VMs share the template's
     * pages, and the host keeps the time page current (GuestClock).
     */
    private static void installVdso(GuestMemory memory, PageTables tables) {
        memory.write(GuestLayout.VDSO, VdsoImage.bytes());
        tables.set(GuestLayout.VDSO, GuestLayout.VDSO_SIZE, PageTables.PRESENT | PageTables.USER);
        tables.set(GuestLayout.VVAR, GuestLayout.PAGE_SIZE, PageTables.PRESENT | PageTables.USER | PageTables.NO_EXECUTE);
    }

    /**
     * Freezes this VM, which must just have returned {@link RunResult.Kind#WAITING}: the state
     * from which request VMs start, in the thread that waits for connections, about to make its
     * wait again (see {@link #freezeAt}); every other thread is parked where it waits.
     */
    public VmSnapshot freeze(Kvm kvm) {
        process.files().freeze();
        kernel.served().publish(process.files());
        Memory regs = new Memory(KvmAbi.REGS_SIZE);
        vcpu.saveRegs(regs);
        Memory frozenSregs = new Memory(KvmAbi.SREGS_SIZE);
        vcpu.getSregs(frozenSregs);
        Memory xsave = new Memory(KvmAbi.XSAVE_SIZE);
        vcpu.getXsave(xsave);
        return new VmSnapshot(kernel, memory, process, regs, frozenSregs, xsave, kvm.supportedXcr0(), tables.cursor());
    }

    /**
     * A request VM: its own KVM VM and vCPU over a private copy-on-write view of the template.
     * A request may dirty at most {@code requestMemoryLimit} bytes between resets.
     */
    public static GuestVm fork(Kvm kvm, VmSnapshot snapshot, long requestMemoryLimit) {
        return fork(kvm, snapshot, requestMemoryLimit, 0);
    }

    /** {@link #fork(Kvm, VmSnapshot, long)}, as request VM {@code number} in the system call trace. */
    public static GuestVm fork(Kvm kvm, VmSnapshot snapshot, long requestMemoryLimit, int number) {
        GuestMemory memory = snapshot.memory().forkPrivate();
        VmFd vm = null;
        VcpuFd vcpu = null;
        try {
            PageTables tables = snapshot.process().memory().pageTables().fork(memory);
            vm = kvm.createVm();
            // The dirty ring makes a reset cost what the request touched, not what the guest has.
            int entries = DirtyPages.ringEntriesFor(requestMemoryLimit);
            long ringBytes = (long) entries * KvmAbi.DIRTY_GFN_SIZE;
            boolean ring = kvm.checkExtension(KvmAbi.KVM_CAP_DIRTY_LOG_RING) >= ringBytes;
            if (ring) {
                vm.enableCap(KvmAbi.KVM_CAP_DIRTY_LOG_RING, ringBytes);
            }
            MemorySlots.attach(vm, memory, VmFd.MEM_LOG_DIRTY_PAGES);
            vcpu = vm.createVcpu(0);
            CpuSetup.configure(vcpu, tables.root(), snapshot.xcr0());
            DirtyPages dirty = new DirtyPages(vm, memory, ring ? vcpu.mapDirtyRing(ringBytes) : null, entries);
            dirty.setLimit(requestMemoryLimit / GuestLayout.PAGE_SIZE, GuestLayout.USER_START, tables.poolStart());
            memory.setWriteListener(dirty);
            LinuxProcess process = snapshot.process().fork(memory, tables);
            GuestVm forked = new GuestVm(vm, vcpu, memory, tables, snapshot.kernel(), process, snapshot, dirty,
                    fpuFormat(kvm, snapshot.xcr0()),
                    snapshot.kernel().tracing() ? SyscallTrace.requestVm(number) : null);
            forked.restoreCpu();
            return forked;
        } catch (RuntimeException e) {
            if (vcpu != null) {
                vcpu.close();
            }
            if (vm != null) {
                vm.close();
            }
            memory.close();
            throw e;
        }
    }

    /** Whether this VM logs dirty pages through KVM's ring (true) or must be polled (bitmap). */
    public boolean dirtyRing() {
        return dirty != null && dirty.hasRing();
    }

    /**
     * Puts the vCPU back at the freeze point. The special registers carry the FS and GS bases
     * too, so three transfers restore everything the program can change: sregs, XSAVE, and the
     * general registers (through sync regs, at the next entry).
     */
    private void restoreCpu() {
        vcpu.setSregs(source.sregs());
        vcpu.setXsave(source.xsave());
        vcpu.loadRegs(source.regs());
    }

    /** What a reset did: pages restored from the template (hot ones included), and how long it took. */
    public record ResetStats(long pages, long nanos) {
    }

    /**
     * Puts a forked VM back to the template: every page it (or the host for it) wrote, its
     * registers and FPU state, and its emulated kernel state; closes every fd it opened. With
     * {@code keepWorkingMemory} the pages stay private copies (the next request does not pay a
     * copy-on-write fault again), and pages every request rewrites stay writable (hot pages, see
     * {@link DirtyPages}); otherwise they are given back to the host.
     */
    public ResetStats reset(boolean keepWorkingMemory, long keepLimitBytes) {
        if (source == null) {
            throw new IllegalStateException("only a forked VM can be reset");
        }
        long start = System.nanoTime();
        // A new request epoch first: a time limit or kick aimed at the request that just ended
        // and firing from now on finds an old epoch and leaves the next request alone.
        synchronized (interruptLock) {
            epoch++;
            stopKind = null;
            waiter.reset();
            vcpu.clearImmediateExit();
        }
        process.files().closeAll();
        dirty.harvestForReset(keepWorkingMemory);
        resetKeeps = keepWorkingMemory && dirty.count() * GuestLayout.PAGE_SIZE <= keepLimitBytes;
        long pages = dirty.drain(restoreRange);
        pages += dirty.restoreHot(resetKeeps, hotPages);
        // The copies above are host writes KVM does not log, and go around the write listener:
        // restoring the template leaves nothing to track.
        tables.restoreCursor(source.pageTableCursor());
        memory.trimExposure(source.memory(), MemorySlots.KEPT_AFTER_RESET);
        process = source.process().fork(memory, tables);
        syscall.setProcess(process);
        restoreCpu();
        return new ResetStats(pages, System.nanoTime() - start);
    }

    /** Restores one run of dirty pages from the template (or gives it back to the host). */
    private void restoreRange(long address, long length) {
        GuestMemory template = source.memory();
        if (tables.inPool(address + length - 1)) {
            // Under shadow paging KVM keeps translations the restored tables no longer have.
            tables.forEachRestoredTranslation(template, address, length, source.pageTableCursor(),
                    memory::invalidateTranslations);
        }
        // The time page must stay the template's, which the host keeps current: a private
        // copy would freeze the guest's clock parameters. (Only a CPL 0 program could dirty it.)
        if (resetKeeps && (address >= GuestLayout.VVAR + GuestLayout.PAGE_SIZE || address + length <= GuestLayout.VVAR)) {
            memory.copyFrom(template, address, length);
        } else {
            memory.discard(address, length);
        }
    }

    /** Pages hot in this VM now (see {@link HotPageSet}): restored at every reset, never faulting. */
    public int hotPages() {
        return dirty == null ? 0 : dirty.hotCount();
    }

    /**
     * Pages dirtied since the last reset, as far as the vCPU loop has collected them (it does at
     * every exit); safe from any thread, and never touches KVM's log.
     */
    public long dirtyPages() {
        return dirty == null ? 0 : dirty.count();
    }

    /**
     * Harvests KVM's dirty log now and tells whether the request is past its memory limit: for
     * the bitmap fallback, where only a harvest sees the guest's writes. Safe from a watchdog
     * thread, and after {@link #close()} (then false).
     */
    public boolean pollMemoryLimit() {
        if (dirty == null) {
            return false;
        }
        dirty.harvest();
        return dirty.overLimit();
    }

    public LinuxProcess process() {
        return process;
    }

    public GuestMemory memory() {
        return memory;
    }

    public HostWaiter waiter() {
        return waiter;
    }

    public Syscall syscallContext() {
        return syscall;
    }

    public long exits() {
        return exits;
    }

    public long syscalls() {
        return syscalls;
    }

    /** Adds this VM's calls per system call number into {@code totals} (racy reads: for metrics). */
    public void addSyscallCounts(long[] totals) {
        for (int i = 0; i < syscallCounts.length && i < totals.length; i++) {
            totals[i] += syscallCounts[i];
        }
    }

    /** Asks a running {@link #run()} to stop as soon as possible; safe from any thread. */
    public void interrupt() {
        interrupt(RunResult.Kind.TIMED_OUT, "time limit reached");
    }

    /**
     * The current request's epoch: {@link #reset()} starts a new one. A timer armed for one
     * request passes its epoch to {@link #interrupt(long, RunResult.Kind, String)}, so that if
     * it fires late, after the reset, it cannot stop the next request.
     */
    public long epoch() {
        synchronized (interruptLock) {
            return epoch;
        }
    }

    /**
     * A request begins (its connection was accepted): a new epoch, so that a time limit aimed at
     * the request before it, in a VM that is not reset between requests, cannot stop this one.
     */
    public long beginRequest() {
        synchronized (interruptLock) {
            return ++epoch;
        }
    }

    /** Stops a running {@link #run()}, which returns a result of {@code kind}; from any thread. */
    public void interrupt(RunResult.Kind kind, String detail) {
        synchronized (interruptLock) {
            stop(kind, detail);
        }
    }

    /** {@link #interrupt(RunResult.Kind, String)}, only if the VM is still in request {@code epoch}. */
    public void interrupt(long expectedEpoch, RunResult.Kind kind, String detail) {
        synchronized (interruptLock) {
            if (epoch == expectedEpoch) {
                stop(kind, detail);
            }
        }
    }

    private void stop(RunResult.Kind kind, String detail) {
        if (closed) {
            return;
        }
        stopDetail = detail;
        stopKind = kind;
        waiter.kick();
        vcpu.requestImmediateExit();
        long thread = vcpuThread;
        if (thread != 0) {
            VcpuInterrupter.kick(thread);
        }
    }

    /** Runs the guest until it exits, crashes, waits for a connection, or is interrupted. */
    public RunResult run() {
        VcpuInterrupter.install();
        vcpuThread = LibC.pthread_self();
        sliceStart = System.nanoTime();
        try {
            while (true) {
                RunResult.Kind stop = stopKind;
                if (stop != null) {
                    return stopped(stop);
                }
                updateTick();
                VcpuExit exit = vcpu.run();
                exits++;
                if (dirty != null) {
                    dirty.collect();
                    if (dirty.overLimit()) {
                        return memoryLimit();
                    }
                }
                RunResult result;
                try {
                    result = onExit(exit);
                } catch (GuestMemory.LimitExceeded e) {
                    return memoryLimit();
                }
                if (result != null) {
                    return result;
                }
            }
        } finally {
            slice.disarm();
            vcpuThread = 0;
            vcpu.clearImmediateExit();
        }
    }

    private RunResult stopped(RunResult.Kind kind) {
        return RunResult.of(kind, stopDetail + " at RIP 0x" + Long.toHexString(vcpu.reg(KvmAbi.RIP)));
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

    private RunResult onPortIo(VcpuExit.Io io) {
        int port = io.port();
        if (port == TrapStub.PORT_SYSCALL) {
            // Hardware path: syscall entered the stub at CPL 0; sysretq returns to RCX with R11.
            cpu.stoppedAt(ContextSwitch.Stop.SYSCALL_DIRECT);
            return emulateSyscall();
        }
        int vector = port - TrapStub.PORT_EXCEPTION_BASE;
        if (vector < 0 || vector >= GuestLayout.EXCEPTION_VECTORS) {
            return crash(SIGSEGV, "write to unexpected I/O port 0x" + Integer.toHexString(port));
        }
        long frame = vcpu.reg(KvmAbi.RSP);
        if (frame != GuestLayout.EXCEPTION_FRAME) {
            return crash(SIGSEGV, "exception " + vector + " with a corrupt exception stack");
        }
        long errorCode = memory.getLong(frame);
        long rip = memory.getLong(frame + 8);
        long cs = memory.getLong(frame + 16);
        if (vector == 13 && rip == TrapStub.SYSCALL_OUT_RIP && (cs & 3) == 3) {
            // PVM path: syscall stayed at CPL 3, the stub's out raised #GP. Complete the call and
            // let the #GP entry's iretq return to RCX with the flags syscall saved in R11.
            cpu.stoppedAt(ContextSwitch.Stop.SYSCALL_VIA_GP);
            return emulateSyscall();
        }
        cpu.stoppedAt(ContextSwitch.Stop.EXCEPTION);
        return fault(vector, errorCode, rip, (cs & 3) == 3);
    }

    /** Emulates the call in the registers; null to go on running, or why the run ends. */
    private RunResult emulateSyscall() {
        syscalls++;
        long nr = vcpu.reg(KvmAbi.RAX);
        syscallCounts[nr >= 0 && nr < SyscallNumbers.COUNT ? (int) nr : SyscallNumbers.COUNT]++;
        Scheduler threads = process.scheduler();
        // A wait blocks the host thread only when nothing else could happen meanwhile.
        waiter.setParking(threads.liveCount() > 1 || process.timers().armed());
        syscall.begin(nr, vcpu.reg(KvmAbi.RDI), vcpu.reg(KvmAbi.RSI), vcpu.reg(KvmAbi.RDX),
                vcpu.reg(KvmAbi.R10), vcpu.reg(KvmAbi.R8), vcpu.reg(KvmAbi.R9));
        int tid = trace != null ? threads.current().tid() : 0;
        long result = table.dispatch(syscall);
        if (trace != null) {
            trace.log(tid, syscall, result);
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
            returnFromSyscall(result);
        }
        if (syscall.takeSegmentBasesChanged()) {
            segmentBases.setLong(8 + 8, current.context().fsBase);
            segmentBases.setLong(8 + 16 + 8, current.context().gsBase);
            vcpu.setMsrs(segmentBases);
        }
        if (process.memory().takeTlbFlush()) {
            flushTlb();
        }
        if (waiter.connections().finished()) {
            return RunResult.of(RunResult.Kind.REQUEST_DONE, "connection closed");
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

    /** A normal return: RAX gets the result; the flags syscall saved must be a user program's. */
    private void returnFromSyscall(long result) {
        vcpu.setReg(KvmAbi.RAX, result);
        if (cpu.stop() == ContextSwitch.Stop.SYSCALL_DIRECT) {
            vcpu.setReg(KvmAbi.R11, ContextSwitch.sanitizeFlags(vcpu.reg(KvmAbi.R11)));
        } else {
            memory.putLong(GuestLayout.EXCEPTION_FRAME + 8, vcpu.reg(KvmAbi.RCX));
            memory.putLong(GuestLayout.EXCEPTION_FRAME + 24, ContextSwitch.sanitizeFlags(vcpu.reg(KvmAbi.R11)));
        }
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
                    return RunResult.of(RunResult.Kind.REQUEST_DONE, "connection closed");
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
        if (rip >= GuestLayout.SYSCALL_ENTRY && rip < GuestLayout.EXCEPTION_STACK_BOTTOM) {
            return null;
        }
        cpu.stoppedAt(ContextSwitch.Stop.USER);
        Scheduler threads = process.scheduler();
        GuestThread current = threads.current();
        boolean others = threads.poll(syscall);
        if (others && System.nanoTime() - sliceStart >= TIME_SLICE_NANOS) {
            cpu.capture(current.context());
            threads.yieldCurrent();
            return switchThread();
        }
        return deliverSignals(current);
    }

    private RunResult killedBy(int signal, String how) {
        return crash(signal, "killed by " + SignalState.name(signal) + " (" + how + ")");
    }

    /**
     * Re-sets the special registers after the page tables lost a permission. The translations
     * themselves are dropped by {@link GuestMemory#invalidateTranslations} (KVM's MMU notifier,
     * which flushes shadow entries and, on EPT/NPT hosts, the guest's TLB); this makes KVM
     * re-evaluate its paging context as well, for KVMs that cache it across exits.
     */
    private void flushTlb() {
        vcpu.getSregs(sregs);
        vcpu.setSregs(sregs);
    }

    /**
     * A CPU exception. In user mode, a handler the program installed for the signal runs (a JIT
     * that catches its own SIGSEGV, a guard page); otherwise the program dies of the signal, with
     * a description of the fault.
     */
    private RunResult fault(int vector, long errorCode, long rip, boolean userMode) {
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

    /**
     * Releases the VM. Idempotent; interrupts and dirty-page queries from other threads after it
     * do nothing. The caller must make sure no thread runs the vCPU any more.
     */
    @Override
    public void close() {
        synchronized (interruptLock) {
            if (closed) {
                return;
            }
            closed = true;
        }
        if (timePage != null) {
            timePage.close();
        }
        if (dirty != null) {
            dirty.close(); // before the ring is unmapped with the vCPU
        }
        slice.close();
        process.files().closeAll();
        vcpu.close();
        vm.close();
        waiter.close();
        memory.close();
    }
}
