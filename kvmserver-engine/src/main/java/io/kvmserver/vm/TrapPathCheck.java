package io.kvmserver.vm;

import io.kvmserver.kvm.Kvm;
import io.kvmserver.kvm.KvmAbi;
import io.kvmserver.kvm.KvmException;
import io.kvmserver.kvm.VcpuExit;
import io.kvmserver.kvm.VcpuFd;
import io.kvmserver.kvm.VmFd;
import io.kvmserver.memory.GuestMemory;
import io.kvmserver.x86.CpuSetup;
import io.kvmserver.x86.GuestLayout;
import io.kvmserver.x86.PageTables;
import io.kvmserver.x86.TrapStub;
import java.util.LinkedHashSet;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Proves, once per process and before any program runs, that a CPL 3 {@code syscall} reaches
 * the host through the trap stub on this machine's KVM: a KVM whose behaviour the engine does
 * not know then fails at startup with a clear message, instead of at a program's first system
 * call with a triple fault, or with a hang.
 */
public final class TrapPathCheck {

    private static final Logger log = LoggerFactory.getLogger(TrapPathCheck.class);
    private static final long MEMORY = 4L << 20;
    private static final long CODE = GuestLayout.USER_START;
    private static final int MAX_EXITS = 16;
    private static final int ROUND_TRIPS = 3;

    /** {@code mov eax, 110 (getppid); syscall; jmp back}: a CPL 3 loop of system calls. */
    static final byte[] SYSCALL_LOOP = {(byte) 0xb8, 110, 0, 0, 0, 0x0f, 0x05, (byte) 0xeb, (byte) 0xf7};

    private static volatile String verifiedPath;
    private static final String USER_MODE_PATH = "CPL 3 (syscall stayed in user mode; the host returns)";

    private TrapPathCheck() {
    }

    /** Runs the check once per process; returns which path system calls take here. */
    public static String verify(Kvm kvm) {
        String path = verifiedPath;
        if (path == null) {
            synchronized (TrapPathCheck.class) {
                if (verifiedPath == null) {
                    verifiedPath = run(kvm, SYSCALL_LOOP);
                    log.debug("system calls reach the host through the {} path", verifiedPath);
                }
                path = verifiedPath;
            }
        }
        return path;
    }

    /**
     * Whether {@code syscall} from CPL 3 reaches the syscall entry still at CPL 3 here (nested
     * PVM), every time: then the entry may answer calls in the guest and return with a jump.
     */
    public static boolean syscallStaysInUserMode(Kvm kvm) {
        return verify(kvm).equals(USER_MODE_PATH);
    }

    /** Runs {@code userCode} at CPL 3 and expects three system calls from it. */
    static String run(Kvm kvm, byte[] userCode) {
        return run(kvm, userCode, false);
    }

    /**
     * Runs {@code code} at CPL 3, or at CPL 0 when {@code kernelMode} (to try the path of hosts
     * where {@code syscall} switches privilege: the first call comes from CPL 0 and its
     * {@code sysretq} drops to CPL 3), and expects three system calls from it; returns the paths
     * they took, in order, joined by ", " when they differ.
     */
    static String run(Kvm kvm, byte[] code, boolean kernelMode) {
        try (GuestMemory memory = GuestMemory.create("kvmserver-trap-check", MEMORY + PageTables.poolSizeFor(MEMORY));
                VmFd vm = kvm.createVm()) {
            PageTables tables = new PageTables(memory, MEMORY, memory.size());
            CpuSetup.writeSystemRegion(memory, tables);
            memory.write(CODE, code);
            tables.set(CODE, GuestLayout.PAGE_SIZE, PageTables.PRESENT | PageTables.USER);
            tables.set(CODE + GuestLayout.PAGE_SIZE, GuestLayout.PAGE_SIZE,
                    PageTables.PRESENT | PageTables.USER | PageTables.WRITABLE | PageTables.NO_EXECUTE);
            vm.setUserMemoryRegion(0, 0, memory.size(), memory.hostBase());
            try (VcpuFd vcpu = vm.createVcpu(0)) {
                CpuSetup.startUserCode(vcpu, tables.root(), kvm.supportedXcr0(), CODE, CODE + 2 * GuestLayout.PAGE_SIZE);
                if (kernelMode) {
                    CpuSetup.enterKernelMode(vcpu);
                }
                return roundTrips(vcpu, GuestLayout.doorbellPhysical(memory.size()));
            }
        }
    }

    private static String roundTrips(VcpuFd vcpu, long doorbell) {
        Set<String> paths = new LinkedHashSet<>();
        int done = 0;
        for (int exits = 0; exits < MAX_EXITS && done < ROUND_TRIPS; exits++) {
            VcpuExit exit = vcpu.run();
            long rip = vcpu.reg(KvmAbi.RIP);
            if (exit instanceof VcpuExit.Io io) {
                int vector = io.port() - TrapStub.PORT_EXCEPTION_BASE;
                throw unusable(vector >= 0 && vector < 32 ? "CPU exception " + vector + " instead of a system call"
                        : "unexpected I/O port 0x" + Integer.toHexString(io.port()));
            }
            if (!(exit instanceof VcpuExit.Mmio mmio) || mmio.address() != doorbell || !mmio.isWrite()
                    || rip != TrapStub.SYSCALL_DOORBELL_RIP || vcpu.reg(KvmAbi.RAX) != 110) {
                throw unusable("KVM exit " + exit + " at RIP 0x" + Long.toHexString(rip));
            }
            long flags = (vcpu.reg(KvmAbi.R11) & CpuSetup.USER_RFLAGS_MASK) | CpuSetup.USER_RFLAGS_FIXED;
            if (mmio.data() == GuestLayout.KERNEL_CS) {
                paths.add("CPL 0 (syscall switched privilege; sysretq returns)");
                vcpu.setReg(KvmAbi.R11, flags);
            } else if (mmio.data() == GuestLayout.USER_CS) {
                paths.add(USER_MODE_PATH);
                vcpu.setReg(KvmAbi.RIP, vcpu.reg(KvmAbi.RCX));
                vcpu.setReg(KvmAbi.RFLAGS, flags);
            } else {
                throw unusable("the system call entry ran with code segment 0x" + Long.toHexString(mmio.data()));
            }
            vcpu.setReg(KvmAbi.RAX, 0);
            done++;
        }
        if (done < ROUND_TRIPS) {
            throw unusable("no system call arrived");
        }
        return String.join(", ", paths);
    }

    private static KvmException unusable(String what) {
        return new KvmException("this machine's KVM cannot deliver a guest system call to the engine (" + what
                + "); kvmserver needs KVM on x86-64 with hardware virtualization (VMX/SVM) or a nested KVM that"
                + " behaves like the PVM hosts it is tested on");
    }
}
