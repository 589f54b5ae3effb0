/*
 * Host program (not a guest): prints, as "NAME VALUE", every KVM constant and struct offset that
 * KvmAbi.java hard-codes, taken from <linux/kvm.h>. KvmAbiTest compares them with KvmAbi.
 */
#include <linux/kvm.h>
#include <stddef.h>
#include <stdio.h>

#define C(name) printf(#name " %lld\n", (long long) (name))
#define V(name, value) printf(#name " %lld\n", (long long) (value))

int main(void) {
    C(KVM_GET_API_VERSION); C(KVM_CREATE_VM); C(KVM_CHECK_EXTENSION); C(KVM_GET_VCPU_MMAP_SIZE);
    C(KVM_GET_SUPPORTED_CPUID);
    C(KVM_SET_USER_MEMORY_REGION); C(KVM_CREATE_VCPU); C(KVM_ENABLE_CAP); C(KVM_GET_DIRTY_LOG);
    C(KVM_RESET_DIRTY_RINGS); C(KVM_SET_TSS_ADDR);
    C(KVM_RUN); C(KVM_GET_REGS); C(KVM_SET_REGS); C(KVM_GET_SREGS); C(KVM_SET_SREGS); C(KVM_GET_MSRS);
    C(KVM_SET_MSRS); C(KVM_SET_CPUID2); C(KVM_GET_XSAVE); C(KVM_SET_XSAVE); C(KVM_GET_XCRS); C(KVM_SET_XCRS);
    C(KVM_GET_TSC_KHZ); C(KVM_SET_DEVICE_ATTR); C(KVM_GET_DEVICE_ATTR); C(KVM_HAS_DEVICE_ATTR);
    C(KVM_VCPU_TSC_CTRL); C(KVM_VCPU_TSC_OFFSET);
    C(KVM_CAP_SYNC_REGS); C(KVM_CAP_IMMEDIATE_EXIT); C(KVM_CAP_XCRS); C(KVM_CAP_DIRTY_LOG_RING);
    C(KVM_API_VERSION);
    C(KVM_EXIT_UNKNOWN); C(KVM_EXIT_EXCEPTION); C(KVM_EXIT_IO); C(KVM_EXIT_HLT); C(KVM_EXIT_MMIO);
    C(KVM_EXIT_SHUTDOWN); C(KVM_EXIT_FAIL_ENTRY); C(KVM_EXIT_INTR); C(KVM_EXIT_INTERNAL_ERROR);
    C(KVM_SYNC_X86_REGS); C(KVM_SYNC_X86_SREGS);
    C(KVM_EXIT_DIRTY_RING_FULL); C(KVM_DIRTY_LOG_PAGE_OFFSET); C(KVM_DIRTY_GFN_F_DIRTY); C(KVM_DIRTY_GFN_F_RESET);
    V(DIRTY_GFN_SIZE, sizeof(struct kvm_dirty_gfn));

    V(RUN_IMMEDIATE_EXIT, offsetof(struct kvm_run, immediate_exit));
    V(RUN_EXIT_REASON, offsetof(struct kvm_run, exit_reason));
    V(RUN_IO_DIRECTION, offsetof(struct kvm_run, io.direction));
    V(RUN_IO_SIZE, offsetof(struct kvm_run, io.size));
    V(RUN_IO_PORT, offsetof(struct kvm_run, io.port));
    V(RUN_IO_COUNT, offsetof(struct kvm_run, io.count));
    V(RUN_IO_DATA_OFFSET, offsetof(struct kvm_run, io.data_offset));
    V(RUN_MMIO_PHYS_ADDR, offsetof(struct kvm_run, mmio.phys_addr));
    V(RUN_MMIO_DATA, offsetof(struct kvm_run, mmio.data));
    V(RUN_MMIO_LEN, offsetof(struct kvm_run, mmio.len));
    V(RUN_MMIO_IS_WRITE, offsetof(struct kvm_run, mmio.is_write));
    V(RUN_INTERNAL_SUBERROR, offsetof(struct kvm_run, internal.suberror));
    V(RUN_FAIL_ENTRY_REASON, offsetof(struct kvm_run, fail_entry.hardware_entry_failure_reason));
    V(RUN_VALID_REGS, offsetof(struct kvm_run, kvm_valid_regs));
    V(RUN_DIRTY_REGS, offsetof(struct kvm_run, kvm_dirty_regs));
    V(RUN_SYNC_REGS, offsetof(struct kvm_run, s.regs));
    V(RUN_SYNC_SREGS, offsetof(struct kvm_run, s.regs.sregs));

    V(REGS_SIZE, sizeof(struct kvm_regs));
    V(RAX, offsetof(struct kvm_regs, rax)); V(RBX, offsetof(struct kvm_regs, rbx));
    V(RCX, offsetof(struct kvm_regs, rcx)); V(RDX, offsetof(struct kvm_regs, rdx));
    V(RSI, offsetof(struct kvm_regs, rsi)); V(RDI, offsetof(struct kvm_regs, rdi));
    V(RSP, offsetof(struct kvm_regs, rsp)); V(RBP, offsetof(struct kvm_regs, rbp));
    V(R8, offsetof(struct kvm_regs, r8)); V(R9, offsetof(struct kvm_regs, r9));
    V(R10, offsetof(struct kvm_regs, r10)); V(R11, offsetof(struct kvm_regs, r11));
    V(R12, offsetof(struct kvm_regs, r12)); V(R13, offsetof(struct kvm_regs, r13));
    V(R14, offsetof(struct kvm_regs, r14)); V(R15, offsetof(struct kvm_regs, r15));
    V(RIP, offsetof(struct kvm_regs, rip)); V(RFLAGS, offsetof(struct kvm_regs, rflags));

    V(SREGS_SIZE, sizeof(struct kvm_sregs));
    C(KVM_GET_VCPU_EVENTS); C(KVM_SET_VCPU_EVENTS);
    C(KVM_VCPUEVENT_VALID_NMI_PENDING); C(KVM_VCPUEVENT_VALID_SHADOW);
    V(VCPU_EVENTS_SIZE, sizeof(struct kvm_vcpu_events));
    V(VCPU_EVENTS_FLAGS, offsetof(struct kvm_vcpu_events, flags));
    V(SREGS_CS, offsetof(struct kvm_sregs, cs)); V(SREGS_DS, offsetof(struct kvm_sregs, ds));
    V(SREGS_ES, offsetof(struct kvm_sregs, es)); V(SREGS_FS, offsetof(struct kvm_sregs, fs));
    V(SREGS_GS, offsetof(struct kvm_sregs, gs)); V(SREGS_SS, offsetof(struct kvm_sregs, ss));
    V(SREGS_TR, offsetof(struct kvm_sregs, tr)); V(SREGS_LDT, offsetof(struct kvm_sregs, ldt));
    V(SREGS_GDT, offsetof(struct kvm_sregs, gdt)); V(SREGS_IDT, offsetof(struct kvm_sregs, idt));
    V(SREGS_CR0, offsetof(struct kvm_sregs, cr0)); V(SREGS_CR2, offsetof(struct kvm_sregs, cr2));
    V(SREGS_CR3, offsetof(struct kvm_sregs, cr3)); V(SREGS_CR4, offsetof(struct kvm_sregs, cr4));
    V(SREGS_EFER, offsetof(struct kvm_sregs, efer));

    V(SEG_BASE, offsetof(struct kvm_segment, base)); V(SEG_LIMIT, offsetof(struct kvm_segment, limit));
    V(SEG_SELECTOR, offsetof(struct kvm_segment, selector)); V(SEG_TYPE, offsetof(struct kvm_segment, type));
    V(SEG_PRESENT, offsetof(struct kvm_segment, present)); V(SEG_DPL, offsetof(struct kvm_segment, dpl));
    V(SEG_DB, offsetof(struct kvm_segment, db)); V(SEG_S, offsetof(struct kvm_segment, s));
    V(SEG_L, offsetof(struct kvm_segment, l)); V(SEG_G, offsetof(struct kvm_segment, g));
    V(SEG_UNUSABLE, offsetof(struct kvm_segment, unusable));
    V(DTABLE_BASE, offsetof(struct kvm_dtable, base)); V(DTABLE_LIMIT, offsetof(struct kvm_dtable, limit));

    V(MEMORY_REGION_SIZE, sizeof(struct kvm_userspace_memory_region));
    V(CPUID_ENTRIES, offsetof(struct kvm_cpuid2, entries));
    V(CPUID_ENTRY_SIZE, sizeof(struct kvm_cpuid_entry2));
    V(MSRS_ENTRIES, offsetof(struct kvm_msrs, entries));
    V(MSR_ENTRY_SIZE, sizeof(struct kvm_msr_entry));
    V(XCRS_SIZE, sizeof(struct kvm_xcrs));
    V(XSAVE_SIZE, offsetof(struct kvm_xsave, region) + sizeof(((struct kvm_xsave *) 0)->region));
    V(ENABLE_CAP_SIZE, sizeof(struct kvm_enable_cap));
    V(DEVICE_ATTR_SIZE, sizeof(struct kvm_device_attr));
    return 0;
}
