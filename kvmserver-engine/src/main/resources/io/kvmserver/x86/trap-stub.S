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
# and back (docs/benchmarks.md, "Calls answered in the guest"). A few calls a server makes
# on the connection it serves are answered here from what the host published before it
# last entered the guest (the answer page, read-only for the program), and those with an
# effect on the host are queued for it; the host performs the queue at the next exit of
# any kind before it does anything else (the queue page, which the program may write as
# well: the host checks every entry as it would the call, and a forged one is a call the
# program could have made). Anything else rings the doorbell. On the connection:
#   read(conn, buf, n), recvfrom(conn, buf, n, 0 | MSG_DONTWAIT, NULL, _): the bytes the
#       host read ahead (a peek, so the socket still holds them), as many as both have; the
#       count is queued and the host takes that many from the socket at the next exit, before
#       anything else can read or wait on it; once they are all read, 0 (queued with a count
#       of 0) when the host found the peer's end of stream right after them;
#   write(conn, buf, n), sendto(conn, buf, n, 0 | MSG_NOSIGNAL, NULL, _), and writev(conn,
#       iov, 1..8): the bytes are copied to the queue and their count is returned, within what
#       the host published the connection's send queue takes without blocking; and write() to
#       the console (the program's stdout and stderr), within the console buffer the host set
#       aside for the entry;
#   setsockopt(conn, ..., &v, 4) on a TCP connection of TCP_NODELAY, SO_KEEPALIVE, and
#       TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT within Linux's ranges: queued, 0;
#   ioctl(conn, FIONBIO, &v): queued, 0;
#   fcntl(conn, F_GETFL): the status flags the host published, unless this entry changed them
#       (or took the connection with SOCK_NONBLOCK); fcntl(conn, F_SETFL, flags) of O_NONBLOCK
#       and the access mode (which Linux ignores): queued, 0;
#   shutdown(conn, SHUT_WR) and shutdown(conn, SHUT_RDWR) of a stream not shut down for writing:
#       queued, 0 (and the entry queues no write after it; the bytes read ahead are still read
#       here, as Linux reads what the socket holds after SHUT_RD);
#   getsockname(conn, addr, &len): the published address, as the kernel copies it;
#   epoll_ctl(ep, EPOLL_CTL_ADD, conn, &ev) and epoll_ctl(ep, EPOLL_CTL_DEL, conn, _) on the
#       epoll instance the program last used, as the host published conn's registration in it:
#       queued, 0; one per entry (the registration the page gives is stale after it). After an
#       ADD, the one wait answered here is the next on that instance, when the host published
#       that nothing else in it is ready (see below) and what conn is ready for (A_CONN_EVENTS:
#       bytes read ahead and none read since, no write or shutdown queued): conn's event, with
#       the data the ADD gave, whatever the timeout (it is ready now); queued for the host, which
#       records it as reported (edge-triggered, one-shot) after performing the ADD.
# And epoll_wait(ep, events, 1..64, 0), epoll_pwait(..., 0, NULL, _): 0, four times per entry
# (python3's event loop polls four times between an accept and a close, with its other calls
# answered here; then the host, so that a program polling in a loop finds what arrived since),
# when the host's last call was such a wait on ep that found nothing, or
# the host polled ep's files before the entry and found nothing (only the program ran since,
# and nothing it does in the guest makes a file ready: not after an ADD, or a shutdown, which
# can make a hang-up ready), unless bytes were read ahead since on a connection ep watches;
# or, when the served connection was ready with nothing but the bytes read ahead (registered
# for EPOLLIN alone, level-triggered, the socket holding exactly those), once the program has
# read them all here (CONN_QUIET_ONCE_READ).
# Also when the host's last wait on ep found only the listener ready and the program took its
# connection here since.
# And munmap(addr, len), and an mremap that shrinks a range of the program's newest mapping in
# place: queued, 0 (the old address), when the host published that the mapping count leaves
# room (see `munmap` below: the pages stay the program's until the next exit, and every call but
# these two goes to the host until then).
# And rt_sigaction(sig, act, oldact, 8): the old action from the page of the process's
# actions the host writes (DISPOSITIONS), the new one queued (see `rt_sigaction` below);
# rt_sigprocmask(how, set, oldset, 8) from the running thread's mask on that page, kept in the
# queue page until the next exit, unless it unblocks a pending signal; gettid().
# And accept4(listener, addr, &len, flags), accept(listener, addr, &len): the connection
# the host took from the listener for this request, at the fd it would get now (the
# lowest free one), its peer's address copied as the kernel copies it; the accept is queued
# and the connection is from then on the served one (Q_CONN_FD). Once that is taken, or
# when there is none: -EAGAIN when the host published that the non-blocking listener has
# nothing more to give (this request VM's one connection was taken). Invalid flags go to
# the host.
# The entry saves RAX, RCX, RSI and RDI in the queue page first and runs on a few bytes of
# stack there: the program's stack, red zone included, is never touched, and registers are
# kept as the kernel keeps them (RCX and R11 are the syscall instruction's). A fault on the
# program's memory here (#PF, or #GP for a non-canonical pointer) is the host's to fix: it
# puts the four back and resumes at `slow`, so a bad pointer gets EFAULT from the host.
        .set    ANSWERS, 0xb000
        .set    A_CONN_FD, ANSWERS + 0          # int: the served connection, or -1
        .set    A_CONN_FLAGS, ANSWERS + 4       # what may be answered for it (the bits below)
        .set    A_LISTENER_FD, ANSWERS + 8      # int: the listener the two below are for, or -1
        .set    A_WRITE_BUDGET, ANSWERS + 12    # bytes the connection takes now, <= Q_DATA_SIZE
        .set    A_NAME_LENGTH, ANSWERS + 16     # int: length of its local address, 0 if none
        .set    A_EPOLL_FD, ANSWERS + 24        # int: an epoll fd with nothing ready, or -1
        .set    A_EPOLL_CTL_FD, ANSWERS + 28    # int: the epoll fd the program last used, or -1
        .set    A_READ_LENGTH, ANSWERS + 20     # int: bytes read ahead at A_READ_DATA
        .set    A_NAME, ANSWERS + 32            # its local address as getsockname gives it
        .set    A_ACCEPT_FD, ANSWERS + 160      # int: the fd a waiting connection gets, or -1
        .set    A_PEER_LENGTH, ANSWERS + 164    # int: the length of its peer's address
        .set    A_PEER, ANSWERS + 168           # its peer's address as accept gives it
        .set    A_LISTENER_REFUSES, ANSWERS + 296 # int: accept answers EAGAIN once none waits
        .set    A_EPOLL_ACCEPT_FD, ANSWERS + 300 # int: an epoll fd with nothing ready once the
                                                # connection at A_ACCEPT_FD is taken, or -1
        .set    A_CONN_EVENTS, ANSWERS + 304    # int: what conn is ready for (IN, OUT and their
                                                # NORMs only) when added to A_EPOLL_CTL_FD, or 0
        .set    A_UNMAPS, ANSWERS + 308         # int: nonzero when munmap and mremap may be queued
                                                # (the mapping count leaves room for their splits)
        .set    A_MAP_START, ANSWERS + 344      # the program's newest mapping, as the host's list
        .set    A_MAP_END, ANSWERS + 352        # has it (merged with its neighbours), or 0, 0
        .set    A_RES_START, ANSWERS + 360      # the reservation anonymous mmaps are answered
        .set    A_RES_END, ANSWERS + 368        # from, or 0, 0
        .set    A_ROOM_ABOVE, ANSWERS + 376     # the longest free gap above it: mmaps that fit
                                                # it go to the host (it places them there)
        .set    A_RES_EXTENT_END, ANSWERS + 384 # the end of a mapping made from it, merged
        .set    A_CONSOLE_FDS, ANSWERS + 392    # int: bit fd set for the fds below 32 that are the
                                                # console (the program's stdout and stderr)
        .set    A_CONSOLE_BUDGET, ANSWERS + 396 # int: console bytes set aside for this entry,
                                                # <= Q_DATA_SIZE (counted with Q_BYTES, as a write's)
        .set    A_CONN_STATUS, ANSWERS + 400    # int: the connection's status flags (F_GETFL)
        .set    A_RESUME_RIP, ANSWERS + 320     # fpu_restore_entry: where the request VM's first
        .set    A_RESUME_RAX, ANSWERS + 328     # entry after a reset was to start, and the two
        .set    A_RESUME_RDX, ANSWERS + 336     # registers the XRSTOR mask takes
        .set    A_READ_DATA, ANSWERS + 512      # the connection's next bytes
        .set    FPU_IMAGE, 0xd000               # the template's XSAVE image (read-only, user)
        .set    CONN_FIONBIO, 1
        .set    CONN_WRITES, 2
        .set    CONN_OPTIONS, 4
        .set    CONN_REGISTERED, 8              # in A_EPOLL_CTL_FD's interest list
        .set    CONN_UNREGISTERED, 16           # not in it
        .set    CONN_SHUTDOWN, 32               # shutdown(SHUT_WR or SHUT_RDWR) may be queued
        .set    CONN_QUIET_ONCE_READ, 64        # A_EPOLL_FD holds once every byte read ahead is read
        .set    CONN_PEER_NAMED, 128            # A_PEER is its peer as getpeername gives it now
        .set    CONN_HOLDS_READ_AHEAD, 256      # it holds the bytes read ahead and nothing else
        .set    CONN_ENDS_AFTER_READ_AHEAD, 512 # its stream ends after the bytes read ahead
        .set    QUEUE, 0xc000
        .set    Q_COUNT, QUEUE + 0              # entries queued
        .set    Q_BYTES, QUEUE + 4              # data bytes queued
        .set    Q_RES_TAKEN, QUEUE + 8          # bytes of the reservation mapped since the host looked
        .set    Q_SAVE_RSP, QUEUE + 16
        .set    Q_SAVE_RCX, QUEUE + 24
        .set    Q_SAVE_RSI, QUEUE + 32
        .set    Q_SAVE_RDI, QUEUE + 40
        .set    Q_SAVE_RAX, QUEUE + 48
        .set    Q_IOV_NEXT, QUEUE + 56          # writev: the next iovec
        .set    Q_IOV_LEFT, QUEUE + 64          # writev: iovecs left
        .set    Q_ROOM, QUEUE + 72              # writev: bytes the queue still takes
        .set    Q_EPOLL_ANSWERED, QUEUE + 80    # nonzero once an ADD was queued: no wait answered 0
        .set    Q_EPOLL_DATA, QUEUE + 88        # the queued EPOLL_CTL_ADD's data
        .set    Q_EPOLL_CTL_QUEUED, QUEUE + 96  # the op of the epoll_ctl queued (ADD, DEL), 0 if
                                                # none, EPOLL_ADD_ANSWERED after the wait after an ADD
        .set    Q_CONN_FD, QUEUE + 100          # int: the served connection (the host's, or accepted here)
        .set    Q_READ_TAKEN, QUEUE + 104       # int: bytes of A_READ_DATA already read
        .set    Q_WRITE_SHUT, QUEUE + 108       # nonzero once a shutdown was queued
        .set    Q_EMPTY_WAITS, QUEUE + 112      # waits answered with 0 here
        .set    Q_EPOLL_EVENTS, QUEUE + 116     # the queued EPOLL_CTL_ADD's events
        .set    EMPTY_WAITS_MAX, 4              # python3 asyncio polls four times a request
        .set    Q_STACK_TOP, QUEUE + 128
        .set    Q_ENTRIES, QUEUE + 128          # 16 x {u32 nr, u32 fd, u32 a, u32 b}
        .set    Q_MAX_ENTRIES, 16
        .set    Q_UNMAP_LOW, QUEUE + 384        # the lowest address a queued unmap takes, and
        .set    Q_UNMAP_HIGH, QUEUE + 392       # the end of the highest (0, 0: none queued; so
                                                # nonzero once a munmap or mremap was queued)
        .set    Q_TALLY, QUEUE + 400            # u32 each: calls answered here without a queue entry,
                                                # by slot; the host adds them to the VM's call counts
                                                # at its next exit, so every call is counted by name
        .set    TALLY_EPOLL_WAIT, Q_TALLY       # epoll_wait and epoll_pwait answered 0
        .set    TALLY_EPOLL_PWAIT, Q_TALLY + 4
        .set    TALLY_GETSOCKNAME, Q_TALLY + 8
        .set    TALLY_ACCEPT, Q_TALLY + 12      # accept and accept4 answered EAGAIN
        .set    TALLY_ACCEPT4, Q_TALLY + 16
        .set    TALLY_MREMAP, Q_TALLY + 20      # an mremap that cuts nothing off
        .set    TALLY_GETPEERNAME, Q_TALLY + 24
        .set    TALLY_RT_SIGACTION, Q_TALLY + 28 # rt_sigaction with no new action
        .set    TALLY_RT_SIGPROCMASK, Q_TALLY + 32
        .set    TALLY_GETTID, Q_TALLY + 36
        .set    Q_SIGACTIONS_QUEUED, QUEUE + 440 # u64: bit sig - 1 set once an action for sig was
                                                # queued (DISPOSITIONS is stale for it until the host looks)
        .set    Q_MASK, QUEUE + 448             # u64: the thread's blocked signals as this entry set
        .set    Q_MASK_SET, QUEUE + 456         # them, once this int is nonzero (else T_BLOCKED)
        .set    Q_SITE_COUNT, QUEUE + 464       # int: call sites recorded at Q_SITES; SITES_MAX once the
                                                # template is frozen (a request VM records none)
        .set    Q_STATUS_STALE, QUEUE + 468     # int: nonzero once this entry changed the connection's
                                                # status flags or took it non-blocking: F_GETFL, the host
        .set    Q_SITES, QUEUE + 480            # SITES_MAX x {u64 RCX, u64 RAX}: calls answered here,
                                                # for the host to find the program's call sites while
                                                # it rewrites them (the template, before its freeze)
        .set    SITES_MAX, 8
        .set    Q_DATA, QUEUE + 608             # the bytes of queued writes and actions
        .set    Q_DATA_SIZE, 4096 - 608
        .set    DISPOSITIONS, 0xe000            # 64 x {handler, flags, restorer, mask}, signal 1 first:
                                                # the process's actions (read-only, the host's)
        .set    T_BLOCKED, DISPOSITIONS + 2048  # u64: the running thread's blocked signals,
        .set    T_PENDING, DISPOSITIONS + 2056  # u64: the signals pending for it or its process,
        .set    T_TID, DISPOSITIONS + 2064      # int: and its id (the host's, before the entry)
        .set    SYS_RT_SIGPROCMASK, 14
        .set    SYS_GETTID, 186
        .set    SIG_SETMASK, 2
        .set    UNBLOCKABLE, 0x40100            # SIGKILL and SIGSTOP's bits
        .set    SYS_RT_SIGACTION, 13
        .set    SIGKILL, 9
        .set    SIGSTOP, 19
        .set    USER_START, 0x10000             # nothing below is the program's: EFAULT
        .set    TF, 0x100
        .set    SYSCALL_MASKED_FLAGS, 0x44500   # TF, DF, NT and AC: the bits of FMASK a program can set
        .set    MSG_NOSIGNAL, 0x4000
        .set    MSG_DONTWAIT, 0x40
        .set    ACCEPT4_FLAGS, 0x80800          # SOCK_NONBLOCK | SOCK_CLOEXEC
        .set    FIONBIO, 0x5421
        .set    SOL_SOCKET, 1
        .set    SO_KEEPALIVE, 9
        .set    IPPROTO_TCP, 6
        .set    TCP_NODELAY, 1
        .set    TCP_KEEPIDLE, 4
        .set    TCP_KEEPINTVL, 5
        .set    TCP_KEEPCNT, 6
        .set    TCP_KEEP_MAX, 32767             # MAX_TCP_KEEPIDLE and MAX_TCP_KEEPINTVL
        .set    TCP_KEEPCNT_MAX, 127            # MAX_TCP_KEEPCNT
        .set    SHUT_WR, 1
        .set    SHUT_RDWR, 2
        .set    SYS_FCNTL, 72
        .set    F_GETFL, 3
        .set    F_SETFL, 4
        .set    O_ACCMODE, 3
        .set    O_NONBLOCK, 0x800
        .set    SOCK_NONBLOCK, 0x800
        .set    IOV_QUEUED_MAX, 8
        .set    EPOLL_EVENTS_MAX, 64
        .set    EPOLL_CTL_ADD, 1
        .set    EPOLL_CTL_DEL, 2
        .set    EPOLL_ADD_ANSWERED, 3
        .set    EPOLLIN, 1
        .set    EPOLL_WAIT_MAX_EVENTS, 0x0aaaaaaa # INT_MAX / sizeof(struct epoll_event): EINVAL above
        .set    EPOLL_PLAIN_EVENTS, 0xc00027df  # IN PRI OUT ERR HUP RDNORM RDBAND WRNORM WRBAND MSG RDHUP ONESHOT ET
        .set    USER_END, 0x7ffffffff000        # Linux's access_ok: the buffer is below this
        .set    USER_PAGES, USER_END >> 12      # TASK_SIZE in pages
        .set    MREMAP_MAYMOVE, 1
        .set    SYS_MMAP, 9
        .set    SYS_MUNMAP, 11
        .set    PROT_READ_WRITE, 3
        .set    MAP_PRIVATE_ANONYMOUS, 0x22
        .set    SYS_MREMAP, 25
        .set    SYS_EPOLL_WAIT, 232
        .set    SYS_ACCEPT4, 288

# Copies a published address to the program's buffer (RSI) and length (the int at RDX) as the
# kernel copies one: cut to the program's length, the full length written back. A negative
# length goes to \negative (EINVAL, from the host), and so does a pointer below USER_START (the
# engine's pages, some writable at CPL 3: EFAULT from the host). Clobbers RCX, RSI and RDI.
        .macro  copy_address address, length, negative
        cmpq    $USER_START, %rdx
        jb      \negative
        cmpq    $USER_START, %rsi
        jb      \negative
        movl    (%rdx), %ecx            # the program's length
        testl   %ecx, %ecx
        js      \negative
        cmpl    \length, %ecx
        jbe     1f
        movl    \length, %ecx
1:      movq    %rsi, %rdi
        movl    $\address, %esi
        rep movsb                       # to the program's buffer
        movl    \length, %ecx
        movl    %ecx, (%rdx)
        .endm

# Queues {EAX, ESI pages, RDI address}: an unmap the host performs at the next exit, and widens
# [Q_UNMAP_LOW, Q_UNMAP_HIGH) to take it. RSI holds the pages: 2^32 of them (16 TiB) or more go
# to the host. Clobbers RAX and RCX.
        .macro  queue_unmap
        movq    %rsi, %rcx
        shrq    $32, %rcx
        jnz     restore_rax_slow
        movl    Q_COUNT, %ecx
        shll    $4, %ecx
        movl    %eax, Q_ENTRIES(%rcx)
        movl    %esi, Q_ENTRIES + 4(%rcx)
        movq    %rdi, Q_ENTRIES + 8(%rcx)
        incl    Q_COUNT
        cmpq    $0, Q_UNMAP_HIGH
        je      .Lfirst\@
        cmpq    Q_UNMAP_LOW, %rdi
        jae     .Llow\@
.Lfirst\@:
        movq    %rdi, Q_UNMAP_LOW
.Llow\@:
        movq    %rsi, %rax
        shlq    $12, %rax
        addq    %rdi, %rax
        cmpq    Q_UNMAP_HIGH, %rax
        jbe     .Lhigh\@
        movq    %rax, Q_UNMAP_HIGH
.Lhigh\@:
        .endm

# Goes to \fail when [\base, \base + \length) meets [Q_UNMAP_LOW, Q_UNMAP_HIGH), the range the
# queued unmaps span (with none queued, Q_UNMAP_HIGH is 0 and nothing meets it). \length is
# clobbered on the way to \fail only; the lengths given here are at most the queue's room, so
# the sum does not wrap.
        .macro  outside_unmapped base, length, fail
        cmpq    Q_UNMAP_HIGH, \base
        jae     .Lout\@
        addq    \base, \length
        cmpq    Q_UNMAP_LOW, \length
        ja      \fail
        subq    \base, \length
.Lout\@:
        .endm

        .balign 64, 0xcc
fast_syscall_entry:
        testl   $TF, %r11d              # a program stepping through its calls: the host returns
        jnz     slow
        movq    %rcx, Q_SAVE_RCX
        movq    %rsi, Q_SAVE_RSI
        movq    %rdi, Q_SAVE_RDI
        movq    %rax, Q_SAVE_RAX
        cmpq    $SYS_MUNMAP, %rax       # these three take an address first
        je      munmap
        cmpq    $SYS_MREMAP, %rax
        je      mremap
        cmpq    $SYS_MMAP, %rax
        je      mmap
        cmpq    $SYS_GETTID, %rax
        je      gettid
        testl   %edi, %edi              # every other call here takes an fd first; a negative one
        js      slow                    # is EBADF
        cmpq    $0, Q_UNMAP_HIGH        # an unmap queued (its span never ends at 0)
        jne     after_unmap
        testq   %rax, %rax
        je      read
        cmpq    $45, %rax
        je      recvfrom
        cmpq    $1, %rax
        je      write
        cmpq    $44, %rax
        je      sendto
        cmpq    $20, %rax
        je      writev
        cmpq    $51, %rax
        je      getsockname
        cmpq    $52, %rax
        je      getpeername
        cmpq    $54, %rax
        je      setsockopt
        cmpq    $16, %rax
        je      ioctl
        cmpq    $SYS_FCNTL, %rax
        je      fcntl
        cmpq    $233, %rax
        je      epoll_ctl
        cmpq    $232, %rax
        je      epoll_wait
        cmpq    $281, %rax
        je      epoll_pwait
        cmpq    $288, %rax
        je      accept4
        cmpq    $43, %rax
        je      accept
        cmpq    $48, %rax
        je      shutdown
        cmpq    $SYS_RT_SIGACTION, %rax
        je      rt_sigaction
        cmpq    $SYS_RT_SIGPROCMASK, %rax
        je      rt_sigprocmask
slow:
        movw    %cs, 0xa000
        sysretq                         # not reached: on PVM the host returns to RCX

writev_slow:
restore_rax_slow:
        movq    Q_SAVE_RAX, %rax
restore_slow:
        movq    Q_SAVE_RCX, %rcx
        movq    Q_SAVE_RSI, %rsi
        movq    Q_SAVE_RDI, %rdi
        jmp     slow

# rt_sigaction(sig, act, oldact, 8): the old action from DISPOSITIONS, which the host writes
# before every entry from the process's actions; the new one copied to the queue and queued
# {rt_sigaction, sig, its offset in Q_DATA, 0}, to be installed by the host at the next exit
# before anything else (php installs its handlers for every request: a get and a set for each of
# eight signals). A signal whose action was queued in this entry goes to the host (the page is
# stale for it; the host performs the queue first), and so do a sigsetsize other than 8 and a
# signal outside 1..64 (EINVAL), an action for SIGKILL or SIGSTOP (EINVAL), and a pointer outside
# user space (EFAULT: below USER_START here; beyond its end the copy faults). A fault on either
# pointer: the host performs the whole call again.
rt_sigaction:
        cmpq    $8, %r10
        jne     slow
        leal    -1(%rdi), %ecx          # the signal's bit
        cmpl    $63, %ecx
        ja      restore_slow
        btq     %rcx, Q_SIGACTIONS_QUEUED
        jc      restore_slow
        testq   %rdx, %rdx
        jz      1f
        cmpq    $USER_START, %rdx       # (past the end of user space: a fault, and the host)
        jb      restore_slow
1:      testq   %rsi, %rsi
        jz      1f
        cmpl    $SIGKILL, %edi
        je      restore_slow
        cmpl    $SIGSTOP, %edi
        je      restore_slow
        cmpq    $USER_START, %rsi
        jb      restore_slow
        cmpl    $Q_MAX_ENTRIES, Q_COUNT
        jae     restore_rax_slow
        movl    Q_BYTES, %eax
        cmpl    $Q_DATA_SIZE - 32, %eax # (the queue page is the program's: check it)
        ja      restore_rax_slow
1:      testq   %rdx, %rdx
        jz      1f
        movl    %edi, %esi
        shll    $5, %esi
        addl    $DISPOSITIONS - 32, %esi
        movq    %rdx, %rdi
        movl    $4, %ecx
        rep movsq                       # the old action, to the program's oldact
        movq    Q_SAVE_RSI, %rsi
1:      testq   %rsi, %rsi
        jz      2f
        leaq    Q_DATA(%rax), %rdi
        movl    $4, %ecx
        rep movsq                       # the new action, from the program's act
        movl    Q_COUNT, %ecx
        shll    $4, %ecx
        movl    $SYS_RT_SIGACTION, Q_ENTRIES(%rcx)
        movl    Q_SAVE_RDI, %edi
        movl    %edi, Q_ENTRIES + 4(%rcx)
        movl    %eax, Q_ENTRIES + 8(%rcx)
        addl    $32, Q_BYTES
        incl    Q_COUNT
        decl    %edi
        btsq    %rdi, Q_SIGACTIONS_QUEUED
        jmp     3f
2:      incl    TALLY_RT_SIGACTION      # a get alone: no queue entry counts it
3:      xorl    %eax, %eax
        jmp     done

sendto:
        testq   %r8, %r8                # an address: not a plain write
        jnz     slow
        testq   $~MSG_NOSIGNAL, %r10
        jnz     slow
write:
        cmpl    %edi, Q_CONN_FD
        jne     console_write
        testl   $CONN_WRITES, A_CONN_FLAGS
        jz      slow
        cmpl    $0, Q_WRITE_SHUT        # shut down for writing here: EPIPE, from the host
        jne     slow
        movl    A_WRITE_BUDGET, %ecx
write_within:                           # ECX: what the fd takes now (the budget published)
        cmpl    $Q_MAX_ENTRIES, Q_COUNT
        jae     restore_slow
        testq   %rdx, %rdx
        jz      restore_slow
        cmpq    $USER_START, %rsi       # the engine's pages are not the program's: EFAULT
        jb      restore_slow
        subl    Q_BYTES, %ecx           # room left (the queue page is the program's: check it)
        jb      restore_slow
        cmpq    %rcx, %rdx
        ja      restore_slow
        movq    %rdx, %rcx
        outside_unmapped %rsi, %rcx, restore_slow
        movl    Q_BYTES, %edi
        addq    $Q_DATA, %rdi
        rep movsb                       # from the program's buffer
        movl    %edx, %eax
        jmp     queue_write

# write(fd, buf, n) to the console (an fd in A_CONSOLE_FDS: stdout, stderr), within the part of
# the console's buffer the host set aside for this entry (A_CONSOLE_BUDGET): a log line per
# request without an exit. sendto and writev to it go to the host (ENOTSOCK; a plain write).
console_write:
        cmpq    $1, %rax
        jne     slow
        cmpl    $31, %edi
        ja      slow
        btl     %edi, A_CONSOLE_FDS
        jnc     slow
        movl    A_CONSOLE_BUDGET, %ecx
        jmp     write_within

writev:
        cmpl    %edi, Q_CONN_FD
        jne     slow
        testl   $CONN_WRITES, A_CONN_FLAGS
        jz      slow
        cmpl    $0, Q_WRITE_SHUT
        jne     slow
        cmpl    $Q_MAX_ENTRIES, Q_COUNT
        jae     slow
        cmpq    $1, %rdx                # no iovec, or more than the queue takes (vlen is an
        jb      slow                    # unsigned long): the host
        cmpq    $IOV_QUEUED_MAX, %rdx
        ja      slow
        cmpq    $USER_START, %rsi       # the iovec array: not the engine's pages (EFAULT)
        jb      slow
        movq    %rdx, %rcx
        shlq    $4, %rcx
        outside_unmapped %rsi, %rcx, restore_slow
        movl    A_WRITE_BUDGET, %ecx
        subl    Q_BYTES, %ecx
        jb      restore_slow
        movq    %rcx, Q_ROOM
        movl    %edx, Q_IOV_LEFT
        movq    %rsi, Q_IOV_NEXT
        movl    Q_BYTES, %edi
        addq    $Q_DATA, %rdi
        xorl    %eax, %eax              # bytes so far
1:      movq    Q_IOV_NEXT, %rsi
        movq    8(%rsi), %rcx           # iov_len, from the program's memory
        movq    (%rsi), %rsi            # iov_base
        addq    $16, Q_IOV_NEXT
        cmpq    Q_ROOM, %rcx
        ja      writev_slow
        cmpq    $USER_START, %rsi       # a buffer in the engine's pages: EFAULT, from the host
        jb      writev_slow
        outside_unmapped %rsi, %rcx, writev_slow
        subq    %rcx, Q_ROOM
        addq    %rcx, %rax
        rep movsb                       # from the program's buffer
        decl    Q_IOV_LEFT
        jnz     1b
        testq   %rax, %rax              # nothing to write: the host says what that returns
        jz      writev_slow
queue_write:                            # queues {write, fd, Q_BYTES, EAX} and returns EAX
        movl    Q_COUNT, %ecx
        shll    $4, %ecx
        movl    $1, Q_ENTRIES(%rcx)
        movl    Q_SAVE_RDI, %edi
        movl    %edi, Q_ENTRIES + 4(%rcx)
        movl    Q_BYTES, %edi
        movl    %edi, Q_ENTRIES + 8(%rcx)
        movl    %eax, Q_ENTRIES + 12(%rcx)
        addl    %eax, %edi
        movl    %edi, Q_BYTES
        incl    Q_COUNT
        jmp     done

# An unmap is queued: the program's buffers may be in it, and Linux gives EFAULT for those. The
# writes, an epoll_ctl ADD and the wait after it check theirs against the range the queued
# unmaps span (a DEL reads nothing; a wait answered 0 writes nothing, and Linux checks only that
# its array is in user space); every other call goes to the host, which performs the queue first.
after_unmap:
        cmpq    $1, %rax
        je      write
        cmpq    $44, %rax
        je      sendto
        cmpq    $20, %rax
        je      writev
        cmpq    $232, %rax
        je      epoll_wait
        cmpq    $281, %rax
        je      epoll_pwait
        cmpq    $233, %rax
        je      epoll_ctl
        jmp     slow

recvfrom:
        testq   %r8, %r8                # the sender's address: the host
        jnz     slow
        testq   $~MSG_DONTWAIT, %r10    # MSG_PEEK, MSG_WAITALL, ...: the host
        jnz     slow
read:
        cmpl    %edi, Q_CONN_FD
        jne     slow
        testq   %rdx, %rdx
        jz      slow
        movabsq $USER_END, %rcx         # the whole buffer within user space (Linux's access_ok,
        subq    %rdx, %rcx              # before it looks at the socket), or the host: EFAULT
        jb      restore_slow
        cmpq    %rcx, %rsi
        ja      restore_slow
        cmpq    $USER_START, %rsi       # the engine's pages are not the program's: the host, EFAULT
        jb      restore_slow
        cmpl    $Q_MAX_ENTRIES, Q_COUNT # the queue is full: the host, with RCX back (the program's
        jae     restore_slow            # return address, which the check above took)
        movl    A_READ_LENGTH, %ecx
        subl    Q_READ_TAKEN, %ecx      # bytes left (the queue page is the program's: check it)
        jb      restore_slow
        jnz     2f
        testl   $CONN_ENDS_AFTER_READ_AHEAD, A_CONN_FLAGS
        jz      restore_slow            # none left: 0 if the stream ends after them, else the host
2:      cmpq    %rcx, %rdx
        jae     1f
        movl    %edx, %ecx
1:      movl    %ecx, %eax
        movq    %rsi, %rdi
        movl    Q_READ_TAKEN, %esi
        addq    $A_READ_DATA, %rsi
        rep movsb                       # to the program's buffer
        addl    %eax, Q_READ_TAKEN
        movl    Q_COUNT, %ecx
        shll    $4, %ecx
        movl    Q_SAVE_RAX, %edi
        movl    %edi, Q_ENTRIES(%rcx)   # {read or recvfrom, fd, EAX, 0}
        movl    Q_SAVE_RDI, %edi
        movl    %edi, Q_ENTRIES + 4(%rcx)
        movl    %eax, Q_ENTRIES + 8(%rcx)
        movl    $0, Q_ENTRIES + 12(%rcx)
        incl    Q_COUNT
        jmp     done

setsockopt:                             # queues {setsockopt, fd, value, level << 8 | name}
        cmpl    %edi, Q_CONN_FD
        jne     slow
        testl   $CONN_OPTIONS, A_CONN_FLAGS
        jz      slow
        cmpl    $4, %r8d                # an int: other lengths, the host
        jne     slow
        cmpl    $Q_MAX_ENTRIES, Q_COUNT
        jae     slow
        cmpq    $USER_START, %r10       # the engine's pages are not the program's: EFAULT
        jb      slow
        movl    (%r10), %ecx            # the value, from the program's memory
        cmpl    $SOL_SOCKET, %esi
        je      1f
        cmpl    $IPPROTO_TCP, %esi
        jne     restore_slow
        cmpl    $TCP_NODELAY, %edx
        je      2f
        cmpl    $1, %ecx                # the keepalive times and count: at least 1, or EINVAL
        jl      restore_slow
        cmpl    $TCP_KEEPCNT, %edx
        je      3f
        cmpl    $TCP_KEEPIDLE, %edx
        je      4f
        cmpl    $TCP_KEEPINTVL, %edx
        jne     restore_slow
4:      cmpl    $TCP_KEEP_MAX, %ecx
        jg      restore_slow
        jmp     2f
3:      cmpl    $TCP_KEEPCNT_MAX, %ecx
        jg      restore_slow
        jmp     2f
1:      cmpl    $SO_KEEPALIVE, %edx
        jne     restore_slow
2:      movl    Q_COUNT, %edi
        shll    $4, %edi
        movl    %eax, Q_ENTRIES(%rdi)
        movl    Q_SAVE_RDI, %eax
        movl    %eax, Q_ENTRIES + 4(%rdi)
        movl    %ecx, Q_ENTRIES + 8(%rdi)
        shll    $8, %esi
        orl     %edx, %esi
        movl    %esi, Q_ENTRIES + 12(%rdi)
        incl    Q_COUNT
        xorl    %eax, %eax
        jmp     done

ioctl:
        cmpl    %edi, Q_CONN_FD
        jne     slow
        testl   $CONN_FIONBIO, A_CONN_FLAGS
        jz      slow
        cmpl    $FIONBIO, %esi
        jne     slow
        movl    $1, Q_STATUS_STALE      # F_GETFL from here on: the host
        movq    %rdx, %rsi
queue_int:                              # queues {ioctl, fd, *(int *) RSI, 0} and returns 0
        cmpl    $Q_MAX_ENTRIES, Q_COUNT
        jae     restore_slow
        cmpq    $USER_START, %rsi       # the engine's pages are not the program's: EFAULT
        jb      restore_slow
        movl    (%rsi), %esi            # from the program's memory
queue_value:                            # queues {RAX, fd, ESI, 0} and returns 0
        movl    Q_COUNT, %ecx
        shll    $4, %ecx
        movl    %eax, Q_ENTRIES(%rcx)
        movl    %edi, Q_ENTRIES + 4(%rcx)
        movl    %esi, Q_ENTRIES + 8(%rcx)
        movl    $0, Q_ENTRIES + 12(%rcx)
        incl    Q_COUNT
        xorl    %eax, %eax
        jmp     done

shutdown:                               # queues {shutdown, fd, how, 0} and returns 0
        cmpl    %edi, Q_CONN_FD
        jne     slow
        testl   $CONN_SHUTDOWN, A_CONN_FLAGS
        jz      slow
        cmpl    $SHUT_WR, %esi
        je      1f
        cmpl    $SHUT_RDWR, %esi
        jne     slow
1:      cmpl    $0, Q_WRITE_SHUT        # a second one: the host
        jne     slow
        cmpl    $Q_MAX_ENTRIES, Q_COUNT
        jae     slow
        movl    $1, Q_WRITE_SHUT
        jmp     queue_value

# fcntl(conn, F_GETFL): A_CONN_STATUS, unless Q_STATUS_STALE (the host, which performs the queue
# first); queued as {fcntl, fd, 0, F_GETFL}, which the host only counts. fcntl(conn, F_SETFL, flags)
# with nothing but the access mode and O_NONBLOCK in flags: queued {fcntl, fd, flags, F_SETFL}, 0.
# Linux takes cmd and flags as 32-bit values.
fcntl:
        cmpl    %edi, Q_CONN_FD
        jne     slow
        testl   $CONN_FIONBIO, A_CONN_FLAGS
        jz      slow
        cmpl    $Q_MAX_ENTRIES, Q_COUNT
        jae     slow
        cmpl    $F_GETFL, %esi
        je      1f
        cmpl    $F_SETFL, %esi
        jne     slow
        testl   $~(O_ACCMODE | O_NONBLOCK), %edx
        jnz     slow
        movl    $1, Q_STATUS_STALE
        movl    %edx, %ecx
        jmp     2f
1:      cmpl    $0, Q_STATUS_STALE
        jne     slow
        xorl    %ecx, %ecx
2:      movl    Q_COUNT, %edi
        shll    $4, %edi
        movl    %eax, Q_ENTRIES(%rdi)
        movl    Q_SAVE_RDI, %eax
        movl    %eax, Q_ENTRIES + 4(%rdi)
        movl    %ecx, Q_ENTRIES + 8(%rdi)
        movl    %esi, Q_ENTRIES + 12(%rdi)
        incl    Q_COUNT
        xorl    %eax, %eax
        cmpl    $F_GETFL, %esi
        jne     done
        movl    A_CONN_STATUS, %eax
        jmp     done

getsockname:
        cmpl    %edi, Q_CONN_FD
        jne     slow
        cmpl    $0, A_NAME_LENGTH
        je      slow
        copy_address A_NAME, A_NAME_LENGTH, restore_slow
        incl    TALLY_GETSOCKNAME
        xorl    %eax, %eax
        jmp     done

# getpeername of the connection: its peer as the host's own getpeername gave it when it filled
# the page (CONN_PEER_NAMED; not once the peer has reset the connection: ENOTCONN, from the host).
getpeername:
        cmpl    %edi, Q_CONN_FD
        jne     slow
        testl   $CONN_PEER_NAMED, A_CONN_FLAGS
        jz      slow
        copy_address A_PEER, A_PEER_LENGTH, restore_slow
        incl    TALLY_GETPEERNAME
        xorl    %eax, %eax
        jmp     done

# rt_sigprocmask(how, set, oldset, 8): the running thread's blocked signals as the host wrote
# them before the entry (T_BLOCKED), or as this entry set them (Q_MASK, once Q_MASK_SET); a
# change is kept there, counted, and applied by the host at the next exit before anything else.
# A change that would unblock a signal pending for the thread or its process (T_PENDING) goes to
# the host, which delivers it as the call returns; so do a sigsetsize other than 8, a bad how
# (EINVAL) and a pointer below USER_START (EFAULT); a fault on either pointer: the host.
rt_sigprocmask:
        cmpq    $8, %r10
        jne     slow
        testq   %rdx, %rdx
        jz      1f
        cmpq    $USER_START, %rdx
        jb      slow
1:      movq    T_BLOCKED, %rcx         # the mask now
        cmpl    $0, Q_MASK_SET
        je      1f
        movq    Q_MASK, %rcx
1:      testq   %rsi, %rsi
        jz      3f                      # no new set: the old one only
        cmpq    $USER_START, %rsi
        jb      restore_slow
        cmpl    $SIG_SETMASK, %edi      # SIG_BLOCK 0, SIG_UNBLOCK 1, SIG_SETMASK 2
        ja      restore_slow
        movq    (%rsi), %rax            # the new set
        testl   %edi, %edi
        jnz     2f
        orq     %rcx, %rax              # SIG_BLOCK
        jmp     4f
2:      cmpl    $SIG_SETMASK, %edi
        je      4f
        notq    %rax                    # SIG_UNBLOCK
        andq    %rcx, %rax
4:      andq    $~UNBLOCKABLE, %rax
        movq    %rax, %rsi
        notq    %rsi
        testq   T_PENDING, %rsi         # a pending signal it unblocks: the host delivers it
        jnz     restore_rax_slow
        testq   %rdx, %rdx
        jz      5f
        movq    %rcx, (%rdx)            # the old mask, to the program's oldset
5:      movq    %rax, Q_MASK
        movl    $1, Q_MASK_SET
        jmp     6f
3:      testq   %rdx, %rdx
        jz      6f
        movq    %rcx, (%rdx)
6:      incl    TALLY_RT_SIGPROCMASK
        xorl    %eax, %eax
        jmp     done

# gettid(): the running thread's id, which only the host changes (at an exit).
gettid:
        movl    T_TID, %eax
        incl    TALLY_GETTID
        jmp     done

epoll_ctl:
        cmpl    %edi, A_EPOLL_CTL_FD
        jne     slow
        testl   %edx, %edx              # EBADF, from the host (Q_CONN_FD is -1 before an accept)
        js      slow
        cmpl    %edx, Q_CONN_FD
        jne     slow
        cmpl    $Q_MAX_ENTRIES, Q_COUNT
        jae     slow
        cmpl    $0, Q_EPOLL_CTL_QUEUED
        jne     epoll_ctl_after_add
        cmpl    $EPOLL_CTL_DEL, %esi
        je      1f
        cmpl    $EPOLL_CTL_ADD, %esi
        jne     slow
        testl   $CONN_UNREGISTERED, A_CONN_FLAGS
        jz      slow
        cmpq    $USER_START, %r10       # the engine's pages are not the program's: EFAULT
        jb      slow
        movl    $12, %ecx               # the event, in what an unmap queued takes: EFAULT
        outside_unmapped %r10, %rcx, restore_slow
        movl    (%r10), %ecx            # the event, from the program's memory
        testl   $~EPOLL_PLAIN_EVENTS, %ecx
        jnz     restore_slow            # EPOLLEXCLUSIVE, EPOLLWAKEUP, unknown bits: the host
        movq    4(%r10), %rdi
        movq    %rdi, Q_EPOLL_DATA
        movl    %ecx, Q_EPOLL_EVENTS
        movl    $1, Q_EPOLL_ANSWERED    # what was added may be ready: no empty wait answered here
        jmp     2f
1:      testl   $CONN_REGISTERED, A_CONN_FLAGS
        jz      slow
epoll_ctl_del:
        xorl    %ecx, %ecx
2:      movl    %esi, Q_EPOLL_CTL_QUEUED
        movl    Q_COUNT, %edi
        shll    $4, %edi
        movl    %eax, Q_ENTRIES(%rdi)
        movl    %edx, Q_ENTRIES + 4(%rdi)
        movl    %ecx, Q_ENTRIES + 8(%rdi)
        movl    %esi, Q_ENTRIES + 12(%rdi)
        incl    Q_COUNT
        xorl    %eax, %eax
        jmp     done

# A DEL of conn after the ADD queued in this entry (python3 removes the connection from its
# instance after its response): conn is registered, by that ADD. Queued, 0; the instance is then
# as it was before the ADD, so empty waits on it are answered again. One epoll_ctl more per
# entry, and no other after it (Q_EPOLL_CTL_QUEUED is the DEL's).
epoll_ctl_after_add:
        cmpl    $EPOLL_CTL_DEL, %esi
        jne     slow
        cmpl    $EPOLL_CTL_ADD, Q_EPOLL_CTL_QUEUED
        je      1f
        cmpl    $EPOLL_ADD_ANSWERED, Q_EPOLL_CTL_QUEUED
        jne     slow
1:      movl    $0, Q_EPOLL_ANSWERED
        jmp     epoll_ctl_del

epoll_pwait:
        testq   %r8, %r8                # a signal mask for the wait: the host
        jnz     slow
epoll_wait:
        cmpl    $EPOLL_CTL_ADD, Q_EPOLL_CTL_QUEUED
        je      epoll_wait_added
epoll_wait_empty:
        cmpl    %edi, A_EPOLL_FD
        je      1f
        cmpl    %edi, A_EPOLL_ACCEPT_FD
        jne     slow
1:      testl   %r10d, %r10d            # a timeout: the host
        jnz     slow
        cmpl    $1, %edx                # maxevents; larger ones, and EINVAL, from the host
        jl      slow
        cmpl    $EPOLL_EVENTS_MAX, %edx
        jg      slow
        movabsq $USER_END - 12 * EPOLL_EVENTS_MAX, %rcx
        cmpq    %rcx, %rsi
        jae     restore_slow
        cmpl    $0, Q_WRITE_SHUT        # a shutdown queued since: a hang-up may be ready now
        jne     restore_slow
        cmpl    $0, Q_EPOLL_ANSWERED    # set by a queued ADD (what it adds may be ready)
        jne     5f
        cmpl    %edi, A_EPOLL_FD
        je      2f
        movl    A_ACCEPT_FD, %ecx
        cmpl    %ecx, Q_CONN_FD         # the connection taken here: the listener has no more
        jne     restore_slow
        jmp     3f
2:      testl   $CONN_QUIET_ONCE_READ, A_CONN_FLAGS
        jz      3f                      # quiet now; or quiet once the program has read every
        movl    A_READ_LENGTH, %ecx     # byte read ahead, which were all the connection held
        cmpl    %ecx, Q_READ_TAKEN
        jne     restore_slow
3:      cmpl    $EMPTY_WAITS_MAX, Q_EMPTY_WAITS
        jae     restore_slow            # then the host, for a program polling in a loop
        incl    Q_EMPTY_WAITS
        movl    $TALLY_EPOLL_WAIT, %ecx
        cmpl    $SYS_EPOLL_WAIT, Q_SAVE_RAX
        je      4f
        movl    $TALLY_EPOLL_PWAIT, %ecx
4:      incl    (%rcx)
        xorl    %eax, %eax
        jmp     done
# After the ADD of conn and the wait after it (python3 reads its request, then polls): on the
# instance that held only the listener, whose connection conn is, added for EPOLLIN alone
# (level-triggered), when conn held nothing but the bytes read ahead (no more, no end of stream,
# no error: CONN_HOLDS_READ_AHEAD) and the program has read them all here: nothing is ready.
5:      cmpl    $EPOLL_ADD_ANSWERED, Q_EPOLL_CTL_QUEUED
        jne     restore_slow
        cmpl    %edi, A_EPOLL_ACCEPT_FD
        jne     restore_slow
        movl    A_ACCEPT_FD, %ecx
        cmpl    %ecx, Q_CONN_FD
        jne     restore_slow
        cmpl    $EPOLLIN, Q_EPOLL_EVENTS
        jne     restore_slow
        testl   $CONN_HOLDS_READ_AHEAD, A_CONN_FLAGS
        jz      restore_slow
        movl    A_READ_LENGTH, %ecx
        cmpl    %ecx, Q_READ_TAKEN
        jne     restore_slow
        jmp     3b

epoll_wait_added:                       # the wait after an ADD of conn, on that instance
        cmpl    %edi, A_EPOLL_CTL_FD
        jne     epoll_wait_empty
        cmpl    %edi, A_EPOLL_FD        # nothing else in it is ready: it found nothing ...
        je      1f
        cmpl    %edi, A_EPOLL_ACCEPT_FD # ... or only the listener, whose connection is conn
        jne     slow
        movl    A_ACCEPT_FD, %ecx
        cmpl    %ecx, Q_CONN_FD
        jne     restore_slow
1:      cmpl    $0, Q_READ_TAKEN        # what A_CONN_EVENTS says still holds
        jne     restore_slow
        cmpl    $0, Q_BYTES
        jne     restore_slow
        cmpl    $0, Q_WRITE_SHUT
        jne     restore_slow
        cmpl    $Q_MAX_ENTRIES, Q_COUNT
        jae     restore_slow
        cmpl    $1, %edx                # maxevents: EINVAL, from the host
        jl      restore_slow
        cmpl    $EPOLL_WAIT_MAX_EVENTS, %edx
        jg      restore_slow
        cmpq    $USER_START, %rsi       # the engine's pages are not the program's: EFAULT
        jb      restore_slow
        movabsq $USER_END, %rcx         # the whole array within user space, or EFAULT
        cmpq    %rcx, %rsi
        jae     restore_slow
        subq    %rsi, %rcx
        movslq  %edx, %rax
        imulq   $12, %rax
        cmpq    %rcx, %rax
        ja      restore_rax_slow
        movl    $12, %ecx               # the event written, in what an unmap queued takes: EFAULT
        outside_unmapped %rsi, %rcx, restore_rax_slow
        movl    A_CONN_EVENTS, %ecx
        andl    Q_EPOLL_EVENTS, %ecx
        jz      restore_rax_slow        # not ready for what it was added for: the host waits
        movl    %ecx, (%rsi)            # to the program's array
        movq    Q_EPOLL_DATA, %rax
        movq    %rax, 4(%rsi)
        movl    Q_COUNT, %eax
        shll    $4, %eax
        movl    $232, Q_ENTRIES(%rax)   # {epoll_wait, conn, events, ep}
        movl    Q_CONN_FD, %esi
        movl    %esi, Q_ENTRIES + 4(%rax)
        movl    %ecx, Q_ENTRIES + 8(%rax)
        movl    %edi, Q_ENTRIES + 12(%rax)
        incl    Q_COUNT
        movl    $EPOLL_ADD_ANSWERED, Q_EPOLL_CTL_QUEUED
        movl    $1, Q_EPOLL_ANSWERED
        movl    $1, %eax
        jmp     done

accept4:
        testl   $~ACCEPT4_FLAGS, %r10d  # unknown flags: EINVAL, from the host
        jnz     slow
accept:
        cmpl    %edi, A_LISTENER_FD
        jne     slow
        movl    A_ACCEPT_FD, %eax
        testl   %eax, %eax
        js      refuse                  # none waits
        cmpl    %eax, Q_CONN_FD
        je      refuse                  # taken here already
        cmpl    $Q_MAX_ENTRIES, Q_COUNT
        jae     restore_rax_slow
        testq   %rsi, %rsi              # no address wanted
        jz      3f
        copy_address A_PEER, A_PEER_LENGTH, restore_rax_slow
3:      xorl    %esi, %esi              # accept's flags are 0, accept4's in R10
        cmpl    $288, Q_SAVE_RAX
        cmovel  %r10d, %esi
        testl   $SOCK_NONBLOCK, %esi    # the published status is accept's without flags
        jz      4f
        movl    $1, Q_STATUS_STALE
4:      movl    Q_COUNT, %ecx
        shll    $4, %ecx
        movl    $288, Q_ENTRIES(%rcx)   # {accept4, listener, flags, fd}
        movl    Q_SAVE_RDI, %edi
        movl    %edi, Q_ENTRIES + 4(%rcx)
        movl    %esi, Q_ENTRIES + 8(%rcx)
        movl    %eax, Q_ENTRIES + 12(%rcx)
        incl    Q_COUNT
        movl    %eax, Q_CONN_FD
        jmp     done
# munmap(addr, length): 0, the unmap queued as {munmap, pages, addr}; the host performs it at the
# next exit, before anything else. Its answer depends on no mapping: only the range's alignment
# and bounds are checked (EINVAL otherwise, from the host), and the host published that the
# mapping count leaves room for the splits of every entry the queue holds (ENOMEM otherwise).
# Until that exit the pages stay readable and writable to the program: memory it gave up, which
# only a program that touches it itself after unmapping it could notice (Linux would raise
# SIGSEGV); every other call goes to the host meanwhile, which performs the queue first, so that
# no call reads or writes a buffer in unmapped memory (Linux: EFAULT).
munmap:
        cmpl    $0, A_UNMAPS
        je      slow
        cmpl    $Q_MAX_ENTRIES, Q_COUNT
        jae     slow
        testl   $0xfff, %edi            # not page-aligned
        jnz     slow
        addq    $0xfff, %rsi            # the length in pages, rounded up
        jc      restore_slow
        shrq    $12, %rsi
        jz      restore_slow            # nothing to unmap
        movabsq $USER_PAGES, %rcx
        subq    %rsi, %rcx
        jb      restore_slow            # longer than user space
        shlq    $12, %rcx
        cmpq    %rcx, %rdi
        ja      restore_slow            # ends beyond it
        movl    $SYS_MUNMAP, %eax
        queue_unmap
        xorl    %eax, %eax
        jmp     done

# mremap(old, old_length, new_length, 0 | MREMAP_MAYMOVE, _) that shrinks (or keeps) a range
# in place: old, and the tail queued as {mremap, pages, tail}, which the host unmaps as that
# mremap would. Linux's EFAULT depends on whether a mapping holds old (only that: a shrink
# unmaps the tail wherever the old range ends): answered here when old is in the program's
# newest mapping as the host published it, and not after a munmap or mremap queued since.
mremap:
        cmpl    $0, A_UNMAPS
        je      slow
        cmpq    $0, Q_UNMAP_HIGH        # an unmap queued: the extent below may be stale
        jne     slow
        cmpl    $Q_MAX_ENTRIES, Q_COUNT
        jae     slow
        testq   $~MREMAP_MAYMOVE, %r10  # MREMAP_FIXED, or an unknown flag
        jnz     slow
        testl   $0xfff, %edi
        jnz     slow
        testq   %rdx, %rdx              # a new length of 0
        jz      slow
        movabsq $USER_END, %rcx         # lengths whose page counts overflow: the host
        cmpq    %rcx, %rdx
        jae     restore_slow
        cmpq    %rcx, %rsi
        jae     restore_slow
        addq    $0xfff, %rsi            # the old size
        andq    $-4096, %rsi
        jz      restore_slow            # 0: EFAULT
        movq    %rdx, %rcx              # the new size
        addq    $0xfff, %rcx
        andq    $-4096, %rcx
        cmpq    %rsi, %rcx
        ja      restore_slow            # it grows: the host
        movq    Q_RES_TAKEN, %rax       # the newest mapping was made here, from the reservation
        testq   %rax, %rax
        jz      3f
        negq    %rax
        addq    A_RES_END, %rax         # it starts at the reservation's end less what was taken,
        cmpq    %rax, %rdi              # and ends where the host's list will merge it
        jb      restore_rax_slow
        cmpq    A_RES_EXTENT_END, %rdi
        jae     restore_rax_slow
        jmp     4f
3:      cmpq    A_MAP_START, %rdi
        jb      restore_rax_slow        # old is not in the newest mapping: the host
        cmpq    A_MAP_END, %rdi
        jae     restore_rax_slow
4:      movabsq $USER_END, %rax         # an old range that ends beyond user space: the host
        subq    %rsi, %rax
        cmpq    %rax, %rdi
        ja      restore_rax_slow
        subq    %rcx, %rsi              # the bytes cut off
        jnz     2f
        incl    TALLY_MREMAP
        jmp     1f
2:
        addq    %rcx, %rdi              # where they start
        shrq    $12, %rsi
        movl    $SYS_MREMAP, %eax
        queue_unmap
1:      movq    Q_SAVE_RDI, %rax
        jmp     done

# mmap(NULL, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, _, 0): the top length
# bytes of the reservation (less what was taken since the host looked), queued as {mmap, pages,
# address}: the host adds the mapping to its list at the next exit. The pages are in the page
# tables already (zero, as every free page) and stay there, so neither the call nor the first
# touch of them leaves the guest. Answered only where the host would have put it: the host
# publishes the reservation only while a mapping starts at its end (so no free page above it
# belongs to its gap) and the length must be more than the longest free gap above it (which
# top-down placement tries first). Not after an unmap queued (the gap may have grown above);
# any other flag, protection, hint or offset, a length of 0 or one the reservation does not
# hold go to the host.
mmap:
        testq   %rdi, %rdi              # a hint
        jnz     slow
        cmpq    $PROT_READ_WRITE, %rdx
        jne     slow
        cmpq    $MAP_PRIVATE_ANONYMOUS, %r10
        jne     slow
        testq   %r9, %r9                # an offset
        jnz     slow
        cmpq    $0, A_RES_END           # no reservation published
        je      slow
        cmpq    $0, Q_UNMAP_HIGH
        jne     slow
        cmpl    $Q_MAX_ENTRIES, Q_COUNT
        jae     slow
        movabsq $USER_END, %rcx         # a length whose page count overflows: the host
        cmpq    %rcx, %rsi
        jae     restore_slow
        addq    $0xfff, %rsi            # the length in whole pages
        andq    $-4096, %rsi
        jz      restore_slow            # 0: EINVAL
        cmpq    A_ROOM_ABOVE, %rsi
        jbe     restore_slow            # it fits a gap above: the host puts it there
        movq    A_RES_END, %rax
        subq    A_RES_START, %rax       # the reservation's size,
        movq    Q_RES_TAKEN, %rcx
        cmpq    %rax, %rcx
        ja      restore_rax_slow        # (a count the program wrote itself)
        subq    %rcx, %rax              # what is left of it
        cmpq    %rax, %rsi
        ja      restore_rax_slow        # it does not hold the mapping: the host
        addq    %rsi, %rcx
        movq    A_RES_END, %rdi
        subq    %rcx, %rdi              # the mapping's start
        shrq    $12, %rsi
        movl    Q_COUNT, %eax
        shll    $4, %eax
        movl    $SYS_MMAP, Q_ENTRIES(%rax)
        movl    %esi, Q_ENTRIES + 4(%rax)
        movq    %rdi, Q_ENTRIES + 8(%rax)
        movq    %rcx, Q_RES_TAKEN
        incl    Q_COUNT
        movq    %rdi, %rax
        jmp     done

refuse:
        cmpl    $0, A_LISTENER_REFUSES
        je      restore_rax_slow
        movl    $TALLY_ACCEPT4, %ecx
        cmpl    $SYS_ACCEPT4, Q_SAVE_RAX
        je      1f
        movl    $TALLY_ACCEPT, %ecx
1:      incl    (%rcx)
        movq    $-11, %rax              # EAGAIN
done:
        movl    Q_SITE_COUNT, %esi      # where the call came from, while the host learns sites
        cmpl    $SITES_MAX, %esi
        jae     1f
        shll    $4, %esi
        movq    Q_SAVE_RCX, %rdi
        movq    %rdi, Q_SITES(%rsi)
        movq    Q_SAVE_RAX, %rdi
        movq    %rdi, Q_SITES + 8(%rsi)
        incl    Q_SITE_COUNT
1:      movq    Q_SAVE_RSI, %rsi
        movq    Q_SAVE_RDI, %rdi
        movq    Q_SAVE_RCX, %rcx
        movq    %rsp, Q_SAVE_RSP        # RFLAGS back from R11 as sysretq would (TF excluded
        movl    $Q_STACK_TOP, %esp      # above; IF and IOPL are not the program's to set)
        pushq   %r11
        popfq
        movq    Q_SAVE_RSP, %rsp
        jmpq    *%rcx

# ---- A rewritten call site's way in (REWRITTEN_ENTRY, PVM only) ----
# On PVM the `syscall` instruction itself costs ~25 µs, before this entry runs its first
# instruction, and this entry runs at CPL 3: a program can jump here. So the host rewrites the
# template's call sites `mov $nr, %eax; syscall` (the C library's) to jump to a trampoline of
# its own (SyscallSiteRewriter) that sets RAX and RCX as the instruction would and comes here;
# what `syscall` would also do is done here: R11 takes RFLAGS, and TF, DF, NT, AC (FMASK) are
# cleared, on the queue page's stack, never the program's. Then it is an ordinary call.
rewritten_entry:
        movq    %rsp, Q_SAVE_RSP
        movl    $Q_STACK_TOP, %esp
        pushfq
        movq    (%rsp), %r11
        andq    $~SYSCALL_MASKED_FLAGS, (%rsp)
        popfq
        movq    Q_SAVE_RSP, %rsp
        jmp     fast_syscall_entry
fast_syscall_end:

# ---- The template's FPU state, restored in the guest (guest address 0x7000, a page of its own) ----
# A reset must put back the program's FPU, SSE, AVX and AVX-512 state. KVM_SET_XSAVE costs ~5 µs
# on PVM (every vCPU ioctl loads and puts the vCPU, reading MSRs through the outer hypervisor),
# so a request VM's first entry after a reset starts here instead: XRSTOR of the template's image
# (all of XCR0; the image's XSTATE_BV, masked with XCR0 by the host, sets the rest to their
# initial state, as KVM_SET_XSAVE would), then RAX, RDX and RIP as the host had them. Neither
# instruction changes RFLAGS or the stack. The page is executable at CPL 3 only where this runs
# there (PVM). A program that jumps here itself only loads the template's FPU state and the values
# the host put in its answer page: between the host's reset and the VM's next exit those are the
# restore's own (what the program could load itself from the pages it may read); at any other
# time A_RESUME_RIP is fpu_restore_refused, and its #UD ends the program with SIGSEGV, as a jump
# below mmap_min_addr would on Linux.
        .balign 16, 0xcc
fpu_restore_entry:
        movl    $-1, %eax
        movl    $-1, %edx
        xrstor64 FPU_IMAGE
        movq    A_RESUME_RAX, %rax
        movq    A_RESUME_RDX, %rdx
        jmpq    *A_RESUME_RIP
fpu_restore_refused:
        ud2
fpu_restore_end:

# ---- Exception entries (guest address 0xf000, supervisor-only), 16 bytes apart ----
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
