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
