package io.kvmserver.vm;

import io.kvmserver.memory.GuestMemory;

import io.kvmserver.kvm.Kvm;
import io.kvmserver.kvm.KvmAbi;
import io.kvmserver.kvm.KvmException;
import io.kvmserver.kvm.VcpuExit;
import io.kvmserver.kvm.VcpuFd;
import io.kvmserver.kvm.VmFd;
import io.kvmserver.x86.CpuSetup;
import io.kvmserver.x86.GuestLayout;
import io.kvmserver.x86.PageTables;
import io.kvmserver.x86.TrapStub;
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

    /** Runs {@code userCode} at CPL 3 and expects three system calls from it. */
    static String run(Kvm kvm, byte[] userCode) {
        try (GuestMemory memory = GuestMemory.create("kvmserver-trap-check", MEMORY + PageTables.poolSizeFor(MEMORY));
                VmFd vm = kvm.createVm()) {
            PageTables tables = new PageTables(memory, MEMORY, memory.size());
            CpuSetup.writeSystemRegion(memory, tables);
            memory.write(CODE, userCode);
            tables.set(CODE, GuestLayout.PAGE_SIZE, PageTables.PRESENT | PageTables.USER);
            tables.set(CODE + GuestLayout.PAGE_SIZE, GuestLayout.PAGE_SIZE,
                    PageTables.PRESENT | PageTables.USER | PageTables.WRITABLE | PageTables.NO_EXECUTE);
            vm.setUserMemoryRegion(0, 0, memory.size(), memory.hostBase());
            try (VcpuFd vcpu = vm.createVcpu(0)) {
                CpuSetup.startUserCode(vcpu, tables.root(), kvm.supportedXcr0(), CODE, CODE + 2 * GuestLayout.PAGE_SIZE);
                return roundTrips(vcpu, memory);
            }
        }
    }

    private static String roundTrips(VcpuFd vcpu, GuestMemory memory) {
        String path = null;
        int done = 0;
        for (int exits = 0; exits < MAX_EXITS && done < ROUND_TRIPS; exits++) {
            VcpuExit exit = vcpu.run();
            if (!(exit instanceof VcpuExit.Io io)) {
                throw unusable("KVM exit " + exit + " at RIP 0x" + Long.toHexString(vcpu.reg(KvmAbi.RIP)));
            }
            int port = io.port();
            long frame = vcpu.reg(KvmAbi.RSP);
            if (port == TrapStub.PORT_SYSCALL && vcpu.reg(KvmAbi.RAX) == 110) {
                path = "CPL 0 (syscall switched privilege)";
            } else if (port == TrapStub.PORT_EXCEPTION_BASE + 13 && frame == GuestLayout.EXCEPTION_FRAME
                    && memory.getLong(frame + 8) == TrapStub.SYSCALL_OUT_RIP && vcpu.reg(KvmAbi.RAX) == 110) {
                path = "#GP (syscall stayed at CPL 3)";
                memory.putLong(frame + 8, vcpu.reg(KvmAbi.RCX));
                memory.putLong(frame + 24, (vcpu.reg(KvmAbi.R11) & CpuSetup.USER_RFLAGS_MASK)
                        | CpuSetup.USER_RFLAGS_FIXED);
            } else {
                int vector = port - TrapStub.PORT_EXCEPTION_BASE;
                throw unusable(vector >= 0 && vector < 32 ? "CPU exception " + vector + " instead of a system call"
                        : "unexpected I/O port 0x" + Integer.toHexString(port));
            }
            vcpu.setReg(KvmAbi.RAX, 0);
            done++;
        }
        if (done < ROUND_TRIPS) {
            throw unusable("no system call arrived");
        }
        return path;
    }

    private static KvmException unusable(String what) {
        return new KvmException("this machine's KVM cannot deliver a guest system call to the engine (" + what
                + "); kvmserver needs KVM on x86-64 with hardware virtualization (VMX/SVM) or a nested KVM that"
                + " behaves like the PVM hosts it is tested on");
    }
}
