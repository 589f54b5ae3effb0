package io.kvmserver.linux;

import com.sun.jna.LastErrorException;
import com.sun.jna.Memory;
import com.sun.jna.Pointer;
import io.kvmserver.host.LibC;
import io.kvmserver.host.OpenFlags;
import io.kvmserver.host.SyscallNumbers;
import io.kvmserver.memory.GuestMemory;
import io.kvmserver.x86.GuestCallPages;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The host's side of the calls the PVM syscall entry answers in the guest ({@link GuestCallPages}):
 * what it publishes before every entry into the guest, and the queued calls it performs at every
 * exit, before anything else. On PVM a call that reaches the host costs ~70 µs more than one the
 * entry answers (docs/benchmarks.md), and several calls a server makes on the connection it
 * serves need nothing from the host at once: accepting it (the host took it from the listener
 * for the request already), reading the request (the host read it ahead with a peek), writing the
 * response and shutting it down for writing, setting {@code TCP_NODELAY}, keepalive or
 * {@code FIONBIO}, adding it to or removing it from its epoll instance and the wait right after
 * the add (the host polled the connection, and vouched that nothing else in the instance is
 * ready), asking for its local address, an event loop's accept that finds nothing more, and its
 * zero-timeout poll that finds nothing again (at most once before the host looks itself). And
 * three calls about the process rather than the connection, answered from what the host last
 * wrote of its signal state ({@link SignalPage}): {@code rt_sigaction} (a new action queued and
 * installed here, as the call installs one), {@code rt_sigprocmask} (a new mask left in the queue
 * page and given to the thread here, unless it unblocks a pending signal) and {@code gettid}.
 *
 * <p>Why the answers are Linux's: the page is computed from the VM's state before the program last
 * entered the guest, and since then only the program ran, changing nothing the host sees but
 * through the queue, whose bytes the entry counts against the budget. A write is
 * queued only within what the connection's send queue takes without blocking (it was empty and
 * its send buffer at least {@link #MIN_SEND_BUFFER}, bytes queued at most
 * {@link GuestCallPages#DATA_SIZE}), so the host's send takes all of it, as Linux's would have at
 * the call. The one difference a peer can see is when: a queued write reaches the socket at the
 * program's next exit, not at its call. A server makes its next call (close, or the wait) at
 * once; the host performs the queue at an exit of any kind (a fault and a time limit included),
 * and the server's periodic check of its VMs makes a VM with calls queued exit, so a program that
 * computes after its write without a call has it sent within one period (a tenth of
 * {@code max-request-time}, at most 100 ms). An error the socket had by
 * then (the client reset the connection) arrived just after the write: the bytes are dropped,
 * there is no SIGPIPE, and the error is left for the program's next call to find.
 *
 * <p>A read is answered from bytes the host peeked at before the entry ({@link ReadAhead}), so
 * the socket still holds them: the read gives what both have (a stream read may always return
 * fewer bytes than arrived), and the host takes exactly as many from the socket at the next exit,
 * before any other read or wait of the program's can see it. Only for a stream whose reads
 * return what it holds (not shut down for reading, no {@code SO_RCVLOWAT}). An accept is
 * answered with the connection the host already took from the shared listener for this request
 * (a request VM's listener keeps it until the program accepts, see {@link SharedListener}), at
 * the fd the host's accept would install it at now: the lowest free one, which nothing but the
 * host changes.
 *
 * <p>The queue page is the program's to write: every entry is checked as the call would be, and
 * against what the answer page allowed (only on the connection the host published; writes from
 * within the data area and, together, within the budget; reads, together, within the bytes read
 * ahead; a setsockopt only of the options the entry queues, with their values' ranges, on a TCP
 * connection; an epoll_ctl only as the
 * registration was published; one accept, of the connection published, at the fd published), so a
 * forged entry is at most a call the program could have made, the host's sends always take every
 * byte, its receives never wait, and it does a bounded amount of non-blocking work per exit.
 */
public final class GuestCalls {

    private static final Logger log = LoggerFactory.getLogger(GuestCalls.class);
    /** The send buffer a connection needs for its writes to be queued (Linux's default is 16 KiB). */
    static final int MIN_SEND_BUFFER = 4 * GuestCallPages.DATA_SIZE;
    private static final int SIOCOUTQ = 0x5411;
    private static final int SO_SNDBUF = 7;
    private static final int MSG_DONTWAIT = 0x40;
    private static final int MSG_NOSIGNAL = 0x4000;
    private static final int SOCK_NONBLOCK = 04000;
    private static final int SOCK_CLOEXEC = 02000000;
    /** Shared listeners looked for in a new process's table: a server listens on one or two. */
    private static final int MAX_LISTENERS = 4;
    private static final int READ = SyscallNumbers.READ;
    private static final int RECVFROM = SyscallNumbers.RECVFROM;
    private static final int ACCEPT4 = SyscallNumbers.ACCEPT4;
    private static final int WRITE = SyscallNumbers.WRITE;
    private static final int SHUTDOWN = SyscallNumbers.SHUTDOWN;
    private static final int SHUT_WR = 1;
    private static final int SHUT_RDWR = 2;
    private static final int FCNTL = SyscallNumbers.FCNTL;
    private static final int F_GETFL = 3;
    private static final int F_SETFL = 4;
    private static final int SETSOCKOPT = SyscallNumbers.SETSOCKOPT;
    private static final int IOCTL = SyscallNumbers.IOCTL;
    private static final int EPOLL_CTL = SyscallNumbers.EPOLL_CTL;
    private static final int EPOLL_CTL_ADD = 1;
    private static final int EPOLL_CTL_DEL = 2;
    private static final int SO_KEEPALIVE = 9;
    private static final int IPPROTO_TCP = 6;
    private static final int TCP_NODELAY = 1;
    private static final int TCP_KEEPIDLE = 4;
    private static final int TCP_KEEPINTVL = 5;
    private static final int TCP_KEEPCNT = 6;
    private static final byte[] NO_NAME = AnswerPage.NO_NAME;
    private static final int EPOLL_WAIT = SyscallNumbers.EPOLL_WAIT;
    private static final int MUNMAP = SyscallNumbers.MUNMAP;
    private static final int MREMAP = SyscallNumbers.MREMAP;
    private static final int MMAP = SyscallNumbers.MMAP;
    private static final int RT_SIGACTION = SyscallNumbers.RT_SIGACTION;
    /** The console's fds the page publishes are those below this (a bit each). */
    private static final int CONSOLE_FDS_MAX = 32;

    private final GuestMemory memory;
    private final boolean enabled;
    /** An int and its length, for the host calls that read the connection's state. */
    private final Memory scratch = new Memory(8);
    /** The host's looks at readiness before an entry (and before a queued send). */
    private final ReadinessProbe probe = new ReadinessProbe();
    /** The local address of a connection not accepted yet. */
    private final Memory sockaddr = new Memory(GuestCallPages.NAME_MAX);
    /** The connection's next bytes, for the reads the entry answers. */
    private final ReadAhead readAhead;
    /** The process's signal actions and its running thread's mask and id, for the calls the entry answers about them. */
    private final SignalPage signals;
    /**
     * The console the program's stdout and stderr write to, and bytes of its buffer set aside for
     * the entry's writes to them: reserved before an entry, given back at the next exit outside
     * the entry, after the queue ({@link #releaseConsole}), before any call the host makes (the
     * frozen wait for a connection is made without an entry) and at the end of every run, so that
     * a VM holds none while it waits.
     */
    private BufferedConsole creditConsole;
    private int consoleCredit;
    /**
     * Whether the program wrote to its console through the host (seen once, kept for the VM's
     * life): only then is console space set aside before each entry, so that a program that
     * never logs pays nothing for it.
     */
    private boolean writesConsole;
    /** The console bytes the queue may still write in this flush. */
    private long flushConsole;
    /** Whether a dropped queue entry was logged (once per VM). */
    private final OddQueueWarning odd = new OddQueueWarning(log);
    /**
     * The unmaps of the last flush not performed yet ({@link #performUnmaps}): address and page
     * count of each, in queue order.
     */
    private final long[] unmapsDue = new long[2 * GuestCallPages.MAX_ENTRIES];
    private int unmapsDueCount;

    /** The connection this VM serves (accepted from a request's listener) and its guest fd. */
    private SocketFile connection;
    private int connectionFd = -1;

    /** Its local address as getsockname gives it ({@link #NO_NAME}: the host answers). */
    private byte[] connectionName = NO_NAME;
    /** Its peer's address as getpeername gave it when it was accepted ({@link #NO_NAME}: the host answers). */
    private byte[] connectionPeer = NO_NAME;
    /** Whether it takes the TCP options the entry queues (a TCP connection, or a route's). */
    private boolean connectionTcp;
    /** The connection's transfer count when {@link #takesWritesNow} was last asked (-1: not yet), and its answer. */
    private long writesCheckedAt = -1;
    private boolean writesAnswer;

    /** The shared listeners in the process's table when it was new, and their fds; -1: not looked for yet. */
    private final SharedListener[] listeners = new SharedListener[MAX_LISTENERS];
    private final int[] listenerFds = new int[MAX_LISTENERS];
    private int listenerCount = -1;

    /** What was found about the connection a listener keeps for the program (whose peer is {@link #describedPeer}). */
    private byte[] describedPeer;
    private byte[] waitingName = NO_NAME;
    private boolean waitingTakesWrites;

    /**
     * An epoll instance whose last wait on the host had a zero timeout and found nothing, and its
     * fd; -1 once the host has made any other call for the program (see {@link #beforeHostCall}).
     */
    private int emptyEpollFd = -1;
    private EpollFile emptyEpoll;
    /**
     * An epoll instance whose last wait on the host found only {@link #onlyListener} ready, and
     * its fd; -1 once the host has made any other call for the program.
     */
    private int onlyListenerEpollFd = -1;
    private EpollFile onlyListenerEpoll;
    private SharedListener onlyListener;
    /** {@link #emptyEpollFd} before the call the host is making now. */
    private int emptyBefore = -1;
    /**
     * Whether the program waits with a zero timeout (seen once, kept for the VM's life): only
     * for such a program is the instance polled before an entry ({@link ReadinessProbe#quietNow}).
     */
    private boolean pollsWithoutTimeout;
    /** The epoll instance the program last waited on or changed, and its fd. */
    private int usedEpollFd = -1;
    private EpollFile usedEpoll;

    /** What the answer page holds (valid when {@link #published}); written only when it changes. */
    private boolean published;
    /** What {@link #showMappings} last found, in which address space and after how many of its changes. */
    private AddressSpace mapsOf;
    private int mapsChanges;
    private boolean mapsUnmap;
    private long mapsStart;
    private long mapsEnd;
    private final AnswerPage shown = new AnswerPage();

    /**
     * What the page allowed when the program last entered, left for the rest of the queue while
     * {@link #flush} performs it: bytes it may still send and take from the read-ahead, whether
     * the published accept is still to be taken, and whether an ADD was just performed (the wait
     * after it may follow).
     */
    private long flushBudget;
    private long flushUnread;
    private boolean flushAcceptable;
    private boolean flushAdded;
    /** Whether this flush performed an ADD of the connection that no DEL has undone yet. */
    private boolean flushRegistered;
    /** What the next entry's page is to hold, computed before every entry. */
    private final AnswerPage next = new AnswerPage();
    /**
     * Whether the connection the page describes held the bytes read ahead and nothing else when
     * the host polled it before this entry ({@link #showAfterReadAhead}); false when none is read.
     */
    private boolean holdsReadAhead;
    /** The objects behind {@link #shown}'s epoll and listener fds, for checking queued entries against them. */
    private EpollFile shownEpollCtl;
    private SharedListener shownListener;


    /** {@code enabled}: whether the VM's LSTAR is the entry that uses the pages. */
    public GuestCalls(GuestMemory memory, boolean enabled) {
        this.memory = memory;
        this.enabled = enabled;
        this.readAhead = new ReadAhead(memory, odd);
        this.signals = new SignalPage(memory);
    }

    public boolean enabled() {
        return enabled;
    }

    /**
     * The program accepted {@code connection} as guest fd {@code fd} for a request: the connection
     * whose calls the entry may answer; {@code name} is its local address as getsockname gives it
     * (null: the host answers).
     */
    void accepted(int fd, SocketFile connection, byte[] name) {
        this.connection = connection;
        this.connectionFd = fd;
        this.connectionName = name != null && name.length <= GuestCallPages.NAME_MAX ? name : NO_NAME;
        this.connectionTcp = connection.route() != null || isTcp(connection);
        // A route's connection shows the program an address of its own: the host answers for it.
        this.connectionPeer = connection.route() == null && isTcp(connection) ? peerOf(connection.hostFd()) : NO_NAME;
        this.writesCheckedAt = -1;
    }

    private static boolean isTcp(SocketFile s) {
        return s.type() == SocketFile.SOCK_STREAM
                && (s.domain() == NetSyscalls.AF_INET || s.domain() == NetSyscalls.AF_INET6);
    }

    /**
     * A new process (a fork or a reset): it holds no connection yet, and the answer page holds
     * whatever its template's last said, so the next {@link #publish} writes it whatever it holds.
     */
    public void reset() {
        usedEpollFd = -1;
        usedEpoll = null;
        shownEpollCtl = null;
        emptyEpollFd = -1;
        emptyEpoll = null;
        onlyListenerEpollFd = -1;
        onlyListenerEpoll = null;
        onlyListener = null;
        emptyBefore = -1;
        connection = null;
        connectionFd = -1;
        connectionName = NO_NAME;
        connectionPeer = NO_NAME;
        connectionTcp = false;
        writesCheckedAt = -1;
        java.util.Arrays.fill(listeners, null);
        listenerCount = -1;
        describedPeer = null;
        waitingName = NO_NAME;
        readAhead.forget();
        signals.forget();
        releaseConsole();
        published = false;
        mapsOf = null;
        unmapsDueCount = 0;
    }

    /**
     * Writes the answer page for the state the program will find when it next runs: called before
     * every entry into the guest, except one that resumes the syscall entry halfway (the page stays
     * as it found it). Costs a peek at the connection while the bytes read ahead are used up or
     * none were there, two host calls when the connection transferred data since its send queue was
     * last asked about (or the answer was no), none otherwise.
     */
    public void publish(LinuxProcess process, HostWaiter waiter) {
        if (!enabled) {
            return;
        }
        FdTable files = process.files();
        AddressSpace maps = process.memory();
        signals.show(process, process.scheduler().current());
        if (listenerCount < 0) {
            findListeners(files);
        }
        AnswerPage page = next;
        page.clear();
        holdsReadAhead = false;
        SharedListener listener = showListener(page, files, waiter);
        int about = page.acceptFd >= 0 ? showWaiting(page, listener, waiter) : showConnection(page, files, waiter);
        showEpoll(page, files, about, listener, waiter);
        showMappings(page, maps);
        showConsole(page, files);
        if (addedAlone(page)) {
            page.connectionEvents = probe.readyWhenAdded(page.acceptFd >= 0 ? listener.pendingHostFd() : connection.hostFd());
        }
        if (memory.getInt(GuestCallPages.QUEUED_CONNECTION_FD) != page.connectionFd) {
            memory.putInt(GuestCallPages.QUEUED_CONNECTION_FD, page.connectionFd);
        }
        shownEpollCtl = page.epollCtlFd >= 0 ? usedEpoll : null;
        shownListener = listener;
        if (!published || !page.sameAs(shown)) {
            write(page);
        }
    }

    /**
     * A listener that keeps a connection for the program (its fd, and the fd the connection gets),
     * or, when none does, one whose accept fails with {@code EAGAIN}: returned, or null. Linux looks
     * for a free fd ({@code EMFILE}) before it looks for a connection.
     */
    private SharedListener showListener(AnswerPage page, FdTable files, HostWaiter waiter) {
        SharedListener shownOne = null;
        for (int i = 0; i < listenerCount; i++) {
            SharedListener l = listeners[i];
            if (!holds(files, listenerFds[i], l)) {
                continue;
            }
            // Only a non-blocking accept fails: a blocking one, when the request is over, ends the run.
            boolean refusing = (l.statusFlags() & OpenFlags.O_NONBLOCK) != 0 && l.refusesOnceTaken(waiter);
            if (l.pendingHostFd() >= 0) {
                int free = files.lowestFree();
                if (answersAccept(l) && free >= 0) {
                    page.listenerFd = listenerFds[i];
                    page.acceptFd = free;
                    page.refuses = refusing && files.openCount() + 1 < FdTable.LIMIT ? 1 : 0;
                    return l;
                }
            } else if (shownOne == null && refusing && files.openCount() < FdTable.LIMIT) {
                page.listenerFd = listenerFds[i];
                page.refuses = 1;
                shownOne = l;
            }
        }
        return shownOne;
    }

    /**
     * The connection {@code listener} keeps, as the connection fields (the served connection is
     * then -1 until the program accepts this one); returns the fd it gets.
     */
    private int showWaiting(AnswerPage page, SharedListener listener, HostWaiter waiter) {
        int hostFd = listener.pendingHostFd();
        boolean firstLook = listener.pendingPeer() != describedPeer;
        if (firstLook) {
            describeWaiting(listener, hostFd);
        }
        page.name = waitingName;
        page.peer = describedPeer;
        page.flags = GuestCallPages.FIONBIO_QUEUED | GuestCallPages.OPTIONS_QUEUED | GuestCallPages.SHUTDOWN_QUEUED;
        page.status = OpenFlags.O_RDWR;
        if (peerNamed(hostFd, describedPeer)) {
            page.flags |= GuestCallPages.PEER_NAMED;
        }
        if (waitingTakesWrites) {
            page.flags |= GuestCallPages.WRITES_QUEUED;
            page.budget = GuestCallPages.DATA_SIZE;
        }
        page.readLength = listener.readsWhatItHolds() ? readAhead.ofWaiting(hostFd, firstLook) : 0;
        if (listener.readsWhatItHolds()) {
            showAfterReadAhead(page, hostFd, waiter);
        }
        return page.acceptFd;
    }

    /**
     * What the connection holds after the bytes read ahead, one poll of it: nothing else
     * ({@link #holdsReadAhead}: once the program has read them it is not readable, which lets
     * polls after them be answered in the guest, see {@link #showEpoll}) or the peer's end of
     * stream ({@link GuestCallPages#ENDS_AFTER_READ_AHEAD}: a read past them returns 0, in the
     * guest too; redis reads the end of stream before it closes).
     */
    private void showAfterReadAhead(AnswerPage page, int hostFd, HostWaiter waiter) {
        int found = probe.afterReadAhead(hostFd, page.readLength, waiter);
        holdsReadAhead = found == GuestCallPages.HOLDS_READ_AHEAD;
        page.flags |= found & GuestCallPages.ENDS_AFTER_READ_AHEAD;
    }

    /** The served connection, if the program still holds it, as the connection fields; returns its fd or -1. */
    private int showConnection(AnswerPage page, FdTable files, HostWaiter waiter) {
        if (!holds(files, connectionFd, connection)) {
            connection = null;
            connectionFd = -1;
            return -1;
        }
        page.connectionFd = connectionFd;
        page.name = connectionName;
        page.flags = GuestCallPages.FIONBIO_QUEUED | (connectionTcp ? GuestCallPages.OPTIONS_QUEUED : 0);
        page.status = connection.statusFlags();
        if (peerNamed(connection.hostFd(), connectionPeer)) {
            page.peer = connectionPeer;
            page.flags |= GuestCallPages.PEER_NAMED;
        }
        if (connection.type() == SocketFile.SOCK_STREAM && !connection.writeShut()) {
            page.flags |= GuestCallPages.SHUTDOWN_QUEUED;
        }
        if (writesNow()) {
            page.flags |= GuestCallPages.WRITES_QUEUED;
            page.budget = GuestCallPages.DATA_SIZE;
        }
        if (connection.readsWhatItHolds()) {
            page.readLength = readAhead.of(connection);
            showAfterReadAhead(page, connection.hostFd(), waiter);
        }
        return connectionFd;
    }

    /**
     * The connection at fd {@code about}'s registration in the epoll instance the program last
     * used, and an instance whose zero-timeout wait the entry may answer with nothing (now, or
     * once the program took the connection {@code listener} keeps).
     */
    private void showEpoll(AnswerPage page, FdTable files, int about, SharedListener listener, HostWaiter waiter) {
        if (about >= 0 && holds(files, usedEpollFd, usedEpoll)) {
            page.epollCtlFd = usedEpollFd;
            page.flags |= usedEpoll.interests().containsKey(about) ? GuestCallPages.REGISTERED
                    : GuestCallPages.UNREGISTERED;
        }
        // Bytes that arrived after the host's wait found nothing, on a connection that wait
        // watches: its answer is not Linux's now.
        if (holds(files, emptyEpollFd, emptyEpoll) && !probe.watchesTime(files, emptyEpoll)
                && (page.readLength == 0 || !emptyEpoll.interests().containsKey(about))) {
            page.epollFd = emptyEpollFd;
        } else if (pollsWithoutTimeout() && (page.flags & GuestCallPages.REGISTERED) != 0
                && probe.quietNow(files, usedEpoll, waiter)) {
            // Serving the connection, the instance it is in has nothing ready now: what a
            // zero-timeout wait made now would find (python3 asyncio polls after its response).
            page.epollFd = usedEpollFd;
        } else if (pollsWithoutTimeout() && (page.flags & GuestCallPages.REGISTERED) != 0 && page.readLength > 0
                && page.acceptFd < 0 && connection != null
                && probe.quietOnceRead(files, usedEpoll, about, holdsReadAhead, waiter)) {
            // Nothing but the request's bytes, read ahead: once the program has read them all
            // in the guest (the entry checks), the same.
            page.epollFd = usedEpollFd;
            page.flags |= GuestCallPages.QUIET_ONCE_READ;
        }
        // The wait that found only the listener ready: once its connection is taken (and it
        // refuses more), nothing in the instance is, the new connection not being in it.
        if (page.acceptFd >= 0 && page.refuses != 0 && listener == onlyListener
                && holds(files, onlyListenerEpollFd, onlyListenerEpoll) && !probe.watchesTime(files, onlyListenerEpoll)
                && !onlyListenerEpoll.interests().containsKey(page.acceptFd)) {
            page.epollAcceptFd = onlyListenerEpollFd;
        }
        if (page.epollAcceptFd >= 0 && holdsReadAhead) {
            // Once the program has read what was read ahead, the connection it added is not
            // readable (python3 asyncio polls after it read its request).
            page.flags |= GuestCallPages.HOLDS_READ_AHEAD;
        }
        if ((page.epollFd >= 0 || page.epollAcceptFd >= 0) && memory.getInt(GuestCallPages.EPOLL_ANSWERED) != 0) {
            memory.putInt(GuestCallPages.EPOLL_ANSWERED, 0);
        }
        if ((page.epollFd >= 0 || page.epollAcceptFd >= 0) && memory.getInt(GuestCallPages.EMPTY_WAITS) != 0) {
            memory.putInt(GuestCallPages.EMPTY_WAITS, 0); // four answers per entry
        }
    }

    /**
     * Whether the wait after the program adds the connection to the epoll instance it last used
     * would find the connection ready and nothing else: it is not in the instance, bytes were read
     * ahead, and the instance had nothing ready at the host's last wait (or only the listener,
     * whose connection this is).
     */
    private static boolean addedAlone(AnswerPage page) {
        return (page.flags & GuestCallPages.UNREGISTERED) != 0 && page.readLength > 0
                && (page.epollFd == page.epollCtlFd || page.epollAcceptFd == page.epollCtlFd);
    }

    /** Writes {@code page} into the answer page (all of it the first time) and keeps it as {@link #shown}. */
    private void write(AnswerPage page) {
        page.writeInto(memory, published ? shown : null);
        shown.copyFrom(page);
        published = true;
    }

    /** Looks for the shared listeners of a new process (a request VM's): at most {@link #MAX_LISTENERS}. */
    private void findListeners(FdTable files) {
        listenerCount = 0;
        for (int fd = 0; fd < files.end() && listenerCount < MAX_LISTENERS; fd++) {
            if (files.isOpen(fd) && files.get(fd) instanceof SharedListener l) {
                listeners[listenerCount] = l;
                listenerFds[listenerCount++] = fd;
            }
        }
    }

    /**
     * Whether the entry may hand out the connection {@code l} keeps: a TCP one that is not routed
     * (whose addresses the host shows as they are), with a peer address the page holds.
     */
    private static boolean answersAccept(SharedListener l) {
        byte[] peer = l.pendingPeer();
        return l.route() == null && isTcp(l) && peer != null && peer.length <= GuestCallPages.NAME_MAX;
    }

    /** Finds the local address, and the send queue's state, of the connection {@code l} keeps (host fd {@code hostFd}). */
    private void describeWaiting(SharedListener l, int hostFd) {
        describedPeer = l.pendingPeer();
        int length = addressOf(SyscallNumbers.GETSOCKNAME, hostFd);
        waitingName = length < 0 ? NO_NAME : sockaddr.getByteArray(0, length);
        waitingTakesWrites = takesWritesNow(hostFd);
    }

    /**
     * Asks the host for the local ({@code getsockname}) or peer ({@code getpeername}) address of
     * the socket at {@code hostFd} into {@link #sockaddr}: its length (at most
     * {@link GuestCallPages#NAME_MAX}), or -1 when the call fails.
     */
    private int addressOf(int nr, int hostFd) {
        scratch.setInt(0, GuestCallPages.NAME_MAX);
        try {
            LibC.syscall(nr, hostFd, Pointer.nativeValue(sockaddr), Pointer.nativeValue(scratch), 0, 0, 0);
        } catch (LastErrorException e) {
            return -1;
        }
        return Math.min(scratch.getInt(0), GuestCallPages.NAME_MAX);
    }

    /** The peer's address of the socket at {@code hostFd} as getpeername gives it now, or {@link #NO_NAME}. */
    private byte[] peerOf(int hostFd) {
        int length = addressOf(SyscallNumbers.GETPEERNAME, hostFd);
        return length < 0 ? NO_NAME : sockaddr.getByteArray(0, length);
    }

    /**
     * Whether getpeername of the socket at {@code hostFd} gives {@code peer} now: asked before
     * every entry that may answer it, since a peer that reset the connection makes Linux answer
     * {@code ENOTCONN} from then on. Allocates nothing.
     */
    private boolean peerNamed(int hostFd, byte[] peer) {
        if (peer == null || peer.length == 0 || addressOf(SyscallNumbers.GETPEERNAME, hostFd) != peer.length) {
            return false;
        }
        for (int i = 0; i < peer.length; i++) {
            if (sockaddr.getByte(i) != peer[i]) {
                return false;
            }
        }
        return true;
    }

    /**
     * {@link #takesWritesNow} for the connection, asked again only after it transferred data (or
     * tried to) or when its last answer was no: the answer holds until then, as nothing else
     * fills its send queue.
     */
    private boolean writesNow() {
        if (connection.type() != SocketFile.SOCK_STREAM || connection.writeShut()) {
            return false;
        }
        long epoch = connection.ioEpoch();
        if (epoch != writesCheckedAt || !writesAnswer) {
            writesAnswer = takesWritesNow(connection.hostFd());
            writesCheckedAt = epoch;
        }
        return writesAnswer;
    }

    /**
     * Whether a send of up to {@link GuestCallPages#DATA_SIZE} bytes on the stream socket at
     * {@code hostFd}, not shut down for writing, now takes every byte without blocking: nothing in
     * its send queue (sent or not, unacknowledged bytes count), and a send buffer of at least
     * {@link #MIN_SEND_BUFFER}.
     */
    private boolean takesWritesNow(int hostFd) {
        try {
            LibC.syscall(SyscallNumbers.IOCTL, hostFd, SIOCOUTQ, Pointer.nativeValue(scratch), 0, 0, 0);
            if (scratch.getInt(0) != 0) {
                return false;
            }
            scratch.setInt(4, 4);
            LibC.syscall(SyscallNumbers.GETSOCKOPT, hostFd, SocketFile.SOL_SOCKET, SO_SNDBUF, Pointer.nativeValue(scratch),
                    Pointer.nativeValue(scratch) + 4, 0);
            return scratch.getInt(0) >= MIN_SEND_BUFFER;
        } catch (LastErrorException e) {
            return false;
        }
    }

    /**
     * The host is about to make a call for the program: from now on a zero-timeout epoll wait may
     * find something (the call may make a file ready), unless the call itself says otherwise.
     */
    public void beforeHostCall() {
        // The call may wait, for as long as the program likes (the frozen wait for a connection,
        // published for before it is made): console space set aside meanwhile would be taken
        // from every other VM's writes. Every exit gave it back already; the next entry sets
        // some aside again.
        releaseConsole();
        emptyBefore = emptyEpollFd;
        emptyEpollFd = -1;
        onlyListenerEpollFd = -1;
    }

    /** The program waited on, or changed, the epoll instance {@code ep} at fd {@code fd}. */
    void epollUsed(int fd, EpollFile ep) {
        usedEpollFd = fd;
        usedEpoll = ep;
    }

    /**
     * A wait on {@code ep} (fd {@code fd}) found {@code listener} ready and nothing else: once the
     * program takes the connection it keeps, a zero-timeout wait on {@code ep} finds nothing.
     */
    void epollFoundOnly(int fd, EpollFile ep, SharedListener listener) {
        onlyListenerEpollFd = fd;
        onlyListenerEpoll = ep;
        onlyListener = listener;
    }

    /** The program wrote to its console through the host. */
    void wroteConsole() {
        writesConsole = true;
    }

    /** The program waited on an epoll instance with a zero timeout, through the host. */
    void waitedWithoutTimeout() {
        pollsWithoutTimeout = true;
    }

    /** Whether the program has waited with a zero timeout, through the host or answered in the guest. */
    private boolean pollsWithoutTimeout() {
        if (!pollsWithoutTimeout && memory.getInt(GuestCallPages.EMPTY_WAITS) != 0) {
            pollsWithoutTimeout = true;
        }
        return pollsWithoutTimeout;
    }

    /** A wait on {@code ep} (fd {@code fd}) with a zero timeout found nothing ready. */
    void epollFoundNothing(int fd, EpollFile ep) {
        emptyEpollFd = fd;
        emptyEpoll = ep;
    }

    /** A registration was removed from epoll fd {@code fd}: that makes nothing ready. */
    void epollInterestRemoved(int fd) {
        if (fd == emptyBefore) {
            emptyEpollFd = fd;
        }
    }

    /** Whether {@code fd} still holds {@code file}: what was published about it still applies. */
    private static boolean holds(FdTable files, int fd, FileDescription file) {
        return file != null && fd >= 0 && files.isOpen(fd) && files.get(fd) == file;
    }

    /** Whether the program queued calls since the host last looked (a read of one guest int). */
    /**
     * The program's newest mapping, and whether the entry may queue munmap and a shrinking mremap
     * at all: the mapping count must leave room for a split per queue entry. Looked up again only
     * when the mapping list changed (a host call), so an entry costs no lookup and no allocation.
     * And the reservation anonymous mmaps are answered from, while a mapping made there goes where
     * the host would put it (the list keeps what that takes).
     */
    private void showMappings(AnswerPage page, AddressSpace maps) {
        if (maps != mapsOf || maps.changes() != mapsChanges) {
            mapsOf = maps;
            mapsChanges = maps.changes();
            AddressSpace.Mapping newest = maps.find(maps.lastMapped());
            mapsUnmap = maps.mappingCount() + GuestCallPages.MAX_ENTRIES <= AddressSpace.MAX_MAP_COUNT;
            mapsStart = newest != null && mapsUnmap ? newest.start() : 0;
            mapsEnd = newest != null && mapsUnmap ? newest.end() : 0;
        }
        page.unmaps = mapsUnmap;
        page.mapStart = mapsStart;
        page.mapEnd = mapsEnd;
        if (maps.reservationAtTopOfItsGap(GuestCallPages.MAX_ENTRIES)) { // kept by the list: no lookup
            page.reservedStart = maps.reservedStart();
            page.reservedEnd = maps.reservedEnd();
            page.roomAbove = maps.roomAboveReservation();
            page.reservedExtentEnd = maps.reservedMappingExtentEnd();
        }
    }

    /**
     * The fds below 32 that are the program's console, and bytes of the console's buffer set aside
     * for the entry's writes to them: up to {@link GuestCallPages#DATA_SIZE}, as much as is free
     * now (a full console takes none: its writes go to the host, which waits for room).
     */
    private void showConsole(AnswerPage page, FdTable files) {
        if (!writesConsole) {
            return; // the page's fields stay 0: its writes go to the host, which sees the first
        }
        BufferedConsole console = null;
        int fds = 0;
        for (int fd = 0; fd < CONSOLE_FDS_MAX; fd++) {
            if (files.isOpen(fd) && files.get(fd) instanceof ConsoleFile f && (console == null || f.console() == console)) {
                console = f.console();
                fds |= 1 << fd;
            }
        }
        if (console != creditConsole) {
            releaseConsole();
            creditConsole = console;
        }
        if (console != null && consoleCredit < GuestCallPages.DATA_SIZE) {
            consoleCredit += console.reserve(GuestCallPages.DATA_SIZE - consoleCredit);
        }
        page.consoleFds = consoleCredit > 0 ? fds : 0;
        page.consoleBudget = page.consoleFds != 0 ? consoleCredit : 0;
    }

    /** Whether console space is set aside for the entry (see {@link #releaseConsole}). */
    public boolean holdsConsole() {
        return consoleCredit != 0;
    }

    /**
     * Gives back the console bytes set aside for the entry and not written: at every exit outside
     * the entry, once the queue is performed (the next entry sets some aside again), and at a reset.
     */
    public void releaseConsole() {
        if (consoleCredit != 0) {
            creditConsole.release(consoleCredit);
            consoleCredit = 0;
        }
    }

    /** Whether the program queued calls or the entry answered some without a queue entry: a flush is due. */
    public boolean pending() {
        return enabled && (memory.getInt(GuestCallPages.COUNT) != 0 || talliesAny()
                || memory.getInt(GuestCallPages.MASK_SET) != 0);
    }

    /** Whether the entry answered a call without a queue entry since the last exit. */
    private boolean talliesAny() {
        for (int slot = 0; slot < GuestCallPages.tallySlots(); slot++) {
            if (memory.getInt(GuestCallPages.TALLY + 4L * slot) != 0) {
                return true;
            }
        }
        return false;
    }

    /**
     * Performs the queued calls in order and empties the queue: called at an exit, before the
     * host does anything else for the VM. Returns how many were performed, with the calls the
     * entry answered without a queue entry (for the call counts); an entry that is not a call the
     * entry queues is dropped, as a forged one.
     */
    public long flush(Syscall c, long[] callCounts) {
        int count = memory.getInt(GuestCallPages.COUNT);
        long done = 0;
        // What the page allowed when the program last entered the guest bounds what is performed.
        flushBudget = published && (shown.flags & GuestCallPages.WRITES_QUEUED) != 0 ? shown.budget : 0;
        flushUnread = published ? shown.readLength : 0;
        flushAcceptable = published && shown.acceptFd >= 0;
        flushAdded = false;
        flushRegistered = false;
        flushConsole = published ? Math.min(shown.consoleBudget, consoleCredit) : 0;
        if (count > 0 && count <= GuestCallPages.MAX_ENTRIES) {
            for (int i = 0; i < count; i++) {
                long entry = GuestCallPages.ENTRIES + (long) i * GuestCallPages.ENTRY_SIZE;
                int nr = memory.getInt(entry);
                int fd = memory.getInt(entry + 4);
                if (performed(c, entry, nr, fd, memory.getInt(entry + 8), memory.getInt(entry + 12))) {
                    callCounts[nr]++;
                    done++;
                } else {
                    warnDropped(nr, fd);
                }
            }
        }
        done += tallied(callCounts);
        memory.putInt(GuestCallPages.COUNT, 0);
        memory.putInt(GuestCallPages.BYTES, 0);
        memory.putInt(GuestCallPages.EPOLL_CTL_QUEUED, 0);
        memory.putInt(GuestCallPages.READ_TAKEN, 0);
        memory.putInt(GuestCallPages.WRITE_SHUT, 0);
        memory.putInt(GuestCallPages.STATUS_STALE, 0);
        memory.putLong(GuestCallPages.UNMAP_LOW, 0);
        memory.putLong(GuestCallPages.UNMAP_HIGH, 0);
        memory.putLong(GuestCallPages.RESERVED_TAKEN, 0);
        memory.putLong(GuestCallPages.SIGACTIONS_QUEUED, 0);
        if (memory.getInt(GuestCallPages.MASK_SET) != 0) {
            // The mask the entry's rt_sigprocmasks left, for the thread that ran (no switch since).
            memory.putInt(GuestCallPages.MASK_SET, 0);
            c.thread().setBlocked(memory.getLong(GuestCallPages.MASK));
        }
        return done;
    }

    /**
     * A queue entry dropped: the entry queues only what the host performs, so this is a program
     * that wrote the queue page itself, or a fault of the engine's, whose trace would otherwise be
     * a call the program saw succeed and that never happened.
     */
    private void warnDropped(int nr, int fd) {
        odd.warn("a call queued by the syscall entry was dropped: {} on fd {}", SyscallNumbers.name(nr), fd);
    }

    /**
     * Performs one queue entry {nr, fd, a, b} at {@code entry} if it is a call the entry queues as
     * the host published it; false for anything else (the program wrote it), which is dropped.
     */
    private boolean performed(Syscall c, long entry, int nr, int fd, int a, int b) {
        FdTable files = c.files();
        if (nr == ACCEPT4) {
            if (!flushAcceptable || !acceptsAsPublished(files, fd, a, b)) {
                return false;
            }
            flushAcceptable = false;
            accept(c, fd, a, b);
            return true;
        }
        if (nr == MUNMAP || nr == MREMAP) {
            // {nr, pages, address}: an unmap, of the range or of the tail the mremap cut off
            return published && shown.unmaps && unmapLater(memory.getLong(entry + 8), fd & 0xffffffffL);
        }
        if (nr == MMAP) {
            // {mmap, pages, address}: the top of the reservation as the page published it
            performUnmaps(c); // in queue order (a forged entry may map what an unmap before it frees)
            long length = (fd & 0xffffffffL) << 12;
            return published && shown.reservedEnd != 0 && length > shown.roomAbove
                    && c.memory().mapReserved(memory.getLong(entry + 8), length);
        }
        if (nr == RT_SIGACTION) {
            return installed(c, fd, a & 0xffffffffL);
        }
        if (nr == WRITE && fd >= 0 && fd < CONSOLE_FDS_MAX && (shown.consoleFds & (1 << fd)) != 0) {
            return writtenToConsole(files, fd, a & 0xffffffffL, b & 0xffffffffL);
        }
        if (fd != connectionFd || !holds(files, fd, connection)) {
            return false; // not the connection the host published: the program wrote this entry
        }
        return performedOnConnection(c, files, nr, fd, a, b);
    }

    /** Performs a queued call of the served connection; false if the page did not allow it. */
    private boolean performedOnConnection(Syscall c, FdTable files, int nr, int fd, int a, int b) {
        if (nr == READ || nr == RECVFROM) {
            long length = a & 0xffffffffL;
            if (length == 0) {
                // A read at the end of the stream, after every byte read ahead: nothing to take.
                return (shown.flags & GuestCallPages.ENDS_AFTER_READ_AHEAD) != 0 && flushUnread == 0;
            }
            if (length > flushUnread) {
                return false;
            }
            flushUnread -= length;
            readAhead.take(connection, length);
        } else if (nr == WRITE) {
            long offset = a & 0xffffffffL;
            long length = b & 0xffffffffL;
            if (length == 0 || length > flushBudget || offset + length > GuestCallPages.DATA_SIZE
                    || connection.writeShut()) {
                return false;
            }
            flushBudget -= length;
            send(connection, memory.host(GuestCallPages.DATA + offset, length), length);
        } else if (nr == SETSOCKOPT && (shown.flags & GuestCallPages.OPTIONS_QUEUED) != 0
                && queuesOption(b >>> 8, b & 0xff, a)) {
            NetSyscalls.setOption(connection, b >>> 8, b & 0xff, LittleEndian.intBytes(a));
        } else if (nr == SHUTDOWN && (shown.flags & GuestCallPages.SHUTDOWN_QUEUED) != 0
                && (a == SHUT_WR || a == SHUT_RDWR) && !connection.writeShut()) {
            connection.shutdown(a);
        } else if (nr == IOCTL && (shown.flags & GuestCallPages.FIONBIO_QUEUED) != 0) {
            FileSyscalls.setNonBlocking(connection, a != 0);
        } else if (nr == FCNTL && (shown.flags & GuestCallPages.FIONBIO_QUEUED) != 0
                && (b == F_GETFL && a == 0 || b == F_SETFL && (a & ~(OpenFlags.O_ACCMODE | OpenFlags.O_NONBLOCK)) == 0)) {
            // F_GETFL was answered from the page: counted here, nothing to do.
            if (b == F_SETFL) {
                FileSyscalls.setStatusFlags(connection, a);
            }
        } else if (nr == EPOLL_CTL && holds(files, shown.epollCtlFd, shownEpollCtl)
                && ((b == EPOLL_CTL_ADD && (shown.flags & GuestCallPages.UNREGISTERED) != 0 && !flushRegistered)
                    || (b == EPOLL_CTL_DEL && ((shown.flags & GuestCallPages.REGISTERED) != 0 || flushRegistered)))) {
            // One per entry, checked by the entry as the host published the registration; or a
            // DEL after the ADD this queue performed.
            long data = memory.getLong(GuestCallPages.EPOLL_DATA);
            EpollSyscalls.control(c.process(), shownEpollCtl, b, fd, b == EPOLL_CTL_ADD ? a : 0,
                    b == EPOLL_CTL_ADD ? data : 0);
            epollUsed(shown.epollCtlFd, shownEpollCtl);
            flushAdded = b == EPOLL_CTL_ADD;
            flushRegistered = b == EPOLL_CTL_ADD;
        } else if (nr == EPOLL_WAIT && flushAdded && b == shown.epollCtlFd && holds(files, b, shownEpollCtl)
                && EpollFile.reportedInGuest(shownEpollCtl.interests().get(fd), connection, a,
                        shown.connectionEvents)) {
            flushAdded = false; // one wait after the ADD, as the entry answers
        } else {
            return false;
        }
        return true;
    }

    /**
     * A queued write to the console at {@code fd}: its bytes go into the space set aside for the
     * entry (so the count it returned is the one the host's write would have); false when it is
     * more than that, outside the data, or the fd is no longer that console's.
     */
    private boolean writtenToConsole(FdTable files, int fd, long offset, long length) {
        if (length == 0 || length > flushConsole || offset + length > GuestCallPages.DATA_SIZE
                || !files.isOpen(fd) || !(files.get(fd) instanceof ConsoleFile f) || f.console() != creditConsole) {
            return false;
        }
        flushConsole -= length;
        consoleCredit -= (int) length;
        creditConsole.writeReserved(f.stream(), memory.host(GuestCallPages.DATA + offset, length), (int) length);
        return true;
    }

    /**
     * A queued {@code rt_sigaction(sig, act, ...)}: {rt_sigaction, sig, the offset of act's 32 bytes
     * in the data, 0}. Installed as the call installs an action (any handler, flags and mask are
     * the program's to choose; SIGKILL and SIGSTOP keep theirs); false for a signal that takes
     * none or bytes outside the data, which the entry never queues.
     */
    private boolean installed(Syscall c, int sig, long offset) {
        if (!SignalState.valid(sig) || !SignalSyscalls.settable(sig)
                || offset > GuestCallPages.DATA_SIZE - GuestCallPages.ACTION_SIZE) {
            return false;
        }
        long at = GuestCallPages.DATA + offset;
        SignalSyscalls.install(c.process(), sig, memory.getLong(at), memory.getLong(at + 8), memory.getLong(at + 16),
                memory.getLong(at + 24));
        return true;
    }

    /**
     * The calls the entry answered without a queue entry, added to {@code callCounts} by name and
     * cleared. Their number, for the VM's call total: a program that wrote the slots itself can
     * inflate only its own counts, at most 2^32 - 1 per slot and exit.
     */
    private long tallied(long[] callCounts) {
        long calls = 0;
        for (int slot = 0; slot < GuestCallPages.tallySlots(); slot++) {
            long at = GuestCallPages.TALLY + 4L * slot;
            int n = memory.getInt(at);
            if (n != 0) {
                memory.putInt(at, 0);
                callCounts[GuestCallPages.talliedCall(slot)] += Integer.toUnsignedLong(n);
                calls += Integer.toUnsignedLong(n);
            }
        }
        return calls;
    }

    /**
     * Records a queued unmap, to be performed when the program or the host next needs it
     * ({@link #performUnmaps}); false when munmap would refuse its arguments (the program wrote
     * the entry: then it is a munmap it could have made itself, and it is dropped).
     */
    private boolean unmapLater(long address, long pages) {
        if (!MemorySyscalls.unmappable(address, pages << 12)) {
            return false;
        }
        if (unmapsDueCount == GuestCallPages.MAX_ENTRIES) {
            return false; // cannot happen: at most one per queue entry, and the queue was performed before it
        }
        unmapsDue[2 * unmapsDueCount] = address;
        unmapsDue[2 * unmapsDueCount + 1] = pages;
        unmapsDueCount++;
        return true;
    }

    /**
     * Performs the unmaps the last flush queued. The host calls this before the program runs
     * again (so a touch of what it unmapped faults, as on Linux), before a call of the host's
     * other than {@code close} (which could map, read or describe that memory), and before the
     * page tells the entry what it may answer next. Not when the request ends at this exit
     * ({@link #dropUnmaps}).
     *
     * <p>Why they wait: python3 unmaps its receive buffer right before it closes its connection,
     * and unmapping gives the pages back to the host, which makes KVM drop its translations for
     * them, so that every next request rebuilt them with a fault per page (two per request, an
     * in-kernel exit each). When the close ends the request the reset restores those pages
     * anyway, and the page tables still map them as the template does, so KVM keeps its
     * translations; where the template maps them otherwise the reset drops them, as for any
     * mapping the request changed.
     */
    public void performUnmaps(Syscall c) {
        // Cleared after the loop: one that ends in an exception (a memory limit) leaves them all
        // to the next call, where those already done unmap nothing.
        for (int i = 0; i < unmapsDueCount; i++) {
            long address = unmapsDue[2 * i];
            long pages = unmapsDue[2 * i + 1];
            try {
                MemorySyscalls.unmap(c.memory(), address, pages << 12);
            } catch (SyscallError e) {
                // ENOMEM: more splits than the page allowed for, so not the entry's but the
                // program's own entry, whose munmap would have failed: its pages stay mapped.
                warnDropped(MUNMAP, -1);
            }
        }
        unmapsDueCount = 0;
    }

    /** Whether the last flush left unmaps to perform ({@link #performUnmaps}). */
    public boolean unmapsDue() {
        return unmapsDueCount != 0;
    }

    /**
     * Forgets the queued unmaps not performed: the request ended at this exit, and the reset
     * that follows restores the address space, memory and page tables of the template.
     */
    public void dropUnmaps() {
        unmapsDueCount = 0;
    }

    /**
     * Whether the entry queues setsockopt of {@code name} at {@code level} with {@code value}: the
     * options a server sets on every connection, where Linux takes the value (its ranges checked
     * here as by {@code do_tcp_setsockopt}; outside them the host answers {@code EINVAL}).
     */
    static boolean queuesOption(int level, int name, int value) {
        if (level == SocketFile.SOL_SOCKET) {
            return name == SO_KEEPALIVE;
        }
        if (level != IPPROTO_TCP) {
            return false;
        }
        return switch (name) {
            case TCP_NODELAY -> true;
            case TCP_KEEPIDLE, TCP_KEEPINTVL -> value >= 1 && value <= 32767;
            case TCP_KEEPCNT -> value >= 1 && value <= 127;
            default -> false;
        };
    }

    /**
     * Whether a queued accept is the one the page allowed: on the listener published, of the
     * connection it still keeps, at the fd published, with flags accept4 takes.
     */
    private boolean acceptsAsPublished(FdTable files, int fd, int flags, int givenFd) {
        return fd == shown.listenerFd && holds(files, fd, shownListener) && givenFd == shown.acceptFd
                && (flags & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)) == 0 && shownListener.pendingHostFd() >= 0;
    }

    /** The queued accept: the host's own, which installs the connection at the fd the program was given. */
    private void accept(Syscall c, int listenerFd, int flags, int givenFd) {
        long installed;
        try {
            installed = NetSyscalls.accept(c, listenerFd, 0, 0, flags);
        } catch (SyscallError e) {
            installed = -e.errno();
        }
        if (installed != givenFd) {
            // Nothing but the host changes the table, and it did not since it published.
            odd.warn("an accept the program made in the guest gave fd {}, the host's {}", givenFd, installed);
        }
    }

    /**
     * One queued write: never blocks, never raises SIGPIPE (see the class comment). A socket with
     * an error pending (the client reset the connection after the host last looked) is not sent
     * to: a send would return the error and clear it, and the program, whose write succeeded
     * before the reset arrived, must find the reset at its next call, as on Linux.
     */
    private void send(SocketFile s, long hostBuffer, long length) {
        s.touched();
        s.connectionUsed();
        if (probe.errorPending(s.hostFd())) {
            log.debug("a queued write of {} bytes found the connection reset: the program's next call finds the error",
                    length);
            return;
        }
        long sent;
        try {
            sent = LibC.syscall(SyscallNumbers.SENDTO, s.hostFd(), hostBuffer, length, MSG_DONTWAIT | MSG_NOSIGNAL, 0, 0);
        } catch (LastErrorException e) {
            log.debug("a queued write of {} bytes found the connection closed ({})", length,
                    LibC.describe(e.getErrorCode()));
            return;
        }
        if (sent < length) {
            // Not within the budget the host published.
            odd.warn("a queued write of {} bytes to a request's connection sent {}: the rest is lost", length, sent);
        }
    }
}
