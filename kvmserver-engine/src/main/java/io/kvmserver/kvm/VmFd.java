package io.kvmserver.kvm;

import io.kvmserver.host.LibC;

import com.sun.jna.LastErrorException;
import com.sun.jna.Memory;
import java.util.concurrent.atomic.AtomicBoolean;

/** A KVM virtual machine file descriptor: guest memory slots and vCPU creation. */
public final class VmFd implements AutoCloseable {

    private final AtomicBoolean closed = new AtomicBoolean();

    /** Where KVM may put the three pages Intel needs for real-mode emulation: out of our way. */
    private static final long TSS_ADDRESS = 0xfffb_d000L;

    private final Kvm kvm;
    private final int fd;
    private final Memory region = new Memory(KvmAbi.MEMORY_REGION_SIZE);
    private final Memory dirtyLog = new Memory(16);

    VmFd(Kvm kvm, int fd) {
        this.kvm = kvm;
        this.fd = fd;
        try {
            LibC.ioctl(fd, KvmAbi.KVM_SET_TSS_ADDR, TSS_ADDRESS);
        } catch (LastErrorException e) {
            LibC.close(fd);
            throw new KvmException("KVM_SET_TSS_ADDR failed", e.getErrorCode());
        }
    }

    public Kvm kvm() {
        return kvm;
    }

    /** {@code KVM_MEM_LOG_DIRTY_PAGES}: KVM records every page the guest writes in the slot. */
    public static final int MEM_LOG_DIRTY_PAGES = 1;

    /** Maps {@code size} bytes of host memory at {@code hostAddress} as guest physical memory. */
    public void setUserMemoryRegion(int slot, long guestPhysical, long size, long hostAddress) {
        setUserMemoryRegion(slot, 0, guestPhysical, size, hostAddress);
    }

    public void setUserMemoryRegion(int slot, int flags, long guestPhysical, long size, long hostAddress) {
        region.setInt(0, slot);
        region.setInt(4, flags);
        region.setLong(8, guestPhysical);
        region.setLong(16, size);
        region.setLong(24, hostAddress);
        try {
            LibC.ioctl(fd, KvmAbi.KVM_SET_USER_MEMORY_REGION, region);
        } catch (LastErrorException e) {
            throw new KvmException("KVM_SET_USER_MEMORY_REGION (slot " + slot + ", " + size + " bytes) failed",
                    e.getErrorCode());
        }
    }

    /**
     * {@code KVM_GET_DIRTY_LOG}: copies the slot's dirty bitmap (one bit per page, in 64-bit
     * words) into {@code bitmap} and clears it in KVM, re-arming write tracking.
     */
    public void getDirtyLog(int slot, Memory bitmap) {
        dirtyLog.setInt(0, slot);
        dirtyLog.setInt(4, 0);
        dirtyLog.setPointer(8, bitmap);
        try {
            LibC.ioctl(fd, KvmAbi.KVM_GET_DIRTY_LOG, dirtyLog);
        } catch (LastErrorException e) {
            throw new KvmException("KVM_GET_DIRTY_LOG failed", e.getErrorCode());
        }
    }

    /** {@code KVM_ENABLE_CAP} with one argument. */
    public void enableCap(int capability, long argument) {
        try (Memory cap = new Memory(KvmAbi.ENABLE_CAP_SIZE)) {
            cap.clear();
            cap.setInt(0, capability);
            cap.setLong(8, argument);
            LibC.ioctl(fd, KvmAbi.KVM_ENABLE_CAP, cap);
        } catch (LastErrorException e) {
            throw new KvmException("KVM_ENABLE_CAP " + capability + " failed", e.getErrorCode());
        }
    }

    /** {@code KVM_RESET_DIRTY_RINGS}: re-arms write tracking for every harvested ring entry. */
    public int resetDirtyRings() {
        try {
            return LibC.ioctl(fd, KvmAbi.KVM_RESET_DIRTY_RINGS, 0L);
        } catch (LastErrorException e) {
            throw new KvmException("KVM_RESET_DIRTY_RINGS failed", e.getErrorCode());
        }
    }

    public VcpuFd createVcpu(int id) {
        int vcpuFd;
        try {
            vcpuFd = LibC.ioctl(fd, KvmAbi.KVM_CREATE_VCPU, id);
        } catch (LastErrorException e) {
            throw new KvmException("KVM_CREATE_VCPU failed", e.getErrorCode());
        }
        return new VcpuFd(this, vcpuFd);
    }

    @Override
    /** Closes the VM; idempotent. */
    public void close() {
        if (closed.compareAndSet(false, true)) {
            LibC.close(fd);
        }
    }
}
