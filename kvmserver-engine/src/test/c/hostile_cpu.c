/*
 * Attacks on the CPU and the engine's own pages, chosen by argv[1]; each should end the program
 * with a clean crash (or, for the bombs, a clean error the program sees). argv[2] is an address
 * for the modes that need one (the page-table pool).
 *   privileged instructions: hlt cli sti out in wrmsr rdmsr movcr3 lgdt lidt int80 int3 int14
 *     icebp sysret swapgs iretq-kernel ljmp-kernel movss-kernel xsetbv invlpg wbinvd clts
 *   engine pages: write-gdt write-idt write-stub write-stub-end write-entries write-exception-stack
 *     write-pool read-pool exec-entries jump-stub-noncanonical
 *   stack-overflow, heap-bomb, mmap-bomb, huge-mmap, stack-bomb
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#pragma GCC diagnostic ignored "-Winfinite-recursion"
static int depth(int n) {
    volatile char frame[4096];
    frame[0] = (char) n;
    frame[4095] = (char) n;
    return depth(n + 1) + frame[0] + frame[4095];
}

int main(int argc, char **argv) {
    const char *how = argc > 1 ? argv[1] : "hlt";
    long address = argc > 2 ? strtol(argv[2], NULL, 0) : 0;
    struct __attribute__((packed)) { uint16_t limit; uint64_t base; } table = {0xfff, 0};
    if (!strcmp(how, "hlt")) __asm__ volatile("hlt");
    else if (!strcmp(how, "cli")) __asm__ volatile("cli");
    else if (!strcmp(how, "sti")) __asm__ volatile("sti");
    else if (!strcmp(how, "out")) __asm__ volatile("mov $0, %%eax; outb %%al, $0x80" ::: "eax");
    else if (!strcmp(how, "out-exception-port")) __asm__ volatile("mov $0, %%eax; outb %%al, $0xad" ::: "eax");
    else if (!strcmp(how, "in")) __asm__ volatile("inb $0x80, %%al" ::: "eax");
    else if (!strcmp(how, "wrmsr")) __asm__ volatile("mov $0xc0000082, %%ecx; xor %%eax, %%eax; xor %%edx, %%edx; wrmsr" ::: "eax", "ecx", "edx");
    else if (!strcmp(how, "rdmsr")) __asm__ volatile("mov $0xc0000082, %%ecx; rdmsr" ::: "eax", "ecx", "edx");
    else if (!strcmp(how, "movcr3")) __asm__ volatile("xor %%eax, %%eax; mov %%rax, %%cr3" ::: "rax");
    else if (!strcmp(how, "lgdt")) __asm__ volatile("lgdt %0" ::"m"(table));
    else if (!strcmp(how, "lidt")) __asm__ volatile("lidt %0" ::"m"(table));
    else if (!strcmp(how, "int80")) __asm__ volatile("mov $60, %%eax; xor %%edi, %%edi; int $0x80" ::: "eax", "edi");
    else if (!strcmp(how, "int3")) __asm__ volatile("int3");
    else if (!strcmp(how, "int14")) __asm__ volatile("int $14");
    else if (!strcmp(how, "icebp")) __asm__ volatile(".byte 0xf1");
    else if (!strcmp(how, "sysret")) __asm__ volatile("sysretq");
    else if (!strcmp(how, "swapgs")) __asm__ volatile("swapgs");
    else if (!strcmp(how, "iretq-kernel")) {
        /* an iret frame that returns to CPL 0: ss=0x10, rsp, rflags, cs=0x08, rip */
        __asm__ volatile("mov %%rsp, %%rax; push $0x10; push %%rax; pushfq; push $0x08; lea 1f(%%rip), %%rax; push %%rax; iretq; 1:"
                         ::: "rax", "memory");
    } else if (!strcmp(how, "ljmp-kernel")) {
        struct __attribute__((packed)) { uint64_t offset; uint16_t selector; } far = {0, 0x08};
        far.offset = (uint64_t) (uintptr_t) &&after;
        __asm__ volatile("rex64 ljmp *%0" ::"m"(far));
    after:;
    } else if (!strcmp(how, "movss-kernel")) __asm__ volatile("mov $0x10, %%eax; mov %%eax, %%ss" ::: "eax");
    else if (!strcmp(how, "xsetbv")) __asm__ volatile("xor %%ecx, %%ecx; mov $7, %%eax; xor %%edx, %%edx; xsetbv" ::: "eax", "ecx", "edx");
    else if (!strcmp(how, "invlpg")) __asm__ volatile("invlpg (%0)" ::"r"(0x1000L));
    else if (!strcmp(how, "wbinvd")) __asm__ volatile("wbinvd");
    else if (!strcmp(how, "clts")) __asm__ volatile("clts");
    else if (!strcmp(how, "write-gdt")) *(volatile long *) 0x1000 = 0;
    else if (!strcmp(how, "write-tss")) *(volatile long *) 0x1084 = 0x7000;
    else if (!strcmp(how, "write-idt")) *(volatile long *) 0x2000 = 0;
    else if (!strcmp(how, "write-stub")) *(volatile char *) 0x3000 = (char) 0xf4;
    else if (!strcmp(how, "write-entries")) *(volatile char *) 0xf000 = (char) 0xf4;
    else if (!strcmp(how, "write-doorbell")) *(volatile short *) 0xa000 = 0x23; /* as the syscall entry does */
    else if (!strcmp(how, "read-doorbell")) printf("read %x\n", *(volatile char *) 0xa010);
    else if (!strcmp(how, "exec-doorbell")) ((void (*)(void)) 0xa000)();
    /* Accesses KVM splits into several MMIO exits: what gcc -O2 makes of memcpy(buf, (void *) 0xa000, 16). */
    else if (!strcmp(how, "read-doorbell-wide")) {
        char out[16];
        __asm__ volatile("movdqu 0xa000, %%xmm0; movdqu %%xmm0, %0" : "=m"(out)::"xmm0");
        printf("read %x\n", out[0]);
    } else if (!strcmp(how, "write-doorbell-wide")) {
        __asm__ volatile("pxor %%xmm0, %%xmm0; movdqu %%xmm0, 0xa000" ::: "xmm0");
    } else if (!strcmp(how, "read-doorbell-rep")) {
        static char out[4096];
        void *to = out, *from = (void *) 0xa000;
        long count = sizeof out;
        __asm__ volatile("rep movsb" : "+D"(to), "+S"(from), "+c"(count)::"memory");
        printf("read %x\n", out[0]);
    }
    else if (!strcmp(how, "write-exception-stack")) *(volatile long *) 0x6ff8 = 0;
    else if (!strcmp(how, "write-pool")) *(volatile long *) address = 0;
    else if (!strcmp(how, "read-pool")) printf("read %lx\n", *(volatile long *) address);
    else if (!strcmp(how, "exec-entries")) ((void (*)(void)) 0xf000)();
    else if (!strcmp(how, "write-stub-end")) *(volatile char *) 0x4ff8 = (char) 0xf4;
    else if (!strcmp(how, "jump-stub-noncanonical")) {
        /* the stub's out, reached without syscall: it returns to RCX, here non-canonical */
        __asm__ volatile("mov $39, %%eax; movabs $0x8000000000001000, %%rcx; mov $0x202, %%r11; jmp *%0"
                         ::"r"(0x3000L) : "rax", "rcx", "r11");
    } else if (!strcmp(how, "stack-overflow")) {
        printf("%d\n", depth(0));
    } else if (!strcmp(how, "stack-bomb")) {
        /* one frame far larger than the stack, written top-down as a stack probe would */
        size_t size = 256L << 20;
        volatile char *p = __builtin_alloca(size);
        for (long i = (long) size - 1; i >= 0; i -= 4096) p[i] = 1;
        printf("survived %p\n", (void *) p);
    } else if (!strcmp(how, "heap-bomb")) {
        long mib = 0;
        for (;;) {
            char *p = malloc(1 << 20);
            if (!p) break;
            memset(p, 1, 1 << 20);
            mib++;
        }
        printf("heap bomb stopped after %ld MiB\n", mib);
        return 0;
    } else if (!strcmp(how, "mmap-bomb")) {
        long mib = 0;
        for (;;) {
            char *p = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (p == MAP_FAILED) {
                printf("mmap bomb stopped after %ld MiB: errno=%d\n", mib, errno);
                return 0;
            }
            memset(p, 1, 1 << 20);
            mib++;
        }
    } else if (!strcmp(how, "huge-mmap")) {
        long sizes[] = {1L << 46, 1L << 40, 1L << 32, -4096L};
        for (int i = 0; i < 4; i++) {
            void *p = mmap(NULL, sizes[i], PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
            printf("mmap(%lx)=%s errno=%d\n", sizes[i], p == MAP_FAILED ? "failed" : "ok", p == MAP_FAILED ? errno : 0);
        }
        return 0;
    }
    printf("still alive after %s\n", how);
    return 3;
}
