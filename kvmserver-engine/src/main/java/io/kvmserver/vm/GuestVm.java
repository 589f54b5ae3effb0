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
import io.kvmserver.kvm.VcpuFd;
import io.kvmserver.kvm.VmFd;
import io.kvmserver.linux.AddressSpace;
import io.kvmserver.linux.FdTable;
import io.kvmserver.linux.HostWaiter;
import io.kvmserver.linux.Kernel;
import io.kvmserver.linux.LinuxProcess;
import io.kvmserver.linux.FpuFormat;
import io.kvmserver.linux.Syscall;
import io.kvmserver.linux.SyscallTrace;
import io.kvmserver.vdso.GuestClock;
import io.kvmserver.vdso.TimePage;
import io.kvmserver.vdso.VdsoImage;
import io.kvmserver.x86.CpuSetup;
import io.kvmserver.x86.GuestCallPages;
import io.kvmserver.x86.GuestLayout;
import io.kvmserver.x86.TrapStub;
import io.kvmserver.x86.PageTables;
import java.util.List;

/**
 * One KVM virtual machine with one vCPU running one Linux program: its lifecycle, and the API the
 * server drives it through. {@link #run()} hands the vCPU to its {@link VcpuLoop}, where each exit
 * is a system call to emulate or a fault to deliver or report.
 *
 * <p>A VM is either booted from an ELF file (the template) or forked from a frozen template
 * ({@link #fork}): then its memory is a private copy-on-write view of the template's, KVM logs the
 * pages it writes ({@link DirtyPages}), and {@link #reset} puts memory, registers and kernel state
 * back. Other threads may interrupt a run at any time ({@link #interrupt}); an epoch per request
 * keeps a late interruption from stopping the next request.
 */
public final class GuestVm implements AutoCloseable {

    /** The XSAVE header's XSTATE_BV: the components the image holds (the rest restore to their initial state). */
    private static final long XSTATE_BV = 512;

    /** The stack the program starts with, at the top of its address space (RLIMIT_STACK). */
    public static final long STACK_SIZE = 8L << 20;
    /** Unmapped pages between the stack and the mmap area, so a stack overflow faults. */
    static final long STACK_GUARD = 1L << 20;

    private final VmFd vm;
    private final VcpuFd vcpu;
    private final GuestMemory memory;
    /** {@code struct kvm_vcpu_events}, cleared at a reset after a run cut short (see {@link #restoreCpu}). */
    private final Memory events = new Memory(KvmAbi.VCPU_EVENTS_SIZE);
    /** Whether the last run ended other than at a request's own end, so KVM may hold an event in flight. */
    private boolean runCutShort;
    private final PageTables tables;
    private final Kernel kernel;
    private final HostWaiter waiter = new HostWaiter();
    private final VmSnapshot source;
    private final DirtyPages dirty;
    /** The vDSO's time page, for a booted VM (a template): the host writes it until close. */
    private TimePage timePage;
    private LinuxProcess process;
    private final VcpuLoop loop;
    /** Whether the syscall entry answers calls in the guest ({@link #answersInGuest}). */
    private final boolean answersInGuest;
    /** Whether the reset in progress keeps the pages it restores as private copies. */
    private boolean resetKeeps;
    private final DirtyPages.RangeConsumer restoreRange = this::restoreRange;
    private final PageTables.RangeConsumer dropTranslated = this::dropTranslated;
    /** A run of ranges whose translations the reset drops, gathered to give back in one call. */
    private long dropStart;
    private long dropLength;
    private final HotPageSet.PageRestorer hotPages = new HotPageSet.PageRestorer() {
        @Override
        public boolean restore(long address) {
            return memory.restoreFrom(source.memory(), address, GuestLayout.PAGE_SIZE);
        }

        @Override
        public void copy(long address) {
            memory.copyFrom(source.memory(), address, GuestLayout.PAGE_SIZE);
        }

        @Override
        public void discard(long address) {
            memory.discard(address, GuestLayout.PAGE_SIZE);
        }
    };

    private final Object interruptLock = new Object();
    private int callSitesRewritten;
    private long epoch;
    private volatile boolean closed;

    private GuestVm(VmFd vm, VcpuFd vcpu, GuestMemory memory, PageTables tables, Kernel kernel,
            LinuxProcess process, VmSnapshot source, DirtyPages dirty, FpuFormat fpuFormat,
            SyscallTrace trace, boolean answersInGuest) {
        this.vm = vm;
        this.vcpu = vcpu;
        this.memory = memory;
        this.tables = tables;
        this.kernel = kernel;
        this.process = process;
        this.source = source;
        this.dirty = dirty;
        this.loop = new VcpuLoop(vcpu, memory, kernel, process, waiter, dirty, fpuFormat, trace, answersInGuest);
        this.answersInGuest = answersInGuest;
    }

    /**
     * Whether the VM's LSTAR is the entry that answers some calls in the guest
     * ({@link TrapStub#FAST_SYSCALL_ENTRY}): where {@code syscall} stays at CPL 3 (nested PVM,
     * where a call the host answers costs ~70 µs more), and not while every call is traced (that
     * trace shows every call the program makes; the trace of host calls leaves them answered here).
     */
    private static boolean answersInGuest(Kvm kvm, Kernel kernel) {
        return (!kernel.tracing() || kernel.tracesHostCallsOnly()) && TrapPathCheck.syscallStaysInUserMode(kvm);
    }

    private static long syscallEntry(boolean answersInGuest) {
        return answersInGuest ? TrapStub.FAST_SYSCALL_ENTRY : GuestLayout.SYSCALL_ENTRY;
    }

    /** The XSAVE layout for {@code xcr0} on this host, as signal frames carry it. */
    private static FpuFormat fpuFormat(Kvm kvm, long xcr0) {
        return FpuFormat.of(xcr0, i -> kvm.cpuid(0xd, i));
    }

    /**
     * The highest guest-physical address a VM of {@code maxAddressSpace} uses: the end of its
     * memory (the address space and the page-table pool above it) plus the system call doorbell.
     */
    public static long highestPhysicalAddress(long maxAddressSpace) {
        return GuestLayout.doorbellPhysical(memorySize(maxAddressSpace)) + GuestLayout.PAGE_SIZE - 1;
    }

    /** Guest memory for {@code maxAddressSpace}: the program's address range, then the page-table pool. */
    private static long memorySize(long maxAddressSpace) {
        long userLimit = maxAddressSpace & -GuestLayout.PAGE_SIZE;
        return userLimit + PageTables.poolSizeFor(userLimit);
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
        GuestMemory memory = GuestMemory.create("kvmserver-template", memorySize(maxAddressSpace));
        VmFd vm = null;
        try {
            PageTables tables = new PageTables(memory, userLimit, memory.size());
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
            boolean answers = answersInGuest(kvm, kernel);
            if (answers) {
                CpuSetup.mapFpuRestoreForUserMode(tables); // request VMs restore their FPU state there
            }
            CpuSetup.configure(vcpu, tables.root(), kvm.supportedXcr0(), syscallEntry(answers));
            // Sync regs are pushed into the vCPU on the first run, so set every one of them.
            for (int r = KvmAbi.RAX; r <= KvmAbi.R15; r += 8) {
                vcpu.setReg(r, 0);
            }
            vcpu.setReg(KvmAbi.RIP, loaded.entry());
            vcpu.setReg(KvmAbi.RSP, sp);
            vcpu.setReg(KvmAbi.RFLAGS, CpuSetup.USER_RFLAGS_FIXED);
            GuestVm booted = new GuestVm(vm, vcpu, memory, tables, kernel, process, null, null,
                    fpuFormat(kvm, kvm.supportedXcr0()), kernel.tracing() ? SyscallTrace.template() : null, answers);
            if (answers) {
                booted.loop.rewriteCallSites(program, loaded.programEntry() - program.entry());
            }
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
     * wait again (see {@link VcpuLoop}); every other thread is parked where it waits.
     */
    public VmSnapshot freeze(Kvm kvm) {
        process.files().freeze();
        callSitesRewritten = loop.sealCallSites();
        if (answersInGuest) {
            // Where the syscall entry answers anonymous mmaps (GuestCalls): every request VM
            // starts with it, and a reset gives back what a request took of it.
            process.memory().reserve(GuestCallPages.RESERVATION);
        }
        kernel.served().publish(process.files());
        Memory regs = new Memory(KvmAbi.REGS_SIZE);
        vcpu.saveRegs(regs);
        Memory frozenSregs = new Memory(KvmAbi.SREGS_SIZE);
        vcpu.getSregs(frozenSregs);
        Memory xsave = new Memory(KvmAbi.XSAVE_SIZE);
        vcpu.getXsave(xsave);
        long xcr0 = kvm.supportedXcr0();
        // What a request VM's first entry after a reset restores in the guest. XRSTOR faults on
        // a component in XSTATE_BV that XCR0 does not enable; such a component is not the
        // program's anyway.
        memory.write(GuestLayout.FPU_IMAGE, xsave.getByteArray(0, KvmAbi.XSAVE_SIZE));
        memory.putLong(GuestLayout.FPU_IMAGE + XSTATE_BV, xsave.getLong(XSTATE_BV) & xcr0);
        return new VmSnapshot(kernel, memory, process, regs, frozenSregs, xsave, xcr0, tables.cursor());
    }

    /**
     * How many of the program's system call sites the template rewrote before its freeze to enter
     * the syscall entry without {@code syscall} (nested PVM only: {@code SyscallSiteRewriter}).
     */
    public int callSitesRewritten() {
        return callSitesRewritten;
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
            boolean answers = answersInGuest(kvm, snapshot.kernel());
            CpuSetup.configure(vcpu, tables.root(), snapshot.xcr0(), syscallEntry(answers));
            DirtyPages dirty = new DirtyPages(vm, memory, ring ? vcpu.mapDirtyRing(ringBytes) : null, entries);
            // The syscall entry's queue page, written in every request that queues a call, may be hot too.
            dirty.setLimit(requestMemoryLimit / GuestLayout.PAGE_SIZE, GuestCallPages.QUEUE, tables.poolStart());
            memory.setWriteListener(dirty);
            LinuxProcess process = snapshot.process().fork(memory, tables);
            GuestVm forked = new GuestVm(vm, vcpu, memory, tables, snapshot.kernel(), process, snapshot, dirty,
                    fpuFormat(kvm, snapshot.xcr0()),
                    snapshot.kernel().tracing() ? SyscallTrace.requestVm(number) : null, answers);
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
     * too, so three transfers restore everything the program can change: XSAVE (an ioctl), and
     * the special and general registers (through sync regs, applied by the next entry without an
     * ioctl of their own).
     */
    private void restoreCpu() {
        vcpu.setSregsAtNextRun(source.sregs());
        loop.restoreFpu(source.xsave());
        vcpu.loadRegs(source.regs());
        // A run the engine stopped (a time limit, a kick) can leave KVM with an exception or
        // interrupt it was about to deliver (a fault of the program's, which KVM injects; before
        // the doorbell, on PVM, every system call was such a #GP). The template froze with none,
        // and the next request must start with none. (The ioctl
        // costs ~15-20 µs here, so a request that ended at a system call, as most do, skips it.)
        if (runCutShort) {
            events.clear();
            events.setInt(KvmAbi.VCPU_EVENTS_FLAGS,
                    KvmAbi.KVM_VCPUEVENT_VALID_NMI_PENDING | KvmAbi.KVM_VCPUEVENT_VALID_SHADOW);
            vcpu.setVcpuEvents(events);
            runCutShort = false;
        }
        loop.resumeAtFrozenWait();
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
            loop.clearStop();
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
        process = source.process().fork(memory, tables, process);
        loop.setProcess(process);
        restoreCpu();
        return new ResetStats(pages, System.nanoTime() - start);
    }

    /** Restores one run of dirty pages from the template (or gives it back to the host). */
    private void restoreRange(long address, long length) {
        GuestMemory template = source.memory();
        if (tables.inPool(address + length - 1)) {
            // Under shadow paging KVM keeps translations the restored tables no longer have.
            tables.forEachRestoredTranslation(template, address, length, source.pageTableCursor(), dropTranslated);
            flushDrops();
        }
        // The time page must stay the template's, which the host keeps current: a private
        // copy would freeze the guest's clock parameters. (Only a CPL 0 program could dirty it.)
        if (resetKeeps && (address >= GuestLayout.VVAR + GuestLayout.PAGE_SIZE || address + length <= GuestLayout.VVAR)) {
            memory.copyFrom(template, address, length);
        } else {
            memory.discard(address, length);
        }
    }

    /**
     * A range the restored page tables map differently: its pages go back to the template's
     * (which is what the reset must leave there anyway), and giving them back makes the host's MMU
     * notifier drop what KVM cached for exactly that range. An {@code mprotect} pair would do the
     * latter too, but it splits the host mapping, and the split makes KVM drop a whole 2 MiB
     * around each range: every hot page there faults again in the next request.
     */
    private void dropTranslated(long address, long length) {
        if (dropLength != 0 && dropStart + dropLength == address) {
            dropLength += length;
            return;
        }
        flushDrops();
        dropStart = address;
        dropLength = length;
    }

    private void flushDrops() {
        if (dropLength != 0 && dropStart < memory.size()) {
            memory.discard(dropStart, Math.min(dropLength, memory.size() - dropStart));
        }
        dropLength = 0;
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

    /** The VM's vCPU, for tests in this package that set up what a run could leave behind. */
    VcpuFd vcpu() {
        return vcpu;
    }

    /** How the VM's vCPU state reaches the host, for tests in this package. */
    ContextSwitch cpu() {
        return loop.cpu();
    }

    public HostWaiter waiter() {
        return waiter;
    }

    public Syscall syscallContext() {
        return loop.syscall();
    }

    /**
     * The VM's output so far is complete (its request ended): the console passes on a last line
     * the program left without its newline, instead of joining the next request's output to it.
     */
    public void endOfOutput() {
        kernel.console().endOfOutput();
    }

    public long exits() {
        return loop.exits();
    }

    /**
     * Nanoseconds this VM spent in {@code KVM_RUN}, where the program runs (with the exits KVM
     * handles in the kernel); the rest of a request's time on its thread is the engine's.
     */
    public long runNanos() {
        return loop.runNanos();
    }

    public long syscalls() {
        return loop.syscalls();
    }

    /** Adds this VM's calls per system call number into {@code totals} (racy reads: for metrics). */
    public void addSyscallCounts(long[] totals) {
        loop.addSyscallCounts(totals);
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

    /**
     * Has calls the program queued in the guest performed now, if it queued any and still runs
     * (see {@link io.kvmserver.linux.GuestCalls}); safe from any thread, as {@link #interrupt()}.
     */
    public void performQueuedCalls() {
        synchronized (interruptLock) {
            if (!closed) {
                loop.nudgeIfCallsQueued();
            }
        }
    }

    private void stop(RunResult.Kind kind, String detail) {
        if (!closed) {
            loop.stop(kind, detail);
        }
    }

    /** Runs the guest until it exits, crashes, waits for a connection, or is interrupted. */
    public RunResult run() {
        RunResult result = loop.run();
        // A request that ended on its own, at a system call's exit, left nothing in flight in
        // KVM; any other end, or a last KVM_RUN cut short by a kick or tick, may have (see restoreCpu).
        runCutShort = result.kind() != RunResult.Kind.REQUEST_DONE || !loop.lastExitAtTrap();
        return result;
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
        loop.close();
        process.files().closeAll();
        vcpu.close();
        vm.close();
        waiter.close();
        memory.close();
    }
}
