package io.kvmserver.kvm;

import io.kvmserver.host.LibC;

import com.sun.jna.LastErrorException;
import com.sun.jna.Memory;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The KVM system file descriptor ({@code /dev/kvm}): capability queries and VM creation.
 *
 * <p>One instance serves every VM of the process. It also caches the supported CPUID table so
 * that each new vCPU does not ask the kernel again.
 */
public final class Kvm implements AutoCloseable {

    private final AtomicBoolean closed = new AtomicBoolean();

    public static final String DEVICE = "/dev/kvm";

    private final int fd;
    private final int vcpuMmapSize;
    private final Memory supportedCpuid;

    private Kvm(int fd) {
        this.fd = fd;
        int version = ioctl(KvmAbi.KVM_GET_API_VERSION, 0, "KVM_GET_API_VERSION");
        if (version != KvmAbi.KVM_API_VERSION) {
            throw new KvmException("unsupported KVM API version " + version + " (need "
                    + KvmAbi.KVM_API_VERSION + ")");
        }
        for (int cap : new int[] {KvmAbi.KVM_CAP_SYNC_REGS, KvmAbi.KVM_CAP_IMMEDIATE_EXIT, KvmAbi.KVM_CAP_XCRS}) {
            if (checkExtension(cap) <= 0) {
                throw new KvmException("this KVM lacks capability " + cap
                        + " (sync regs, immediate exit and XCRs are required); use a Linux 5.x or newer host");
            }
        }
        this.vcpuMmapSize = ioctl(KvmAbi.KVM_GET_VCPU_MMAP_SIZE, 0, "KVM_GET_VCPU_MMAP_SIZE");
        this.supportedCpuid = new Memory(KvmAbi.CPUID_ENTRIES + (long) KvmAbi.CPUID_MAX_ENTRIES * KvmAbi.CPUID_ENTRY_SIZE);
        supportedCpuid.clear();
        supportedCpuid.setInt(0, KvmAbi.CPUID_MAX_ENTRIES);
        try {
            LibC.ioctl(fd, KvmAbi.KVM_GET_SUPPORTED_CPUID, supportedCpuid);
        } catch (LastErrorException e) {
            throw new KvmException("KVM_GET_SUPPORTED_CPUID failed", e.getErrorCode());
        }
    }

    /** Opens {@code /dev/kvm}, or explains why it cannot be used. */
    public static Kvm open() {
        return open(DEVICE);
    }

    static Kvm open(String device) {
        int fd;
        try {
            fd = LibC.open((device + "\0").getBytes(StandardCharsets.UTF_8), LibC.O_RDWR | LibC.O_CLOEXEC, 0);
        } catch (LastErrorException e) {
            throw KvmUnavailableException.forOpenFailure(device, e.getErrorCode());
        }
        try {
            return new Kvm(fd);
        } catch (RuntimeException e) {
            LibC.close(fd);
            throw e;
        }
    }

    /** Whether this host can run the engine at all: used by tests and health checks. */
    public static boolean isAvailable() {
        try (Kvm ignored = open()) {
            return true;
        } catch (KvmException e) {
            return false;
        }
    }

    public int checkExtension(int capability) {
        return ioctl(KvmAbi.KVM_CHECK_EXTENSION, capability, "KVM_CHECK_EXTENSION");
    }

    public int vcpuMmapSize() {
        return vcpuMmapSize;
    }

    /** The {@code struct kvm_cpuid2} the kernel reported; callers must not modify it. */
    Memory supportedCpuid() {
        return supportedCpuid;
    }

    /**
     * The XSAVE features to enable in XCR0: what CPUID leaf 0xD advertises, less the AMX tile
     * state, which needs a larger XSAVE area than {@code KVM_GET_XSAVE} transfers. glibc picks
     * its string functions from CPUID, so AVX and AVX-512 state must be enabled or the first
     * {@code memcpy} raises #UD.
     */
    public long supportedXcr0() {
        int count = supportedCpuid.getInt(0);
        for (int i = 0; i < count; i++) {
            long e = KvmAbi.CPUID_ENTRIES + (long) i * KvmAbi.CPUID_ENTRY_SIZE;
            if (supportedCpuid.getInt(e) == 0xd && supportedCpuid.getInt(e + 4) == 0) {
                long eax = supportedCpuid.getInt(e + 12) & 0xffffffffL;
                long edx = supportedCpuid.getInt(e + 24) & 0xffffffffL;
                return ((edx << 32) | eax) & ~(0x3L << 17) | 0x3L;
            }
        }
        return 0x3L; // x87 and SSE: always present in long mode
    }

    /** Bits of a guest-physical address (CPUID 0x80000008 EAX[7:0]; 36 when KVM reports none). */
    public int guestPhysicalAddressBits() {
        int bits = cpuid(0x80000008, 0)[0] & 0xff;
        return bits == 0 ? 36 : bits;
    }

    /** CPUID {@code function}/{@code index} as KVM will report it to guests: {eax, ebx, ecx, edx}. */
    public int[] cpuid(int function, int index) {
        int count = supportedCpuid.getInt(0);
        for (int i = 0; i < count; i++) {
            long e = KvmAbi.CPUID_ENTRIES + (long) i * KvmAbi.CPUID_ENTRY_SIZE;
            if (supportedCpuid.getInt(e) == function && supportedCpuid.getInt(e + 4) == index) {
                return new int[] {supportedCpuid.getInt(e + 12), supportedCpuid.getInt(e + 16),
                    supportedCpuid.getInt(e + 20), supportedCpuid.getInt(e + 24)};
            }
        }
        return new int[4];
    }

    public VmFd createVm() {
        int vmFd = ioctl(KvmAbi.KVM_CREATE_VM, 0, "KVM_CREATE_VM");
        return new VmFd(this, vmFd);
    }

    private int ioctl(long request, long arg, String name) {
        try {
            return LibC.ioctl(fd, request, arg);
        } catch (LastErrorException e) {
            throw new KvmException(name + " on " + DEVICE + " failed", e.getErrorCode());
        }
    }

    @Override
    /** Closes {@code /dev/kvm}; idempotent. */
    public void close() {
        if (closed.compareAndSet(false, true)) {
            LibC.close(fd);
        }
    }
}
