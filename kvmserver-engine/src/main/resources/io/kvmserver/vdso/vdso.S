# The guest's vDSO code (GNU as, AT&T syntax). VdsoCode.java holds the same bytes; VdsoCodeTest
# assembles this file and compares them, the function offsets and the layout constants below.
#
# Each function answers from the time page ("[vvar]", the page just below the image, written
# only by the host: TimePage.java) with rdtsc and arithmetic, without an exit. Whatever it cannot
# answer (CPU-time and unknown clocks, a clock the host does not serve from the page, a pointer
# outside the program's address range) it passes to the real system call, with the arguments
# untouched, which reaches the engine through the trap stub like any other system call.
#
# Rules for this file: position-independent (the page is found RIP-relative), no stack at all (Go
# calls the vDSO on small stacks), only the caller-saved registers rax, rcx, rdx, r8-r11 and the
# argument registers the function owns; results as the kernel returns them (0 or -errno).

        .code64
        .text

        .set    TEXT_OFFSET, 0x800      # where VdsoImage puts this code in the image
        .set    PAGE_SIZE, 0x1000

        # The time page (TimePage.java has the same numbers)
        .set    VVAR_SEQ, 0x00          # u32: publications so far; the current slot is seq & 1
        .set    VVAR_USER_START, 0x08   # u64: lowest address the program can map
        .set    VVAR_USER_END, 0x10     # u64: end of the program's address range
        .set    VVAR_SLOTS, 0x40        # two slots, each with one entry per clock id 0..7
        .set    SLOT_SIZE, 0xc0
        .set    CLOCK_TSC_BASE, 0x00    # u64: the TSC at which the clock read BASE_NS
        .set    CLOCK_BASE_NS, 0x08     # u64: nanoseconds at TSC_BASE
        .set    CLOCK_MULT, 0x10        # u64: nanoseconds per TSC tick, << 32; 0: not served here
        .set    CLOCK_SIZE, 0x18
        .set    MAX_CLOCK, 7            # CLOCK_BOOTTIME; above it: system call
        # Clocks whose resolution is 1 ns (REALTIME, MONOTONIC, MONOTONIC_RAW, BOOTTIME); the
        # coarse ones tick at the host's rate, which only the system call knows.
        .set    FINE_CLOCKS, (1 << 0) | (1 << 1) | (1 << 4) | (1 << 7)

        .set    SYS_gettimeofday, 96
        .set    SYS_time, 201
        .set    SYS_clock_gettime, 228
        .set    SYS_clock_getres, 229
        .set    SYS_getcpu, 309

text_start:
        .set    vvar, text_start - TEXT_OFFSET - PAGE_SIZE

# Jumps to \fail unless [\ptr, \ptr + \size) lies inside the program's address range, so that
# NULL, the engine's low pages and wild pointers get the system call's EFAULT. (A pointer into an
# unmapped hole of the range faults, as it does with Linux's vDSO.) Clobbers r8.
        .macro  check_pointer ptr, size, fail
        cmp     vvar+VVAR_USER_START(%rip), \ptr
        jb      \fail
        lea     \size(\ptr), %r8
        cmp     vvar+VVAR_USER_END(%rip), %r8
        ja      \fail
        cmp     \ptr, %r8
        jb      \fail                   # wrapped around
        .endm

# As check_pointer, but NULL passes too: the call then writes nothing there.
        .macro  check_optional_pointer ptr, size, fail
        test    \ptr, \ptr
        jz      .Lnull\@
        check_pointer \ptr, \size, \fail
.Lnull\@:
        .endm

# rax = the clock's nanoseconds now, for the clock whose entry is at offset r9 in a slot; jumps to
# \fallback when the host does not serve it (multiplier 0). The host never rewrites the current
# slot: it fills the other one and then increments seq, so a reader retries only when a
# publication happened while it read. lfence keeps rdtsc after the loads before it and before the
# final check of seq. delta * mult is a signed 128-bit product: the host may put TSC_BASE a little
# in the future when it slows a clock down (see Timeline.java). Clobbers rcx, rdx, r8, r10, r11.
        .macro  read_clock fallback
        lea     vvar(%rip), %r10
.Lretry\@:
        mov     VVAR_SEQ(%r10), %r8d
        mov     %r8d, %r11d
        and     $1, %r11d
        imul    $SLOT_SIZE, %r11d, %r11d
        add     %r9, %r11
        mov     VVAR_SLOTS+CLOCK_MULT(%r10,%r11), %rcx
        test    %rcx, %rcx
        jz      \fallback
        lfence
        rdtsc
        lfence
        shl     $32, %rdx
        or      %rdx, %rax
        sub     VVAR_SLOTS+CLOCK_TSC_BASE(%r10,%r11), %rax
        imul    %rcx
        shrd    $32, %rdx, %rax
        add     VVAR_SLOTS+CLOCK_BASE_NS(%r10,%r11), %rax
        cmp     VVAR_SEQ(%r10), %r8d
        jne     .Lretry\@
        .endm

# rdx = rax / 1e9 (rax < 2^64), by multiplying with the reciprocal. Clobbers rax.
        .macro  seconds
        shr     $9, %rax
        movabs  $19342813113834067, %rdx
        mul     %rdx
        shr     $11, %rdx
        .endm

# rax nanoseconds as rdx seconds and rcx nanoseconds of the second. Clobbers rax.
        .macro  split_seconds
        mov     %rax, %rcx
        seconds
        imul    $1000000000, %rdx, %rax
        sub     %rax, %rcx
        .endm

# long clock_gettime(clockid_t clock, struct timespec *ts)
        .balign 16, 0xcc
clock_gettime:
        endbr64
        cmp     $MAX_CLOCK, %edi
        ja      .Lclock_gettime_syscall         # CPU-time clocks (negative ids too) and unknown ones
        check_pointer %rsi, 16, .Lclock_gettime_syscall
        mov     %edi, %r9d
        lea     (%r9,%r9,2), %r9
        shl     $3, %r9                         # clock * CLOCK_SIZE
        read_clock .Lclock_gettime_syscall
        split_seconds
        mov     %rdx, (%rsi)
        mov     %rcx, 8(%rsi)
        xor     %eax, %eax
        ret
.Lclock_gettime_syscall:
        mov     $SYS_clock_gettime, %eax
        syscall
        ret

# int gettimeofday(struct timeval *tv, struct timezone *tz)
        .balign 16, 0xcc
gettimeofday:
        endbr64
        check_optional_pointer %rsi, 8, .Lgettimeofday_syscall
        test    %rdi, %rdi
        jz      2f                              # only the time zone wanted
        check_pointer %rdi, 16, .Lgettimeofday_syscall
        xor     %r9d, %r9d                      # CLOCK_REALTIME
        read_clock .Lgettimeofday_syscall
        split_seconds
        imul    $274877907, %rcx, %rcx
        shr     $38, %rcx                       # nanoseconds / 1000
        mov     %rdx, (%rdi)
        mov     %rcx, 8(%rdi)
2:      test    %rsi, %rsi
        jz      3f
        movq    $0, (%rsi)                      # UTC, no DST: what the engine's system call says
3:      xor     %eax, %eax
        ret
.Lgettimeofday_syscall:
        mov     $SYS_gettimeofday, %eax
        syscall
        ret

# time_t time(time_t *t)
        .balign 16, 0xcc
time:
        endbr64
        check_optional_pointer %rdi, 8, .Ltime_syscall
        xor     %r9d, %r9d                      # CLOCK_REALTIME
        read_clock .Ltime_syscall
        seconds
        mov     %rdx, %rax
        test    %rdi, %rdi
        jz      2f
        mov     %rax, (%rdi)
2:      ret
.Ltime_syscall:
        mov     $SYS_time, %eax
        syscall
        ret

# int getcpu(unsigned *cpu, unsigned *node, void *cache): each VM has one vCPU, CPU 0 of node 0,
# as the engine's system call and sched_getaffinity say.
        .balign 16, 0xcc
getcpu:
        endbr64
        check_optional_pointer %rdi, 4, .Lgetcpu_syscall
        check_optional_pointer %rsi, 4, .Lgetcpu_syscall
        test    %rdi, %rdi
        jz      3f
        movl    $0, (%rdi)
3:      test    %rsi, %rsi
        jz      4f
        movl    $0, (%rsi)
4:      xor     %eax, %eax
        ret
.Lgetcpu_syscall:
        mov     $SYS_getcpu, %eax
        syscall
        ret

# int clock_getres(clockid_t clock, struct timespec *res)
        .balign 16, 0xcc
clock_getres:
        endbr64
        cmp     $MAX_CLOCK, %edi
        ja      .Lclock_getres_syscall
        mov     $FINE_CLOCKS, %eax
        bt      %edi, %eax
        jnc     .Lclock_getres_syscall
        test    %rsi, %rsi
        jz      1f
        check_pointer %rsi, 16, .Lclock_getres_syscall
        movq    $0, (%rsi)
        movq    $1, 8(%rsi)
1:      xor     %eax, %eax
        ret
.Lclock_getres_syscall:
        mov     $SYS_clock_getres, %eax
        syscall
        ret
text_end:
