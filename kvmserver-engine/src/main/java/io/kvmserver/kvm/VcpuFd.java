package io.kvmserver.kvm;

import io.kvmserver.host.LibC;

import com.sun.jna.LastErrorException;
import com.sun.jna.Memory;
import com.sun.jna.Pointer;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A vCPU file descriptor and its shared {@code struct kvm_run}.
 *
 * <p>General registers are exchanged through {@code KVM_CAP_SYNC_REGS}: after every exit they are
 * already in {@code kvm_run}, and writing them back costs a flag, not an ioctl. That is why the
 * register accessors here read and write {@code kvm_run} directly. Special registers can be set
 * the same way ({@link #setSregsAtNextRun}): on nested hosts every vCPU ioctl costs ~10 µs of
 * loading and putting the vCPU (MSR reads, CR4 writes that trap to the outer hypervisor) besides
 * its own work, and a reset sets them every time.
 */
public final class VcpuFd implements AutoCloseable {

    private static final int EINTR = 4;
    private static final int EAGAIN = 11;

    private final int fd;
    private final long runAddress;
    private final long runSize;
    private final Pointer run;
    private final Pointer syncRegs;
    private boolean registersDirty;
    private final Pointer syncSregs;
    /** {@link #syncSregs} holds special registers KVM must apply at the next {@code KVM_RUN}. */
    private boolean sregsPending;
    private final VcpuExit.Io io = new VcpuExit.Io();
    private final VcpuExit.Mmio mmio = new VcpuExit.Mmio();
    private final AtomicBoolean closed = new AtomicBoolean();
    private long ringAddress;
    private long ringSize;

    VcpuFd(VmFd vm, int fd) {
        this.fd = fd;
        this.runSize = vm.kvm().vcpuMmapSize();
        try {
            this.runAddress = LibC.mmap(0, runSize, LibC.PROT_READ | LibC.PROT_WRITE, LibC.MAP_SHARED, fd, 0);
        } catch (LastErrorException e) {
            LibC.close(fd);
            throw new KvmException("mmap of kvm_run failed", e.getErrorCode());
        }
        this.run = new Pointer(runAddress);
        this.syncRegs = run.share(KvmAbi.RUN_SYNC_REGS);
        this.syncSregs = run.share(KvmAbi.RUN_SYNC_SREGS);
        setCpuid(vm.kvm().supportedCpuid());
        run.setLong(KvmAbi.RUN_VALID_REGS, KvmAbi.KVM_SYNC_X86_REGS);
    }

    /**
     * Enters the guest until the next exit and returns what happened. An interrupted run
     * ({@code EINTR}, for example after {@link #requestImmediateExit()}) is
     * {@link VcpuExit#INTERRUPTED}. A returned {@link VcpuExit.Io} or {@link VcpuExit.Mmio} is
     * valid until the next run.
     */
    public VcpuExit run() {
        if (registersDirty || sregsPending) {
            run.setLong(KvmAbi.RUN_DIRTY_REGS, (registersDirty ? KvmAbi.KVM_SYNC_X86_REGS : 0)
                    | (sregsPending ? KvmAbi.KVM_SYNC_X86_SREGS : 0));
            registersDirty = false;
            sregsPending = false;
        }
        try {
            LibC.ioctl(fd, KvmAbi.KVM_RUN, 0L);
        } catch (LastErrorException e) {
            if (e.getErrorCode() == EINTR || e.getErrorCode() == EAGAIN) {
                run.setByte(KvmAbi.RUN_IMMEDIATE_EXIT, (byte) 0);
                return VcpuExit.INTERRUPTED;
            }
            throw new KvmException("KVM_RUN failed", e.getErrorCode());
        }
        return decodeExit();
    }

    private VcpuExit decodeExit() {
        int reason = run.getInt(KvmAbi.RUN_EXIT_REASON);
        return switch (reason) {
            case KvmAbi.KVM_EXIT_IO -> {
                io.set(run.getShort(KvmAbi.RUN_IO_PORT) & 0xffff, run.getByte(KvmAbi.RUN_IO_DIRECTION) == 1,
                        run.getByte(KvmAbi.RUN_IO_SIZE));
                yield io;
            }
            case KvmAbi.KVM_EXIT_MMIO -> {
                int length = Math.min(run.getInt(KvmAbi.RUN_MMIO_LEN), 8);
                long data = run.getLong(KvmAbi.RUN_MMIO_DATA);
                mmio.set(run.getLong(KvmAbi.RUN_MMIO_PHYS_ADDR), length >= 8 ? data : data & ((1L << (8 * length)) - 1),
                        length, run.getByte(KvmAbi.RUN_MMIO_IS_WRITE) != 0);
                yield mmio;
            }
            case KvmAbi.KVM_EXIT_INTR -> VcpuExit.INTERRUPTED;
            case KvmAbi.KVM_EXIT_HLT -> VcpuExit.HLT;
            case KvmAbi.KVM_EXIT_SHUTDOWN -> VcpuExit.SHUTDOWN;
            case KvmAbi.KVM_EXIT_DIRTY_RING_FULL -> VcpuExit.DIRTY_RING_FULL;
            case KvmAbi.KVM_EXIT_INTERNAL_ERROR ->
                new VcpuExit.InternalError(run.getInt(KvmAbi.RUN_INTERNAL_SUBERROR) & 0xffffffffL);
            case KvmAbi.KVM_EXIT_FAIL_ENTRY -> new VcpuExit.FailEntry(run.getLong(KvmAbi.RUN_FAIL_ENTRY_REASON));
            default -> new VcpuExit.Other(reason);
        };
    }

    /**
     * Makes the current or next {@code KVM_RUN} return at once. Safe from any thread; pair it with
     * a signal to the vCPU thread to interrupt a run already in the guest.
     */
    /**
     * The most MMIO fragments {@link #completePendingExit} completes: far more than one instruction
     * makes between two restarts (a 64-byte AVX-512 access is 8).
     */
    static final int MAX_PENDING_FRAGMENTS = 1024;

    public void requestImmediateExit() {
        run.setByte(KvmAbi.RUN_IMMEDIATE_EXIT, (byte) 1);
    }

    /**
     * Finishes what the last exit left in flight in KVM (an MMIO read completes into its register
     * and moves RIP on), without running a guest instruction: a {@code KVM_RUN} with
     * {@code immediate_exit} set, which completes pending operations and then returns
     * {@code EINTR}. A read is completed with zeros. Needed before the vCPU's state is replaced (a
     * reset): otherwise the next run would complete the old instruction into the new state.
     *
     * <p>KVM splits an access wider than 8 bytes ({@code movdqu}) into fragments, and emulates a
     * {@code rep movs} element by element: completing one fragment returns the next as another
     * MMIO exit, immediate exit or not, until the instruction is done or stops to be restarted.
     * Each is completed in turn, up to {@link #MAX_PENDING_FRAGMENTS}.
     */
    public void completePendingExit() {
        requestImmediateExit();
        for (int fragment = 0; fragment < MAX_PENDING_FRAGMENTS; fragment++) {
            run.setLong(KvmAbi.RUN_MMIO_DATA, 0);
            VcpuExit exit = run();
            if (exit == VcpuExit.INTERRUPTED) {
                return;
            }
            if (!(exit instanceof VcpuExit.Mmio)) {
                throw new KvmException("KVM_RUN with immediate_exit ran the guest (exit " + exit + ")");
            }
        }
        throw new KvmException("KVM_RUN with immediate_exit still had an MMIO access pending after "
                + MAX_PENDING_FRAGMENTS + " fragments");
    }

    public void clearImmediateExit() {
        run.setByte(KvmAbi.RUN_IMMEDIATE_EXIT, (byte) 0);
    }

    /**
     * Maps this vCPU's dirty ring of {@code bytes} (enabled on the VM before the vCPU was
     * created); unmapped with the vCPU.
     */
    public Pointer mapDirtyRing(long bytes) {
        try {
            long address = LibC.mmap(0, bytes, LibC.PROT_READ | LibC.PROT_WRITE, LibC.MAP_SHARED, fd,
                    (long) KvmAbi.KVM_DIRTY_LOG_PAGE_OFFSET * 4096);
            ringAddress = address;
            ringSize = bytes;
            return new Pointer(address);
        } catch (LastErrorException e) {
            throw new KvmException("mmap of the dirty ring failed", e.getErrorCode());
        }
    }

    // ---- general registers through sync regs ----

    /** Reads a register by its {@code struct kvm_regs} offset (see {@link KvmAbi#RAX} ...). */
    public long reg(int offset) {
        return syncRegs.getLong(offset);
    }

    public void setReg(int offset, long value) {
        syncRegs.setLong(offset, value);
        registersDirty = true;
    }

    /** Copies all general registers, RIP and RFLAGS into {@code dest} (144 bytes). */
    public void saveRegs(Memory dest) {
        LibC.memcpy(Pointer.nativeValue(dest), Pointer.nativeValue(syncRegs), KvmAbi.REGS_SIZE);
    }

    /** The reverse of {@link #saveRegs}, at every reset: native to native, nothing allocated. */
    public void loadRegs(Pointer src) {
        LibC.memcpy(Pointer.nativeValue(syncRegs), Pointer.nativeValue(src), KvmAbi.REGS_SIZE);
        registersDirty = true;
    }

    // ---- ioctls for state that is not synced ----

    /** The special registers, as the next run will have them (set ones not yet applied included). */
    public void getSregs(Memory sregs) {
        if (sregsPending) {
            LibC.memcpy(Pointer.nativeValue(sregs), Pointer.nativeValue(syncSregs), KvmAbi.SREGS_SIZE);
            return;
        }
        ioctl(KvmAbi.KVM_GET_SREGS, sregs, "KVM_GET_SREGS");
    }

    public void setSregs(Memory sregs) {
        sregsPending = false;
        ioctl(KvmAbi.KVM_SET_SREGS, sregs, "KVM_SET_SREGS");
    }

    /**
     * Sets the special registers from {@code src} at the next {@code KVM_RUN} (through sync regs,
     * no ioctl of its own). Any other state ioctl before that run applies them first, so that the
     * order of changes is kept (MSRs such as the FS base overlap them).
     */
    public void setSregsAtNextRun(Pointer src) {
        LibC.memcpy(Pointer.nativeValue(syncSregs), Pointer.nativeValue(src), KvmAbi.SREGS_SIZE);
        sregsPending = true;
    }

    /** Applies special registers set for the next run now, before an ioctl that could overlap them. */
    private void applyPendingSregs() {
        sregsPending = false; // first: the ioctl below must not apply them again
        ioctl(KvmAbi.KVM_SET_SREGS, syncSregs, "KVM_SET_SREGS");
    }

    /** Reads the pending and injected exception, interrupt and NMI state ({@code struct kvm_vcpu_events}). */
    public void getVcpuEvents(Memory events) {
        ioctl(KvmAbi.KVM_GET_VCPU_EVENTS, events, "KVM_GET_VCPU_EVENTS");
    }

    public void setVcpuEvents(Memory events) {
        ioctl(KvmAbi.KVM_SET_VCPU_EVENTS, events, "KVM_SET_VCPU_EVENTS");
    }

    /** Sets MSRs from a {@code struct kvm_msrs}; fails unless every entry was accepted. */
    public void setMsrs(Memory msrs) {
        int count = msrs.getInt(0);
        int done = ioctl(KvmAbi.KVM_SET_MSRS, msrs, "KVM_SET_MSRS");
        if (done != count) {
            long index = msrs.getInt(KvmAbi.MSRS_ENTRIES + (long) done * KvmAbi.MSR_ENTRY_SIZE) & 0xffffffffL;
            throw new KvmException("KVM_SET_MSRS rejected MSR 0x" + Long.toHexString(index));
        }
    }

    public void getMsrs(Memory msrs) {
        int count = msrs.getInt(0);
        int done = ioctl(KvmAbi.KVM_GET_MSRS, msrs, "KVM_GET_MSRS");
        if (done != count) {
            throw new KvmException("KVM_GET_MSRS returned " + done + " of " + count + " MSRs");
        }
    }

    public void getXcrs(Memory xcrs) {
        ioctl(KvmAbi.KVM_GET_XCRS, xcrs, "KVM_GET_XCRS");
    }

    public void setXcrs(Memory xcrs) {
        ioctl(KvmAbi.KVM_SET_XCRS, xcrs, "KVM_SET_XCRS");
    }

    public void getXsave(Memory xsave) {
        ioctl(KvmAbi.KVM_GET_XSAVE, xsave, "KVM_GET_XSAVE");
    }

    public void setXsave(Memory xsave) {
        ioctl(KvmAbi.KVM_SET_XSAVE, xsave, "KVM_SET_XSAVE");
    }

    // ---- the guest's TSC ----

    /** {@code KVM_GET_TSC_KHZ}: the frequency of the TSC this vCPU's guest reads. */
    public long tscKhz() {
        try {
            return LibC.ioctl(fd, KvmAbi.KVM_GET_TSC_KHZ, 0L);
        } catch (LastErrorException e) {
            throw new KvmException("KVM_GET_TSC_KHZ failed", e.getErrorCode());
        }
    }

    /** Whether user space can set this vCPU's TSC offset ({@code KVM_VCPU_TSC_OFFSET}, Linux 5.16+). */
    public boolean hasTscOffset() {
        try (Memory attr = tscOffsetAttribute()) {
            LibC.ioctl(fd, KvmAbi.KVM_HAS_DEVICE_ATTR, attr);
            return true;
        } catch (LastErrorException e) {
            return false;
        }
    }

    /** Sets the guest TSC to the host TSC plus {@code offset} (an unscaled TSC, as here). */
    public void setTscOffset(long offset) {
        try (Memory attr = tscOffsetAttribute()) {
            attr.setLong(KvmAbi.DEVICE_ATTR_SIZE, offset);
            ioctl(KvmAbi.KVM_SET_DEVICE_ATTR, attr, "KVM_SET_DEVICE_ATTR(KVM_VCPU_TSC_OFFSET)");
        }
    }

    public long tscOffset() {
        try (Memory attr = tscOffsetAttribute()) {
            ioctl(KvmAbi.KVM_GET_DEVICE_ATTR, attr, "KVM_GET_DEVICE_ATTR(KVM_VCPU_TSC_OFFSET)");
            return attr.getLong(KvmAbi.DEVICE_ATTR_SIZE);
        }
    }

    /** A {@code struct kvm_device_attr} for the TSC offset, with room for the value after it. */
    private static Memory tscOffsetAttribute() {
        Memory attr = new Memory(KvmAbi.DEVICE_ATTR_SIZE + 8);
        attr.clear();
        attr.setInt(4, KvmAbi.KVM_VCPU_TSC_CTRL);
        attr.setLong(8, KvmAbi.KVM_VCPU_TSC_OFFSET);
        attr.setLong(16, Pointer.nativeValue(attr) + KvmAbi.DEVICE_ATTR_SIZE);
        return attr;
    }

    private void setCpuid(Memory cpuid) {
        ioctl(KvmAbi.KVM_SET_CPUID2, cpuid, "KVM_SET_CPUID2");
    }

    private int ioctl(long request, Pointer arg, String name) {
        // XSAVE state does not overlap the special registers; everything else is kept in order.
        if (sregsPending && request != KvmAbi.KVM_SET_XSAVE && request != KvmAbi.KVM_GET_XSAVE) {
            applyPendingSregs();
        }
        try {
            return LibC.ioctl(fd, request, arg);
        } catch (LastErrorException e) {
            throw new KvmException(name + " failed", e.getErrorCode());
        }
    }

    /** Unmaps {@code kvm_run} (and the dirty ring) and closes the vCPU; idempotent. */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        if (ringAddress != 0) {
            LibC.munmap(ringAddress, ringSize);
        }
        LibC.munmap(runAddress, runSize);
        LibC.close(fd);
    }
}
