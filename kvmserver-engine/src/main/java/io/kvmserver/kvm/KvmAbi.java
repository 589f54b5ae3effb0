package io.kvmserver.kvm;

/**
 * Every KVM ioctl number and native struct layout the engine uses, in one place (x86-64).
 *
 * <p>Values come from {@code /usr/include/linux/kvm.h}; {@code KvmAbiTest} compiles a C program
 * against that header and checks each constant, so a mistake here fails a test instead of
 * corrupting a vCPU. Structs are accessed by offset rather than through JNA {@code Structure}
 * so that the exit path does no reflection and no allocation.
 */
public final class KvmAbi {

    private KvmAbi() {
    }

    // System ioctls.
    public static final long KVM_GET_API_VERSION = 0xae00L;
    public static final long KVM_CREATE_VM = 0xae01L;
    public static final long KVM_CHECK_EXTENSION = 0xae03L;
    public static final long KVM_GET_VCPU_MMAP_SIZE = 0xae04L;
    public static final long KVM_GET_SUPPORTED_CPUID = 0xc008ae05L;

    // VM ioctls.
    public static final long KVM_SET_USER_MEMORY_REGION = 0x4020ae46L;
    public static final long KVM_CREATE_VCPU = 0xae41L;
    public static final long KVM_ENABLE_CAP = 0x4068aea3L;
    public static final long KVM_GET_DIRTY_LOG = 0x4010ae42L;
    public static final long KVM_RESET_DIRTY_RINGS = 0xaec7L;
    public static final long KVM_SET_TSS_ADDR = 0xae47L;

    // vCPU ioctls.
    public static final long KVM_RUN = 0xae80L;
    public static final long KVM_GET_REGS = 0x8090ae81L;
    public static final long KVM_SET_REGS = 0x4090ae82L;
    public static final long KVM_GET_SREGS = 0x8138ae83L;
    public static final long KVM_SET_SREGS = 0x4138ae84L;
    /** {@code _IOR(KVMIO, 0x9f, struct kvm_vcpu_events)} and its {@code _IOW(KVMIO, 0xa0, ...)}. */
    public static final long KVM_GET_VCPU_EVENTS = 0x8040ae9fL;
    public static final long KVM_SET_VCPU_EVENTS = 0x4040aea0L;
    /** {@code sizeof(struct kvm_vcpu_events)}. */
    public static final int VCPU_EVENTS_SIZE = 64;
    /** {@code kvm_vcpu_events.flags}: the NMI-pending and interrupt-shadow fields are to be set too. */
    public static final int VCPU_EVENTS_FLAGS = 20;
    public static final int KVM_VCPUEVENT_VALID_NMI_PENDING = 0x1;
    public static final int KVM_VCPUEVENT_VALID_SHADOW = 0x4;
    public static final long KVM_GET_MSRS = 0xc008ae88L;
    public static final long KVM_SET_MSRS = 0x4008ae89L;
    public static final long KVM_SET_CPUID2 = 0x4008ae90L;
    public static final long KVM_GET_XSAVE = 0x9000aea4L;
    public static final long KVM_SET_XSAVE = 0x5000aea5L;
    public static final long KVM_GET_XCRS = 0x8188aea6L;
    public static final long KVM_SET_XCRS = 0x4188aea7L;
    public static final long KVM_GET_TSC_KHZ = 0xaea3L;
    public static final long KVM_SET_DEVICE_ATTR = 0x4018aee1L;
    public static final long KVM_GET_DEVICE_ATTR = 0x4018aee2L;
    public static final long KVM_HAS_DEVICE_ATTR = 0x4018aee3L;

    // vCPU device attributes (asm/kvm.h): the TSC offset, guest TSC = host TSC + offset.
    public static final int KVM_VCPU_TSC_CTRL = 0;
    public static final int KVM_VCPU_TSC_OFFSET = 0;

    // Capabilities.
    public static final int KVM_CAP_SYNC_REGS = 0x4a;
    public static final int KVM_CAP_IMMEDIATE_EXIT = 0x88;
    public static final int KVM_CAP_XCRS = 0x38;
    public static final int KVM_CAP_DIRTY_LOG_RING = 0xc0;

    public static final int KVM_API_VERSION = 12;

    // Exit reasons.
    public static final int KVM_EXIT_UNKNOWN = 0;
    public static final int KVM_EXIT_EXCEPTION = 1;
    public static final int KVM_EXIT_IO = 2;
    public static final int KVM_EXIT_HLT = 5;
    public static final int KVM_EXIT_MMIO = 6;
    public static final int KVM_EXIT_SHUTDOWN = 8;
    public static final int KVM_EXIT_FAIL_ENTRY = 9;
    public static final int KVM_EXIT_INTR = 10;
    public static final int KVM_EXIT_INTERNAL_ERROR = 17;
    public static final int KVM_EXIT_DIRTY_RING_FULL = 31;

    /** Page offset of the dirty ring in a vCPU's mmap ({@code asm/kvm.h}). */
    public static final int KVM_DIRTY_LOG_PAGE_OFFSET = 64;
    /** {@code struct kvm_dirty_gfn}: flags, slot, offset. */
    public static final int DIRTY_GFN_SIZE = 16;
    public static final int KVM_DIRTY_GFN_F_DIRTY = 1;
    public static final int KVM_DIRTY_GFN_F_RESET = 2;

    public static final int KVM_SYNC_X86_REGS = 1;
    public static final int KVM_SYNC_X86_SREGS = 2;

    // struct kvm_run
    public static final int RUN_IMMEDIATE_EXIT = 1;
    public static final int RUN_EXIT_REASON = 8;
    public static final int RUN_IO_DIRECTION = 32;
    public static final int RUN_IO_SIZE = 33;
    public static final int RUN_IO_PORT = 34;
    public static final int RUN_IO_COUNT = 36;
    public static final int RUN_IO_DATA_OFFSET = 40;
    public static final int RUN_MMIO_PHYS_ADDR = 32;
    public static final int RUN_MMIO_DATA = 40;
    public static final int RUN_MMIO_LEN = 48;
    public static final int RUN_MMIO_IS_WRITE = 52;
    public static final int RUN_INTERNAL_SUBERROR = 32;
    public static final int RUN_FAIL_ENTRY_REASON = 32;
    public static final int RUN_VALID_REGS = 288;
    public static final int RUN_DIRTY_REGS = 296;
    public static final int RUN_SYNC_REGS = 304;
    /** {@code kvm_run.s.regs.sregs}: special registers KVM applies at the next run when marked dirty. */
    public static final int RUN_SYNC_SREGS = 448;

    // struct kvm_regs: sixteen general registers in this order, then rip and rflags.
    public static final int REGS_SIZE = 144;
    public static final int RAX = 0;
    public static final int RBX = 8;
    public static final int RCX = 16;
    public static final int RDX = 24;
    public static final int RSI = 32;
    public static final int RDI = 40;
    public static final int RSP = 48;
    public static final int RBP = 56;
    public static final int R8 = 64;
    public static final int R9 = 72;
    public static final int R10 = 80;
    public static final int R11 = 88;
    public static final int R12 = 96;
    public static final int R13 = 104;
    public static final int R14 = 112;
    public static final int R15 = 120;
    public static final int RIP = 128;
    public static final int RFLAGS = 136;

    // struct kvm_sregs
    public static final int SREGS_SIZE = 312;
    public static final int SREGS_CS = 0;
    public static final int SREGS_DS = 24;
    public static final int SREGS_ES = 48;
    public static final int SREGS_FS = 72;
    public static final int SREGS_GS = 96;
    public static final int SREGS_SS = 120;
    public static final int SREGS_TR = 144;
    public static final int SREGS_LDT = 168;
    public static final int SREGS_GDT = 192;
    public static final int SREGS_IDT = 208;
    public static final int SREGS_CR0 = 224;
    public static final int SREGS_CR2 = 232;
    public static final int SREGS_CR3 = 240;
    public static final int SREGS_CR4 = 248;
    public static final int SREGS_EFER = 264;

    // struct kvm_segment
    public static final int SEG_BASE = 0;
    public static final int SEG_LIMIT = 8;
    public static final int SEG_SELECTOR = 12;
    public static final int SEG_TYPE = 14;
    public static final int SEG_PRESENT = 15;
    public static final int SEG_DPL = 16;
    public static final int SEG_DB = 17;
    public static final int SEG_S = 18;
    public static final int SEG_L = 19;
    public static final int SEG_G = 20;
    public static final int SEG_UNUSABLE = 22;

    // struct kvm_dtable
    public static final int DTABLE_BASE = 0;
    public static final int DTABLE_LIMIT = 8;

    // struct kvm_userspace_memory_region
    public static final int MEMORY_REGION_SIZE = 32;

    // struct kvm_cpuid2 / kvm_cpuid_entry2
    public static final int CPUID_ENTRIES = 8;
    public static final int CPUID_ENTRY_SIZE = 40;
    public static final int CPUID_MAX_ENTRIES = 256;

    // struct kvm_msrs / kvm_msr_entry
    public static final int MSRS_ENTRIES = 8;
    public static final int MSR_ENTRY_SIZE = 16;

    // struct kvm_xcrs
    public static final int XCRS_SIZE = 392;

    // struct kvm_xsave (the legacy 4 KiB form)
    public static final int XSAVE_SIZE = 4096;

    // struct kvm_enable_cap
    public static final int ENABLE_CAP_SIZE = 104;

    // struct kvm_device_attr: flags, group, attr, addr (of the value)
    public static final int DEVICE_ATTR_SIZE = 24;
}
