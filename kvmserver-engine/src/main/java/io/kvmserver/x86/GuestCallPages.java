package io.kvmserver.x86;

/**
 * The pages through which the PVM syscall entry ({@link TrapStub#FAST_SYSCALL_ENTRY}) answers
 * calls in the guest, laid out as {@code trap-stub.S} reads and writes them.
 *
 * <p>The <em>answer page</em> is written only by the host, before every entry into the guest, and
 * is read-only for the program: what the entry may answer without the host (the served
 * connection, its local address, which calls on it may be queued and how many bytes it takes
 * without blocking, the bytes it has to read, its registration in an epoll instance, a connection
 * the listener has waiting and the fd it gets, or a non-blocking listener with nothing to accept,
 * an epoll instance found with nothing ready, what the connection is ready for when added to
 * one). The <em>queue page</em> is the entry's, and so the
 * program's too: the calls it queued, their bytes, which fd is the served connection now, how much
 * of the read-ahead was read, a save area and a few bytes of stack.
 * The host reads it only while the vCPU is stopped and not halfway through the entry, and checks
 * each entry as it would the call itself.
 */
public final class GuestCallPages {

    private GuestCallPages() {
    }

    /** The answer page: read-only for the program, never executable. */
    public static final long ANSWERS = 0xb000;
    /**
     * {@code int}: the guest fd of the connection the VM serves, or -1. When a connection waits at
     * {@link #LISTENER_FD}, the {@code CONNECTION_*}, {@code NAME*}, {@code WRITE_BUDGET} and
     * {@code READ_*} fields are that connection's, at {@link #ACCEPT_FD}, and this is -1.
     */
    public static final long CONNECTION_FD = ANSWERS;
    /**
     * {@code int}: what the entry may answer for that connection: the {@code *_QUEUED} bits, and
     * its registration in {@link #EPOLL_CTL_FD} ({@link #REGISTERED} or {@link #UNREGISTERED}).
     */
    public static final long CONNECTION_FLAGS = ANSWERS + 4;
    /**
     * {@code int}: a listener whose {@code accept} the entry answers ({@link #ACCEPT_FD},
     * {@link #LISTENER_REFUSES}), or -1.
     */
    public static final long LISTENER_FD = ANSWERS + 8;
    /** {@code int}: bytes the connection takes without blocking now, at most {@link #DATA_SIZE}. */
    public static final long WRITE_BUDGET = ANSWERS + 12;
    /** {@code int}: the length of the connection's local address (getsockname's), 0 when not published. */
    public static final long NAME_LENGTH = ANSWERS + 16;
    /** {@code int}: bytes at {@link #READ_DATA}, the connection's next ones (read ahead with a peek). */
    public static final long READ_LENGTH = ANSWERS + 20;
    /**
     * {@code int}: an epoll fd whose last wait on the host, with a zero timeout, found nothing, or
     * whose files the host polled before the entry and found nothing ready, and nothing but the
     * program ran since: the entry answers up to four such waits per entry with 0
     * ({@link #EMPTY_WAITS}). Or -1.
     */
    public static final long EPOLL_FD = ANSWERS + 24;
    /**
     * {@code int}: the epoll fd the program last waited on or changed, for which the connection's
     * registration is published ({@link #REGISTERED}, {@link #UNREGISTERED}); or -1.
     */
    public static final long EPOLL_CTL_FD = ANSWERS + 28;
    /** The connection's local address as getsockname gives it, at most {@link #NAME_MAX} bytes. */
    public static final long NAME = ANSWERS + 32;
    public static final int NAME_MAX = 128;
    /** {@code int}: the fd a connection waiting at {@link #LISTENER_FD} gets when accepted now, or -1. */
    public static final long ACCEPT_FD = ANSWERS + 160;
    /** {@code int}: the length of its peer's address. */
    public static final long PEER_LENGTH = ANSWERS + 164;
    /** Its peer's address as accept gives it, at most {@link #NAME_MAX} bytes. */
    public static final long PEER = ANSWERS + 168;
    /** {@code int}: nonzero when accept on {@link #LISTENER_FD} fails with {@code EAGAIN} once no connection waits. */
    public static final long LISTENER_REFUSES = ANSWERS + 296;
    /**
     * {@code int}: an epoll fd whose last wait on the host found only {@link #LISTENER_FD} ready:
     * once the program has taken the connection at {@link #ACCEPT_FD}, the entry answers up to
     * four zero-timeout waits on it per entry with 0 (see {@link #EMPTY_WAITS}). Or -1.
     */
    public static final long EPOLL_ACCEPT_FD = ANSWERS + 300;
    /**
     * {@code int}: what the connection is ready for (epoll's {@code EPOLLIN}, {@code EPOLLOUT} and
     * their {@code NORM} bits, nothing else) when it is not in {@link #EPOLL_CTL_FD}'s interest
     * list, bytes were read ahead, and that instance has nothing else ready ({@link #EPOLL_FD}, or
     * {@link #EPOLL_ACCEPT_FD} once the connection is taken): the entry answers the wait after
     * the program adds it there. Else 0.
     */
    public static final long CONNECTION_EVENTS = ANSWERS + 304;
    /**
     * Nonzero when the entry may answer {@code munmap} and a shrinking {@code mremap} and queue
     * the unmap: the program's mapping count leaves room for every split the queue's entries can
     * make (Linux's munmap fails with {@code ENOMEM} past {@code vm.max_map_count}).
     */
    public static final long UNMAPS = ANSWERS + 308;
    /**
     * The extent of the mapping that holds the program's newest one (merged with alike
     * neighbours, as the host's list has it), or 0 and 0: where a shrinking {@code mremap} is
     * answered in the guest, Linux's {@code EFAULT} depending on the mapping at its address.
     */
    public static final long MAP_START = ANSWERS + 344;
    public static final long MAP_END = ANSWERS + 352;
    /**
     * The program's reservation (see {@code AddressSpace.reserve}), or 0 and 0: the entry answers
     * {@code mmap(NULL, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, _, 0)} with
     * its top {@code length} bytes (less what it took since, {@link #RESERVED_TAKEN}) and queues
     * {mmap, pages, address} when the length is more than {@link #ROOM_ABOVE} and no unmap is
     * queued. Published only while a mapping made there goes where the host would put it.
     */
    public static final long RESERVED_START = ANSWERS + 360;
    /**
     * The size of the reservation a template freezes with: python3's asyncio server maps a
     * 260 KiB receive buffer in every request; a few of those.
     */
    public static final long RESERVATION = 1L << 20;
    public static final long RESERVED_END = ANSWERS + 368;
    /** The longest free gap above the reservation: a mapping that fits it goes there, through the host. */
    public static final long ROOM_ABOVE = ANSWERS + 376;
    /**
     * Where the mapping the entry makes from the reservation ends once the host's list merges it
     * with its neighbour: the extent a shrinking {@code mremap} of it is answered within.
     */
    public static final long RESERVED_EXTENT_END = ANSWERS + 384;
    /**
     * {@code int}: bit {@code fd} set for each fd below 32 that is the program's console (its
     * stdout and stderr, {@code ConsoleFile}): the entry answers {@code write} to it within
     * {@link #CONSOLE_BUDGET} and queues it like a write to the connection.
     */
    public static final long CONSOLE_FDS = ANSWERS + 392;
    /**
     * {@code int}: bytes of the console's buffer the host set aside for this entry, at most
     * {@link #DATA_SIZE}: what the queue's data, the console's writes included, may hold (as
     * {@link #WRITE_BUDGET} is for the connection's). Given back at the next exit.
     */
    public static final long CONSOLE_BUDGET = ANSWERS + 396;
    /**
     * {@code int}: the connection's file status flags, as {@code fcntl(F_GETFL)} gives them now (a
     * connection waiting to be accepted: {@code O_RDWR}, what {@code accept} without flags gives
     * it). The entry answers {@code F_GETFL} with them while {@link #STATUS_STALE} is clear, and
     * queues {@code F_SETFL} of {@code O_NONBLOCK} (with {@link #FIONBIO_QUEUED}).
     */
    public static final long CONNECTION_STATUS = ANSWERS + 400;
    /**
     * Where the first entry after a reset resumes once {@link TrapStub#FPU_RESTORE_ENTRY} has
     * restored the template's FPU state, and the RAX and RDX it had: written by the host before
     * that entry, read by nothing else.
     */
    public static final long RESUME_RIP = ANSWERS + 320;
    public static final long RESUME_RAX = ANSWERS + 328;
    public static final long RESUME_RDX = ANSWERS + 336;
    /** The bytes read ahead, to the end of the page. */
    public static final long READ_DATA = ANSWERS + 512;
    public static final int READ_MAX = (int) (GuestLayout.PAGE_SIZE - 512);
    /** {@code ioctl(conn, FIONBIO, &v)} may be queued. */
    public static final int FIONBIO_QUEUED = 1;
    /** Writes to the connection may be queued, within {@link #WRITE_BUDGET}. */
    public static final int WRITES_QUEUED = 2;
    /**
     * {@code setsockopt(conn, level, name, &v, 4)} may be queued (a TCP connection, or a route's) for
     * {@code TCP_NODELAY}, {@code SO_KEEPALIVE}, and {@code TCP_KEEPIDLE}, {@code TCP_KEEPINTVL},
     * {@code TCP_KEEPCNT} within Linux's ranges.
     */
    public static final int OPTIONS_QUEUED = 4;
    /** The connection is in {@link #EPOLL_CTL_FD}'s interest list: {@code EPOLL_CTL_DEL} of it may be queued. */
    public static final int REGISTERED = 8;
    /** It is not: {@code EPOLL_CTL_ADD} of it may be queued. */
    public static final int UNREGISTERED = 16;
    /** {@code shutdown(conn, SHUT_WR)} and {@code shutdown(conn, SHUT_RDWR)} may be queued (a stream not shut down for writing). */
    public static final int SHUTDOWN_QUEUED = 32;
    /**
     * {@link #EPOLL_FD} holds only once the program has read every byte read ahead
     * ({@link #READ_TAKEN} equal to {@link #READ_LENGTH}): the connection was ready with just those.
     */
    public static final int QUIET_ONCE_READ = 64;
    /**
     * {@link #PEER} is the connection's peer as getpeername gives it now: the host's own
     * getpeername of it returned exactly that when it filled the page (not once the peer has reset
     * the connection, when Linux answers {@code ENOTCONN}).
     */
    public static final int PEER_NAMED = 128;
    /**
     * The connection waiting at {@link #ACCEPT_FD} holds the bytes read ahead and nothing else (no
     * more, no end of stream, no error; the host polled it): added to {@link #EPOLL_ACCEPT_FD} for
     * {@code EPOLLIN} alone, it is not ready once the program has read them all, and the entry
     * answers that instance's zero-timeout waits with 0 then too. Published with that instance only.
     */
    public static final int HOLDS_READ_AHEAD = 256;
    /**
     * The connection's stream ends right after the bytes read ahead (the peer shut down its side,
     * nothing else is pending; the host polled it): once the program has read them all, the entry
     * answers its reads with 0, as Linux's at the end of a stream, and queues them with a count of 0.
     */
    public static final int ENDS_AFTER_READ_AHEAD = 512;

    /** The queue page: written by the entry (and maybe the program), never executable. */
    public static final long QUEUE = 0xc000;
    /** {@code int}: entries queued. */
    public static final long COUNT = QUEUE;
    /** {@code int}: data bytes queued. */
    public static final long BYTES = QUEUE + 4;
    /**
     * {@code long}: bytes of the reservation the entry mapped since the host looked (the newest
     * mapping is at {@link #RESERVED_END} less these); the host clears it.
     */
    public static final long RESERVED_TAKEN = QUEUE + 8;
    /** Where the entry saved RAX, RCX, RSI and RDI on entry (see {@link TrapStub#FAST_SYSCALL_END}). */
    public static final long SAVED_RCX = QUEUE + 24;
    public static final long SAVED_RSI = QUEUE + 32;
    public static final long SAVED_RDI = QUEUE + 40;
    public static final long SAVED_RAX = QUEUE + 48;
    /**
     * {@code int}: set by the entry when it queued an ADD (what it adds may be ready: no wait is
     * answered with 0 after it) or answered the wait after one; the host clears it for the next entry.
     */
    public static final long EPOLL_ANSWERED = QUEUE + 80;
    /** {@code long}: the data of the queued {@code EPOLL_CTL_ADD} (its events are in the entry). */
    public static final long EPOLL_DATA = QUEUE + 88;
    /**
     * {@code int}: the operation of the epoll_ctl the entry queued (one per entry), or
     * {@link #EPOLL_ADD_ANSWERED} once it answered the wait after an ADD; the host clears it.
     */
    public static final long EPOLL_CTL_QUEUED = QUEUE + 96;
    public static final int EPOLL_ADD_ANSWERED = 3;
    /**
     * {@code int}: the fd of the served connection for the entry: the host's {@link #CONNECTION_FD},
     * or the one the entry accepted ({@link #ACCEPT_FD}). The host writes it before an entry with
     * an empty queue.
     */
    public static final long QUEUED_CONNECTION_FD = QUEUE + 100;
    /** {@code int}: bytes of {@link #READ_DATA} the entry has given the program; the host clears it. */
    public static final long READ_TAKEN = QUEUE + 104;
    /**
     * {@code int}: zero-timeout waits the entry answered with 0 ({@link #EPOLL_FD},
     * {@link #EPOLL_ACCEPT_FD}), at most four per entry; the host clears it for the next entry.
     */
    public static final long EMPTY_WAITS = QUEUE + 112;
    /** {@code int}: the events of the queued {@code EPOLL_CTL_ADD}. */
    public static final long EPOLL_EVENTS = QUEUE + 116;
    /** {@code int}: set by the entry when it queued a {@code shutdown(SHUT_WR)}, after which it queues no write; the host clears it. */
    public static final long WRITE_SHUT = QUEUE + 108;
    /**
     * {@code int}: set by the entry when it queued a change of the connection's status flags (an
     * {@code F_SETFL}, a {@code FIONBIO}) or took it with {@code SOCK_NONBLOCK}:
     * {@link #CONNECTION_STATUS} is stale, and {@code F_GETFL} goes to the host. The host clears it.
     */
    public static final long STATUS_STALE = QUEUE + 468;
    /**
     * 16 bytes each: {@code u32} system call number, fd, and two arguments: a write's data offset
     * and length, the {@code int} value of a queued setsockopt and its {@code level << 8 | name},
     * the {@code int} value of a queued ioctl and 0, a shutdown's {@code SHUT_WR} and 0, an epoll_ctl's
     * events and operation (its epoll fd is {@link #EPOLL_CTL_FD}), the events an epoll wait after
     * an ADD reported and the epoll fd, a read's (or recvfrom's) count
     * and 0, or an accept4's flags and the fd the program was given (the entry's fd is the
     * listener's).
     */
    public static final long ENTRIES = QUEUE + 128;
    public static final int ENTRY_SIZE = 16;
    public static final int MAX_ENTRIES = 16;
    /**
     * {@code long}s: the lowest address the queued unmaps take and the end of the highest (0 and 0
     * when none is queued: a span never ends at 0, so {@link #UNMAP_HIGH} nonzero says an unmap is
     * queued). While they span something, {@link #MAP_START} may be stale until the host looks, a
     * write or epoll call whose buffer meets that span goes to the host (Linux: {@code EFAULT}),
     * which performs the queue first, and so does every other call but zero-timeout waits.
     */
    public static final long UNMAP_LOW = QUEUE + 384;
    public static final long UNMAP_HIGH = QUEUE + 392;
    /**
     * {@code u32} each: the calls the entry answered without a queue entry since the last exit, by
     * slot (the system call numbers in {@link #TALLIED_CALLS}): the host adds them to the VM's call
     * counts at the next exit and clears them, so that every call is counted by name wherever it
     * was answered. The program can write them: then it misstates only its own counts.
     */
    public static final long TALLY = QUEUE + 400;
    /**
     * The calls of the {@link #TALLY} slots, in order: {@code epoll_wait} and {@code epoll_pwait}
     * answered 0 (zero timeout, nothing ready), {@code getsockname}, {@code accept} and
     * {@code accept4} answered {@code EAGAIN}, an {@code mremap} that cuts nothing off,
     * {@code getpeername}, an {@code rt_sigaction} that only gets an action, {@code rt_sigprocmask}
     * (its change is in {@link #MASK}), {@code gettid}.
     */
    private static final int[] TALLIED_CALLS = {232, 281, 51, 43, 288, 25, 52, 13, 14, 186};
    /**
     * {@code long}: bit {@code sig - 1} set once the entry queued an action for signal {@code sig}
     * ({@link #DISPOSITIONS} is stale for it: the entry sends that signal's next
     * {@code rt_sigaction} to the host, which performs the queue first); the host clears it.
     */
    public static final long SIGACTIONS_QUEUED = QUEUE + 440;
    /**
     * {@code long}: the running thread's blocked signals as the entry's {@code rt_sigprocmask}s
     * set them, once {@link #MASK_SET} ({@code int}) is nonzero; the host gives the thread that
     * mask at the next exit, before anything else, and clears the flag. The entry never sets a mask
     * that unblocks a signal pending then ({@link #THREAD_PENDING}); a program that writes these
     * itself sets its own running thread's mask, as the call would.
     */
    public static final long MASK = QUEUE + 448;
    public static final long MASK_SET = QUEUE + 456;
    /**
     * {@code int}: how many of the {@link #SITES} the entry filled since the host last looked, or
     * {@link #SITES_MAX} once the template is frozen (request VMs record none). The host reads
     * them while it rewrites the template's call sites ({@code SyscallSiteRewriter}) and clears
     * the count; the program can write both, and then it names sites the host checks like any.
     */
    public static final long SITE_COUNT = QUEUE + 464;
    /** {@link #SITES_MAX} x {{@code u64} RCX, {@code u64} RAX}: the calls the entry answered. */
    public static final long SITES = QUEUE + 480;
    public static final int SITES_MAX = 8;
    public static final int SITE_SIZE = 16;
    /** The bytes of queued writes, and the 32-byte actions of queued {@code rt_sigaction}s. */
    public static final long DATA = QUEUE + 608;
    public static final int DATA_SIZE = (int) (GuestLayout.PAGE_SIZE - 608);

    /**
     * The dispositions page: the process's signal actions as {@code rt_sigaction} gives them, 32
     * bytes each ({@code struct sigaction} as the kernel takes it: handler, flags, restorer, mask),
     * signal 1 first. Written only by the host, before every entry into the guest, when they
     * changed; read-only for the program, never executable. The entry answers {@code oldact} from
     * it and queues {@code act} as {rt_sigaction, sig, its offset in {@link #DATA}, 0}.
     */
    public static final long DISPOSITIONS = 0xe000;
    /** The bytes of one action in {@link #DISPOSITIONS} and in {@link #DATA}. */
    public static final int ACTION_SIZE = 32;
    /**
     * After the actions, on the same page: the running thread's blocked signals ({@code long}), the
     * signals pending for it or its process ({@code long}), and its id ({@code int}), as they were
     * when the program last entered the guest (only the host changes them, at an exit).
     */
    public static final long THREAD_BLOCKED = DISPOSITIONS + 64 * ACTION_SIZE;
    public static final long THREAD_PENDING = THREAD_BLOCKED + 8;
    public static final long THREAD_TID = THREAD_BLOCKED + 16;

    /** How many {@link #TALLY} slots there are. */
    public static int tallySlots() {
        return TALLIED_CALLS.length;
    }

    /** The system call number tallied in {@code slot}. */
    public static int talliedCall(int slot) {
        return TALLIED_CALLS[slot];
    }
}
