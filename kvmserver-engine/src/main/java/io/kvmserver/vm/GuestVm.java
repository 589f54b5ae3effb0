package io.kvmserver.vm;

import com.sun.jna.Memory;
import io.kvmserver.elf.ElfFile;
import io.kvmserver.elf.ElfLoader;
import io.kvmserver.elf.InitialStack;
import io.kvmserver.elf.LoadedProgram;
import io.kvmserver.kvm.Kvm;
import io.kvmserver.kvm.KvmAbi;
import io.kvmserver.kvm.LibC;
import io.kvmserver.kvm.VcpuFd;
import io.kvmserver.kvm.VmFd;
import io.kvmserver.linux.AddressSpace;
import io.kvmserver.linux.FdTable;
import io.kvmserver.linux.Kernel;
import io.kvmserver.linux.LinuxProcess;
import io.kvmserver.linux.Syscall;
import io.kvmserver.linux.SyscallTable;
import io.kvmserver.x86.CpuSetup;
import io.kvmserver.x86.GuestLayout;
import io.kvmserver.x86.PageTables;
import io.kvmserver.x86.TrapStub;
import java.util.List;

/**
 * One KVM virtual machine with one vCPU running one Linux program, and the loop that runs it:
 * each exit is a system call to emulate or a fault to report.
 *
 * <p>The loop allocates nothing per exit: registers are read through sync regs, the system call
 * context is reused, and errors are returned as values.
 */
public final class GuestVm implements AutoCloseable {

    /** The stack the program starts with, at the top of its address space (RLIMIT_STACK). */
    static final long STACK_SIZE = 8L << 20;
    /** Unmapped pages between the stack and the mmap area, so a stack overflow faults. */
    static final long STACK_GUARD = 1L << 20;
    private static final int SIGSEGV = 11;
    private static final int SIGBUS = 7;
    private static final int SIGILL = 4;
    private static final int SIGFPE = 8;
    private static final int SIGTRAP = 5;

    private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(GuestVm.class);
    /** Logs every system call at INFO: for debugging the engine, far too slow for anything else. */
    private static final boolean TRACE = Boolean.getBoolean("kvmserver.trace");

    private final VmFd vm;
    private final VcpuFd vcpu;
    private final GuestMemory memory;
    private final PageTables tables;
    private final Kernel kernel;
    private final SyscallTable table;
    private final Syscall syscall;
    private LinuxProcess process;
    private final Memory sregs = new Memory(KvmAbi.SREGS_SIZE);
    private final Memory segmentBases = CpuSetup.msrBlock(new long[][] {{CpuSetup.MSR_FS_BASE, 0},
        {CpuSetup.MSR_GS_BASE, 0}});

    private volatile boolean stopRequested;
    private volatile long vcpuThread;
    private long exits;
    private long syscalls;

    private GuestVm(VmFd vm, VcpuFd vcpu, GuestMemory memory, PageTables tables, Kernel kernel,
            LinuxProcess process) {
        this.vm = vm;
        this.vcpu = vcpu;
        this.memory = memory;
        this.tables = tables;
        this.kernel = kernel;
        this.table = kernel.table();
        this.process = process;
        this.syscall = new Syscall(kernel, process);
    }

    /**
     * Creates a VM, loads {@code program} (and its dynamic loader) into it, and sets the vCPU at
     * the entry point with argv, envp and the auxiliary vector on the stack. Nothing runs yet.
     */
    public static GuestVm boot(Kvm kvm, Kernel kernel, ElfFile program, ElfFile interpreter, List<String> argv,
            String cwd, long mainMemory, long maxAddressSpace, FdTable files) {
        long userLimit = mainMemory & -GuestLayout.PAGE_SIZE;
        long poolSize = PageTables.poolSizeFor(userLimit);
        GuestMemory memory = GuestMemory.create("kvmserver-template", userLimit + poolSize);
        VmFd vm = null;
        try {
            PageTables tables = new PageTables(memory, userLimit, userLimit + poolSize);
            CpuSetup.writeSystemRegion(memory, tables);
            AddressSpace space = new AddressSpace(memory, tables, userLimit, maxAddressSpace);
            long stackBottom = userLimit - STACK_SIZE;
            space.setMmapTop(stackBottom - STACK_GUARD);
            LoadedProgram loaded = ElfLoader.load(space, program, interpreter);
            space.initBreak(AddressSpace.pageUp(loaded.programEnd()));
            space.map(stackBottom, STACK_SIZE, AddressSpace.PROT_READ | AddressSpace.PROT_WRITE
                    | (program.wantsExecutableStack() ? AddressSpace.PROT_EXEC : 0), "[stack]");
            long hwcap = kvm.cpuid(1, 0)[3] & 0xffffffffL;
            long sp = InitialStack.write(space, userLimit, loaded, kernel.programHostPath(), argv,
                    kernel.environment(), hwcap);
            LinuxProcess process = new LinuxProcess(space, files, cwd);

            vm = kvm.createVm();
            vm.setUserMemoryRegion(0, 0, memory.size(), memory.hostBase());
            VcpuFd vcpu = vm.createVcpu(0);
            CpuSetup.configure(vcpu, tables.root(), kvm.supportedXcr0());
            for (int r = KvmAbi.RAX; r <= KvmAbi.R15; r += 8) {
                vcpu.setReg(r, 0);
            }
            vcpu.setReg(KvmAbi.RIP, loaded.entry());
            vcpu.setReg(KvmAbi.RSP, sp);
            vcpu.setReg(KvmAbi.RFLAGS, CpuSetup.USER_RFLAGS_FIXED);
            // Sync regs hold stale values until the first exit: push ours with a full set.
            return new GuestVm(vm, vcpu, memory, tables, kernel, process);
        } catch (RuntimeException e) {
            if (vm != null) {
                vm.close();
            }
            memory.close();
            throw e;
        }
    }

    public LinuxProcess process() {
        return process;
    }

    public GuestMemory memory() {
        return memory;
    }

    public long exits() {
        return exits;
    }

    public long syscalls() {
        return syscalls;
    }

    /** Asks a running {@link #run()} to stop as soon as possible; safe from any thread. */
    public void interrupt() {
        stopRequested = true;
        vcpu.requestImmediateExit();
        long thread = vcpuThread;
        if (thread != 0) {
            VcpuInterrupter.kick(thread);
        }
    }

    /** Runs the guest until it exits, crashes, or is interrupted. */
    public RunResult run() {
        VcpuInterrupter.install();
        vcpuThread = LibC.pthread_self();
        try {
            while (true) {
                if (stopRequested) {
                    return RunResult.timedOut("stopped at RIP 0x" + Long.toHexString(vcpu.reg(KvmAbi.RIP)));
                }
                int reason = vcpu.run();
                exits++;
                RunResult result = switch (reason) {
                    case KvmAbi.KVM_EXIT_IO -> onPortIo();
                    case KvmAbi.KVM_EXIT_INTR -> null;
                    case KvmAbi.KVM_EXIT_SHUTDOWN -> crash(SIGSEGV, "triple fault");
                    case KvmAbi.KVM_EXIT_HLT -> crash(SIGSEGV, "hlt executed");
                    case KvmAbi.KVM_EXIT_INTERNAL_ERROR -> crash(SIGILL,
                            "KVM internal error " + vcpu.internalErrorSuberror() + " (instruction KVM cannot emulate)");
                    case KvmAbi.KVM_EXIT_FAIL_ENTRY -> crash(SIGSEGV,
                            "VM entry failed, hardware reason 0x" + Long.toHexString(vcpu.failEntryReason()));
                    default -> crash(SIGSEGV, "unexpected KVM exit " + reason);
                };
                if (result != null) {
                    return result;
                }
            }
        } finally {
            vcpuThread = 0;
        }
    }

    private RunResult onPortIo() {
        int port = vcpu.ioPort();
        if (port == TrapStub.PORT_SYSCALL) {
            // Hardware path: syscall entered the stub at CPL 0; sysretq returns to RCX with R11.
            RunResult r = emulateSyscall();
            vcpu.setReg(KvmAbi.R11, sanitizeFlags(vcpu.reg(KvmAbi.R11)));
            return r;
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
            RunResult r = emulateSyscall();
            memory.putLong(frame + 8, vcpu.reg(KvmAbi.RCX));
            memory.putLong(frame + 24, sanitizeFlags(vcpu.reg(KvmAbi.R11)));
            return r;
        }
        return fault(vector, errorCode, rip);
    }

    private static long sanitizeFlags(long rflags) {
        return (rflags & CpuSetup.USER_RFLAGS_MASK) | CpuSetup.USER_RFLAGS_FIXED;
    }

    private RunResult emulateSyscall() {
        syscalls++;
        if (TRACE) {
            log.info("syscall {}({}, {}, {}) rip=0x{}", io.kvmserver.linux.SyscallNumbers.name(vcpu.reg(KvmAbi.RAX)),
                    Long.toHexString(vcpu.reg(KvmAbi.RDI)), Long.toHexString(vcpu.reg(KvmAbi.RSI)),
                    Long.toHexString(vcpu.reg(KvmAbi.RDX)), Long.toHexString(vcpu.reg(KvmAbi.RCX)));
        }
        syscall.begin(vcpu.reg(KvmAbi.RAX), vcpu.reg(KvmAbi.RDI), vcpu.reg(KvmAbi.RSI), vcpu.reg(KvmAbi.RDX),
                vcpu.reg(KvmAbi.R10), vcpu.reg(KvmAbi.R8), vcpu.reg(KvmAbi.R9));
        long result = table.dispatch(syscall);
        if (syscall.exitRequested()) {
            int signal = syscall.fatalSignal();
            int status = syscall.exitStatus();
            syscall.clearEffects();
            return signal != 0 ? crash(signal, "killed by signal " + signal + " (raised by the program)")
                    : RunResult.exited(status);
        }
        vcpu.setReg(KvmAbi.RAX, result);
        if (TRACE) {
            log.info("  = {}", result);
        }
        if (syscall.takeSegmentBasesChanged()) {
            segmentBases.setLong(8 + 8, process.fsBase());
            segmentBases.setLong(8 + 16 + 8, process.gsBase());
            vcpu.setMsrs(segmentBases);
        }
        if (process.memory().takeTlbFlush() && !Boolean.getBoolean("kvmserver.noflush")) {
            flushTlb();
        }
        return null;
    }

    /** Reloading CR3 through KVM_SET_SREGS drops every cached translation of the guest. */
    private void flushTlb() {
        vcpu.getSregs(sregs);
        vcpu.setSregs(sregs);
    }

    private RunResult fault(int vector, long errorCode, long rip) {
        String where = " at RIP 0x" + Long.toHexString(rip);
        return switch (vector) {
            case 14 -> {
                vcpu.getSregs(sregs);
                long cr2 = sregs.getLong(KvmAbi.SREGS_CR2);
                String access = (errorCode & 16) != 0 ? "executing" : (errorCode & 2) != 0 ? "writing" : "reading";
                String why = (errorCode & 1) != 0 ? "protection violation" : "unmapped address";
                yield crash(SIGSEGV, "segmentation fault " + access + " 0x" + Long.toHexString(cr2) + " ("
                        + why + ")" + where);
            }
            case 0 -> crash(SIGFPE, "division error" + where);
            case 16, 19 -> crash(SIGFPE, "floating-point exception" + where);
            case 6 -> crash(SIGILL, "illegal instruction" + where);
            case 1, 3 -> crash(SIGTRAP, "breakpoint or trap" + where);
            case 17 -> crash(SIGBUS, "alignment check" + where);
            case 13 -> crash(SIGSEGV, "general protection fault (privileged instruction or bad segment)" + where);
            default -> crash(SIGSEGV, "CPU exception " + vector + " (error code 0x" + Long.toHexString(errorCode)
                    + ")" + where);
        };
    }

    private RunResult crash(int signal, String detail) {
        return RunResult.crashed(signal, detail);
    }

    @Override
    public void close() {
        process.files().closeAll();
        vcpu.close();
        vm.close();
        memory.close();
    }
}
