# The in-guest trap stub (GNU as, AT&T syntax). TrapStub.java holds the same bytes;
# TrapStubTest assembles this file and compares them.
#
# Nothing here saves or clobbers a register: the host reads and writes the program's
# registers directly (KVM sync regs), and neither the doorbell write nor `out imm8, %al`
# needs a scratch register.

        .code64
        .text

# ---- LSTAR: the syscall entry (guest address 0x3000, user-executable, read-only) ----
# The doorbell (guest address 0xa000) is mapped to a guest-physical page with no memory
# behind it: storing CS there is an MMIO exit, and the data tells the host the privilege
# syscall left us at.
# Hardware VMX: syscall arrives here at CPL 0 (CS 0x08). The host emulates the call, puts
# the result in RAX, and sysretq returns to RCX/R11.
# Nested PVM: syscall arrives here still at CPL 3 (CS 0x23). The host emulates the call
# and sets RIP and RFLAGS from RCX and R11 itself; the sysretq is not reached.
syscall_entry:
        movw    %cs, 0xa000
        sysretq

# ---- LSTAR on nested PVM: calls answered in the guest (guest address 0x3040) ----
# On PVM a system call costs ~25 µs to reach this entry and ~70 µs more to reach the host
# and back (docs/benchmarks.md, "Calls answered in the guest"). A few calls a served
# connection makes are answered here from what the host published before it last entered
# the guest (the answer page, read-only for the program) and, for a write, queued for the
# host, which performs the queue at the next exit of any kind before it does anything else
# (the queue page, which the program may write as well: the host checks every entry as it
# would the call, and a forged one is a call the program could have made). Anything else
# rings the doorbell.
#   write(conn, buf, n) and sendto(conn, buf, n, 0 | MSG_NOSIGNAL, NULL, _): the bytes are
#       copied to the queue and n is returned, within what the host published the
#       connection's send queue takes without blocking.
#   accept4(listener, ...) and accept(listener, ...): -EAGAIN when the host published that
#       this request VM's non-blocking listener has nothing to give (its one connection was
#       taken) and the flags are valid.
# The entry saves what it changes in the queue page and runs on a few bytes of stack there:
# the program's stack, red zone included, is never touched. Registers are preserved as by
# the kernel (RCX and R11 are the syscall instruction's). A fault while copying the
# program's buffer is the host's to fix: it puts RCX, RSI and RDI back from the save area
# and resumes at `slow`, so a bad pointer gets EFAULT from the host, as on Linux.
        .set    ANSWERS, 0xb000
        .set    A_CONN_FD, ANSWERS + 0          # int: the served connection, or -1
        .set    A_CONN_FLAGS, ANSWERS + 4       # bit 1: writes to it are queued
        .set    A_LISTENER_FD, ANSWERS + 8      # int: a listener answering EAGAIN, or -1
        .set    A_WRITE_BUDGET, ANSWERS + 12    # bytes the connection takes now, <= Q_DATA_SIZE
        .set    QUEUE, 0xc000
        .set    Q_COUNT, QUEUE + 0              # entries queued
        .set    Q_BYTES, QUEUE + 4              # data bytes queued
        .set    Q_SAVE_RSP, QUEUE + 16
        .set    Q_SAVE_RCX, QUEUE + 24
        .set    Q_SAVE_RSI, QUEUE + 32
        .set    Q_SAVE_RDI, QUEUE + 40
        .set    Q_STACK_TOP, QUEUE + 128
        .set    Q_ENTRIES, QUEUE + 128          # 8 x {u32 nr, u32 fd, u32 offset, u32 length}
        .set    Q_MAX_ENTRIES, 8
        .set    Q_DATA, QUEUE + 256             # the bytes of queued writes
        .set    TF, 0x100
        .set    MSG_NOSIGNAL, 0x4000
        .set    ACCEPT4_FLAGS, 0x80800          # SOCK_NONBLOCK | SOCK_CLOEXEC

        .balign 64, 0xcc
fast_syscall_entry:
        testl   $TF, %r11d              # a program stepping through its calls: the host returns
        jnz     slow
        testl   %edi, %edi              # every call here takes an fd first; a negative one is EBADF
        js      slow
        cmpq    $1, %rax
        je      write
        cmpq    $44, %rax
        je      sendto
        cmpq    $288, %rax
        je      accept4
        cmpq    $43, %rax
        je      accept
slow:
        movw    %cs, 0xa000
        sysretq                         # not reached: on PVM the host returns to RCX

sendto:
        testq   %r8, %r8                # an address: not a plain write
        jnz     slow
        testq   $~MSG_NOSIGNAL, %r10
        jnz     slow
write:
        cmpl    %edi, A_CONN_FD
        jne     slow
        testl   $2, A_CONN_FLAGS
        jz      slow
        cmpl    $Q_MAX_ENTRIES, Q_COUNT
        jae     slow
        testq   %rdx, %rdx
        jz      slow
        movq    %rcx, Q_SAVE_RCX
        movl    A_WRITE_BUDGET, %ecx
        subl    Q_BYTES, %ecx           # room left (the queue page is the program's: check it)
        jb      restore_slow
        cmpq    %rcx, %rdx
        ja      restore_slow
        movq    %rsi, Q_SAVE_RSI
        movq    %rdi, Q_SAVE_RDI
        movl    Q_BYTES, %edi
        addq    $Q_DATA, %rdi
        movq    %rdx, %rcx
copy:
        rep movsb
        movq    Q_SAVE_RSI, %rsi
        movq    Q_SAVE_RDI, %rdi
        movl    Q_COUNT, %ecx
        shll    $4, %ecx
        movl    $1, Q_ENTRIES(%rcx)
        movl    %edi, Q_ENTRIES + 4(%rcx)
        movl    Q_BYTES, %eax
        movl    %eax, Q_ENTRIES + 8(%rcx)
        movl    %edx, Q_ENTRIES + 12(%rcx)
        addl    %edx, %eax
        movl    %eax, Q_BYTES
        incl    Q_COUNT
        movq    %rdx, %rax
        movq    Q_SAVE_RCX, %rcx
        jmp     done

restore_slow:
        movq    Q_SAVE_RCX, %rcx
        jmp     slow

accept4:
        testl   $~ACCEPT4_FLAGS, %r10d  # unknown flags: EINVAL, from the host
        jnz     slow
accept:
        cmpl    %edi, A_LISTENER_FD
        jne     slow
        movq    $-11, %rax              # EAGAIN
done:
        movq    %rsp, Q_SAVE_RSP        # RFLAGS back from R11 as sysretq would (TF excluded
        movl    $Q_STACK_TOP, %esp      # above; IF and IOPL are not the program's to set)
        pushq   %r11
        popfq
        movq    Q_SAVE_RSP, %rsp
        jmpq    *%rcx

# ---- Exception entries (guest address 0x4000, supervisor-only), 16 bytes apart ----
# Every vector runs at CPL 0 on IST1. Vectors without a CPU error code push a dummy
# one so that all frames look alike: [error, rip, cs, rflags, rsp, ss].
# The host sees the exit on port 0xa0 + vector, reads the frame, and either completes
# a system call (vector 13 at the syscall entry: it sets RAX and the frame's RIP and
# RFLAGS from RCX and R11), or reports a fault.
        .macro  entry vector, errcode
        .balign 16, 0xcc
        .if     \errcode == 0
        pushq   $0
        .endif
        outb    %al, $(0xa0 + \vector)
        addq    $8, %rsp
        iretq
        .endm

        .balign 16, 0xcc
exception_entries:
        entry 0, 0
        entry 1, 0
        entry 2, 0
        entry 3, 0
        entry 4, 0
        entry 5, 0
        entry 6, 0
        entry 7, 0
        entry 8, 1
        entry 9, 0
        entry 10, 1
        entry 11, 1
        entry 12, 1
        entry 13, 1
        entry 14, 1
        entry 15, 0
        entry 16, 0
        entry 17, 1
        entry 18, 0
        entry 19, 0
        entry 20, 0
        entry 21, 1
        entry 22, 0
        entry 23, 0
        entry 24, 0
        entry 25, 0
        entry 26, 0
        entry 27, 0
        entry 28, 0
        entry 29, 1
        entry 30, 1
        entry 31, 0
        .balign 16, 0xcc
