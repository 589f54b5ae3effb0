/*
 * What a system call from CPL 3 costs by each way the trap stub could reach the host, in a bare VM
 * of this program's own (no engine, no JVM): a loop of `mov eax, 110; syscall` at CPL 3, the
 * host answering each call through sync regs. See docs/benchmarks.md, "The system call doorbell".
 *
 *   gcc -O2 -o trap_paths trap_paths.c && taskset -c 0 ./trap_paths 10000 PATH
 *
 * PATH:
 *   gp        the stub's `out` raises #GP (IOPL 0) at CPL 3; the CPL 0 #GP entry's `out` exits;
 *             the host writes the return into the exception frame; `iretq` (the engine until 530ccd6)
 *   iopl      IOPL 3 in the program's RFLAGS, kept by FMASK: the stub's `out` would exit directly
 *   int3      `int3` with KVM_SET_GUEST_DEBUG (software breakpoints exit to the host)
 *   doorbell  `mov %cs, DOORBELL`: a write to a page with no memory slot behind it, an MMIO exit
 *             whose data is the code segment; the host returns by setting RIP and RFLAGS (the engine)
 *
 * Two more PATHs take the doorbell apart: between two doorbell calls the program runs 100 of
 *   in-guest  `syscall`s the stub answers itself (returning through its own stack: `popfq` from R11,
 *             `jmp *%rcx`), what a call costs that never reaches the host: PVM's `syscall` alone
 *   cpuid     `cpuid`s, an exit that KVM handles in the kernel without returning to this program
 * and the probe prints the cost of one of them (the time per round, less a doorbell call, / 100).
 *
 * On the nested PVM hosts of this project, `syscall` does not change privilege, so the stub runs at
 * CPL 3; `iopl` and `int3` do not reach the host there (the probe says what happened instead).
 */
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>

#define MEM (4u << 20)
#define USER_CODE 0x6000
#define STUB 0x7000
#define GP_ENTRY 0x5000
#define DOORBELL 0x400000 /* the third 2 MiB page: mapped, but no memory slot behind it */

static double now_us(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

int main(int argc, char **argv) {
    int calls = argc > 1 ? atoi(argv[1]) : 10000;
    const char *path = argc > 2 ? argv[2] : "doorbell";
    int gp = !strcmp(path, "gp"), iopl = !strcmp(path, "iopl"), int3 = !strcmp(path, "int3");
    int in_guest = !strcmp(path, "in-guest"), cpuid_exit = !strcmp(path, "cpuid");
    int inner = in_guest || cpuid_exit ? 100 : 0;
    int doorbell = !strcmp(path, "doorbell") || inner;
    if (!gp && !iopl && !int3 && !doorbell) {
        fprintf(stderr, "usage: %s CALLS gp|iopl|int3|doorbell|in-guest|cpuid\n", argv[0]);
        return 2;
    }
    uint8_t *mem = mmap(NULL, MEM, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    int kvm = open("/dev/kvm", O_RDWR), vm = ioctl(kvm, KVM_CREATE_VM, 0);
    struct kvm_userspace_memory_region region = {.slot = 0, .memory_size = MEM, .userspace_addr = (uintptr_t) mem};
    ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region);

    /* Identity-mapped 2 MiB pages, all user-accessible; the third has no memory behind it. */
    uint64_t *pml4 = (void *) (mem + 0x1000), *pdpt = (void *) (mem + 0x2000), *pd = (void *) (mem + 0x3000);
    pml4[0] = 0x2000 | 7;
    pdpt[0] = 0x3000 | 7;
    pd[0] = 0x87;
    pd[1] = 0x200087;
    pd[2] = DOORBELL | 0x87;

    /* GDT: kernel code/data, user data/code, TSS with IST1 and RSP0; IDT: vector 13 only. */
    uint64_t *gdt = (void *) (mem + 0x500);
    gdt[1] = 0x00209A0000000000ULL;
    gdt[2] = 0x0000920000000000ULL;
    gdt[3] = 0x0000F20000000000ULL;
    gdt[4] = 0x0020FA0000000000ULL;
    uint64_t tss = 0x600;
    *(uint64_t *) (mem + tss + 4) = 0x9ff0;
    *(uint64_t *) (mem + tss + 36) = 0xaff0;
    *(uint16_t *) (mem + tss + 102) = 0x68;
    gdt[5] = 0x67 | ((tss & 0xffffff) << 16) | (0x89ULL << 40);
    gdt[6] = 0;
    uint64_t *idt = (void *) (mem + 0x20000);
    idt[13 * 2] = (GP_ENTRY & 0xffff) | (0x08ULL << 16) | (1ULL << 32) | (0x8EULL << 40)
                  | (((uint64_t) (GP_ENTRY >> 16) & 0xffff) << 48);
    uint8_t gp_entry[] = {0xe6, 0xad, 0x48, 0x83, 0xc4, 0x08, 0x48, 0xcf}; /* out 0xad, al; add rsp, 8; iretq */
    memcpy(mem + GP_ENTRY, gp_entry, sizeof gp_entry);

    uint8_t stub_out[] = {0xe6, 0x80, 0x48, 0x0f, 0x07};                            /* out 0x80, al; sysretq */
    uint8_t stub_int3[] = {0xcc, 0x48, 0x0f, 0x07};                                 /* int3; sysretq */
    uint8_t stub_doorbell[] = {0x8c, 0x0c, 0x25, 0x00, 0x00, 0x40, 0x00, 0x48, 0x0f, 0x07}; /* mov %cs, DOORBELL; sysretq */
    /* in-guest: a call other than 110 returns at once, through a stack of the stub's own (the
     * program's red zone is not the stub's to use):
     *   cmp eax, 110; je doorbell; mov [0x8ff8], rsp; mov esp, 0x8ff8; push r11; popfq;
     *   mov rsp, [0x8ff8]; jmp rcx; doorbell: mov %cs, DOORBELL; sysretq */
    uint8_t stub_in_guest[] = {0x83, 0xf8, 110, 0x74, 0x1a, 0x48, 0x89, 0x24, 0x25, 0xf8, 0x8f, 0x00, 0x00,
                               0xbc, 0xf8, 0x8f, 0x00, 0x00, 0x41, 0x53, 0x9d, 0x48, 0x8b, 0x24, 0x25, 0xf8,
                               0x8f, 0x00, 0x00, 0xff, 0xe1, 0x8c, 0x0c, 0x25, 0x00, 0x00, 0x40, 0x00, 0x48,
                               0x0f, 0x07};
    if (in_guest) memcpy(mem + STUB, stub_in_guest, sizeof stub_in_guest);
    else if (doorbell) memcpy(mem + STUB, stub_doorbell, sizeof stub_doorbell);
    else if (int3) memcpy(mem + STUB, stub_int3, sizeof stub_int3);
    else memcpy(mem + STUB, stub_out, sizeof stub_out);
    /* loop: mov r8d, INNER; inner: (nothing | mov eax, 39; syscall | xor eax, eax; cpuid);
     * dec r8d; jnz inner (when INNER); mov eax, 110; syscall; jmp loop */
    uint8_t *user = mem + USER_CODE;
    int n = 0;
    uint8_t load_inner[] = {0x41, 0xb8, inner, 0, 0, 0};
    uint8_t call_in_guest[] = {0xb8, 39, 0, 0, 0, 0x0f, 0x05};
    uint8_t call_cpuid[] = {0x31, 0xc0, 0x0f, 0xa2};
    uint8_t count_down[] = {0x41, 0xff, 0xc8, 0x75, 0};
    uint8_t call_host[] = {0xb8, 110, 0, 0, 0, 0x0f, 0x05, 0xeb, 0};
    if (inner) {
        memcpy(user + n, load_inner, sizeof load_inner), n += sizeof load_inner;
        int body = n;
        if (in_guest) memcpy(user + n, call_in_guest, sizeof call_in_guest), n += sizeof call_in_guest;
        else memcpy(user + n, call_cpuid, sizeof call_cpuid), n += sizeof call_cpuid;
        memcpy(user + n, count_down, sizeof count_down), n += sizeof count_down;
        user[n - 1] = (uint8_t) (body - n);
    }
    memcpy(user + n, call_host, sizeof call_host), n += sizeof call_host;
    user[n - 1] = (uint8_t) (0 - n);

    int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
    struct kvm_run *run = mmap(NULL, ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0), PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
    struct {
        struct kvm_cpuid2 c;
        struct kvm_cpuid_entry2 e[100];
    } cpuid = {.c.nent = 100};
    ioctl(kvm, KVM_GET_SUPPORTED_CPUID, &cpuid);
    ioctl(vcpu, KVM_SET_CPUID2, &cpuid);
    struct kvm_sregs s;
    ioctl(vcpu, KVM_GET_SREGS, &s);
    s.cr3 = 0x1000;
    s.cr4 = 0x620;
    s.cr0 = 0x80050033;
    s.efer = 0xD01;
    s.gdt.base = 0x500;
    s.gdt.limit = 7 * 8 - 1;
    s.idt.base = 0x20000;
    s.idt.limit = 256 * 16 - 1;
    s.cs = (struct kvm_segment){.limit = 0xffffffff, .selector = 0x23, .type = 11, .present = 1, .dpl = 3, .s = 1, .l = 1, .g = 1};
    s.ds = s.es = s.fs = s.gs = s.ss =
        (struct kvm_segment){.limit = 0xffffffff, .selector = 0x1b, .type = 3, .present = 1, .dpl = 3, .db = 1, .s = 1, .g = 1};
    s.tr = (struct kvm_segment){.base = tss, .limit = 0x67, .selector = 0x28, .type = 11, .present = 1};
    ioctl(vcpu, KVM_SET_SREGS, &s);
    uint64_t fmask = iopl ? 0x44700 : 0x47700; /* TF IF DF NT AC, and IOPL unless the path needs it */
    struct {
        struct kvm_msrs m;
        struct kvm_msr_entry e[3];
    } msrs = {.m.nmsrs = 3,
              .e = {{.index = 0xC0000081, .data = ((uint64_t) 0x10 << 48) | ((uint64_t) 0x08 << 32)},
                    {.index = 0xC0000082, .data = STUB},
                    {.index = 0xC0000084, .data = fmask}}};
    ioctl(vcpu, KVM_SET_MSRS, &msrs);
    if (int3) {
        struct kvm_guest_debug debug = {.control = KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_USE_SW_BP};
        if (ioctl(vcpu, KVM_SET_GUEST_DEBUG, &debug)) perror("KVM_SET_GUEST_DEBUG");
    }
    struct kvm_regs regs = {.rip = USER_CODE, .rsp = 0x7ff0, .rflags = iopl ? 0x3202 : 0x202};
    ioctl(vcpu, KVM_SET_REGS, &regs);
    run->kvm_valid_regs = KVM_SYNC_X86_REGS;

    double start = 0;
    for (int i = 0; i < calls + 100; i++) {
        if (i == 100) start = now_us();
        ioctl(vcpu, KVM_RUN, 0);
        struct kvm_regs *r = &run->s.regs.regs;
        if (gp && run->exit_reason == KVM_EXIT_IO && run->io.port == 0xad) {
            uint64_t *frame = (uint64_t *) (mem + r->rsp); /* error code, rip, cs, rflags, rsp, ss */
            frame[1] = r->rcx;
            frame[3] = r->r11;
        } else if ((iopl && run->exit_reason == KVM_EXIT_IO && run->io.port == 0x80)
                   || (int3 && run->exit_reason == KVM_EXIT_DEBUG)
                   || (doorbell && run->exit_reason == KVM_EXIT_MMIO && run->mmio.phys_addr == DOORBELL)) {
            if (i == 0 && doorbell) printf("doorbell: the stub ran with CS 0x%x\n", *(uint16_t *) run->mmio.data);
            r->rip = r->rcx;
            r->rflags = r->r11;
        } else {
            printf("%s: not reaching the host that way here: exit %d (port 0x%x) at RIP 0x%llx after %d calls\n", path,
                   run->exit_reason, run->io.port, r->rip, i);
            return 1;
        }
        r->rax = 0;
        run->kvm_dirty_regs = KVM_SYNC_X86_REGS;
    }
    double per_round = (now_us() - start) / calls;
    if (inner) {
        printf("%s: %.1f us per round of %d, so about %.1f us each beside a doorbell call (run the doorbell path "
               "for that)\n", path, per_round, inner, per_round / inner);
    } else {
        printf("%s: %.1f us per system call (%d calls)\n", path, per_round, calls);
    }
    return 0;
}
