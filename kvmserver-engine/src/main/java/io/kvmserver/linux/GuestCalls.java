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
 * serves need nothing from the host at once: writing the response, setting {@code TCP_NODELAY} or
 * {@code FIONBIO}, adding it to or removing it from its epoll instance, asking for its local
 * address, an event loop's accept that finds nothing, and its zero-timeout poll that finds
 * nothing again (at most once before the host looks itself).
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
 * then (the client reset the connection) is the error of a write made just before it arrived:
 * the bytes are dropped, and there is no SIGPIPE.
 *
 * <p>The queue page is the program's to write: every entry is checked as the call would be, and
 * against what the answer page allowed (only on the connection the host published; writes from
 * within the data area and, together, within the budget; a setsockopt only of {@code TCP_NODELAY}
 * on a TCP connection; an epoll_ctl only as the registration was published), so a forged entry is at most a call the program could have made, the
 * host's sends always take every byte, and it does a bounded amount of non-blocking work per exit.
 */
public final class GuestCalls {

    private static final Logger log = LoggerFactory.getLogger(GuestCalls.class);
    /** The send buffer a connection needs for its writes to be queued (Linux's default is 16 KiB). */
    static final int MIN_SEND_BUFFER = 4 * GuestCallPages.DATA_SIZE;
    private static final int SIOCOUTQ = 0x5411;
    private static final int SO_SNDBUF = 7;
    private static final int MSG_DONTWAIT = 0x40;
    private static final int MSG_NOSIGNAL = 0x4000;
    private static final int WRITE = SyscallNumbers.WRITE;
    private static final int SETSOCKOPT = SyscallNumbers.SETSOCKOPT;
    private static final int IOCTL = SyscallNumbers.IOCTL;
    private static final int EPOLL_CTL = SyscallNumbers.EPOLL_CTL;
    private static final int EPOLL_CTL_ADD = 1;
    private static final int EPOLL_CTL_DEL = 2;
    private static final int IPPROTO_TCP = 6;
    private static final int TCP_NODELAY = 1;
    private static final byte[] NO_NAME = new byte[0];

    private final GuestMemory memory;
    private final boolean enabled;
    /** An int and its length, for the host calls that read the connection's state. */
    private final Memory scratch = new Memory(8);

    /** The connection this VM serves (accepted from a request's listener) and its guest fd. */
    private SocketFile connection;
    private int connectionFd = -1;
    /** The listener it came from, which may refuse further accepts (a request VM's). */
    private SharedListener listener;
    private int listenerFd = -1;

    /** Its local address as getsockname gives it ({@link #NO_NAME}: the host answers). */
    private byte[] connectionName = NO_NAME;
    /** Whether setsockopt(TCP_NODELAY) on it is 0 whatever the value (a TCP connection, or a route's). */
    private boolean connectionTcp;
    /** The connection's transfer count when {@link #takesWritesNow} was last asked (-1: not yet), and its answer. */
    private long writesCheckedAt = -1;
    private boolean writesAnswer;

    /**
     * An epoll instance whose last wait on the host had a zero timeout and found nothing, and its
     * fd; -1 once the host has made any other call for the program (see {@link #beforeHostCall}).
     */
    private int emptyEpollFd = -1;
    private EpollFile emptyEpoll;
    /** {@link #emptyEpollFd} before the call the host is making now. */
    private int emptyBefore = -1;
    /** The epoll instance the program last waited on or changed, and its fd. */
    private int usedEpollFd = -1;
    private EpollFile usedEpoll;

    /** What the answer page holds (valid when {@link #published}); written only when it changes. */
    private boolean published;
    private byte[] shownName = NO_NAME;
    private int shownConnectionFd;
    private int shownFlags;
    private int shownListenerFd;
    private int shownBudget;
    private int shownEpollFd;
    private int shownEpollCtlFd;
    private EpollFile shownEpollCtl;

    /** {@code enabled}: whether the VM's LSTAR is the entry that uses the pages. */
    public GuestCalls(GuestMemory memory, boolean enabled) {
        this.memory = memory;
        this.enabled = enabled;
    }

    public boolean enabled() {
        return enabled;
    }

    /**
     * The program accepted {@code connection} as guest fd {@code fd} from the listener at guest fd
     * {@code listenerFd}, for a request: the connection whose calls the entry may answer;
     * {@code name} is its local address as getsockname gives it (null: the host answers).
     */
    void accepted(int fd, SocketFile connection, byte[] name, int listenerFd, SocketFile listener) {
        this.connection = connection;
        this.connectionFd = fd;
        this.connectionName = name != null && name.length <= GuestCallPages.NAME_MAX ? name : NO_NAME;
        this.connectionTcp = connection.route() != null || (connection.type() == SocketFile.SOCK_STREAM
                && (connection.domain() == NetSyscalls.AF_INET || connection.domain() == NetSyscalls.AF_INET6));
        this.writesCheckedAt = -1;
        this.listener = listener instanceof SharedListener shared ? shared : null;
        this.listenerFd = this.listener != null ? listenerFd : -1;
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
        emptyBefore = -1;
        connection = null;
        connectionFd = -1;
        connectionName = NO_NAME;
        connectionTcp = false;
        writesCheckedAt = -1;
        listener = null;
        listenerFd = -1;
        published = false;
    }

    /**
     * Writes the answer page for the state the program will find when it next runs: called before
     * every entry into the guest. Costs two host calls when the connection transferred data since
     * its send queue was last asked about (or the answer was no), none otherwise.
     */
    public void publish(FdTable files, HostWaiter waiter) {
        if (!enabled) {
            return;
        }
        int fd = -1;
        int flags = 0;
        int budget = 0;
        byte[] name = NO_NAME;
        int epollCtl = -1;
        if (holds(files, connectionFd, connection)) {
            fd = connectionFd;
            name = connectionName;
            flags = GuestCallPages.FIONBIO_QUEUED | (connectionTcp ? GuestCallPages.NODELAY_QUEUED : 0);
            if (holds(files, usedEpollFd, usedEpoll)) {
                epollCtl = usedEpollFd;
                flags |= usedEpoll.interests().containsKey(connectionFd) ? GuestCallPages.REGISTERED
                        : GuestCallPages.UNREGISTERED;
            }
            if (writesNow()) {
                flags |= GuestCallPages.WRITES_QUEUED;
                budget = GuestCallPages.DATA_SIZE;
            }
        } else {
            connection = null;
            connectionFd = -1;
        }
        int refusing = -1;
        // Only a non-blocking accept fails: a blocking one, when the request is over, ends the run.
        // Linux looks for a free fd (EMFILE) before it finds nothing to accept.
        if (holds(files, listenerFd, listener)
                && (listener.statusFlags() & OpenFlags.O_NONBLOCK) != 0 && listener.refusesAccept(waiter)
                && files.openCount() < FdTable.LIMIT) {
            refusing = listenerFd;
        }
        int epoll = holds(files, emptyEpollFd, emptyEpoll) ? emptyEpollFd : -1;
        if (epoll >= 0 && memory.getInt(GuestCallPages.EPOLL_ANSWERED) != 0) {
            memory.putInt(GuestCallPages.EPOLL_ANSWERED, 0); // one answer per entry
        }
        shownEpollCtl = epollCtl >= 0 ? usedEpoll : null;
        if (published && fd == shownConnectionFd && flags == shownFlags && refusing == shownListenerFd
                && budget == shownBudget && name == shownName && epoll == shownEpollFd
                && epollCtl == shownEpollCtlFd) {
            return;
        }
        memory.putInt(GuestCallPages.EPOLL_FD, epoll);
        shownEpollFd = epoll;
        memory.putInt(GuestCallPages.EPOLL_CTL_FD, epollCtl);
        shownEpollCtlFd = epollCtl;
        if (!published || name != shownName) {
            memory.write(GuestCallPages.NAME, name, 0, name.length);
            memory.putInt(GuestCallPages.NAME_LENGTH, name.length);
            shownName = name;
        }
        memory.putInt(GuestCallPages.CONNECTION_FD, fd);
        memory.putInt(GuestCallPages.CONNECTION_FLAGS, flags);
        memory.putInt(GuestCallPages.LISTENER_FD, refusing);
        memory.putInt(GuestCallPages.WRITE_BUDGET, budget);
        shownConnectionFd = fd;
        shownFlags = flags;
        shownListenerFd = refusing;
        shownBudget = budget;
        published = true;
    }

    /**
     * {@link #takesWritesNow} for the connection, asked again only after it transferred data (or
     * tried to) or when its last answer was no: the answer holds until then, as nothing else
     * fills its send queue.
     */
    private boolean writesNow() {
        long epoch = connection.ioEpoch();
        if (epoch != writesCheckedAt || !writesAnswer) {
            writesAnswer = takesWritesNow(connection);
            writesCheckedAt = epoch;
        }
        return writesAnswer && !connection.writeShut();
    }

    /**
     * Whether a send of up to {@link GuestCallPages#DATA_SIZE} bytes on {@code s} now takes every
     * byte without blocking: a stream socket not shut down for writing, nothing in its send queue
     * (sent or not, unacknowledged bytes count), and a send buffer of at least
     * {@link #MIN_SEND_BUFFER}.
     */
    private boolean takesWritesNow(SocketFile s) {
        if (s.type() != SocketFile.SOCK_STREAM || s.writeShut()) {
            return false;
        }
        try {
            LibC.syscall(SyscallNumbers.IOCTL, s.hostFd(), SIOCOUTQ, Pointer.nativeValue(scratch), 0, 0, 0);
            if (scratch.getInt(0) != 0) {
                return false;
            }
            scratch.setInt(4, 4);
            LibC.syscall(SyscallNumbers.GETSOCKOPT, s.hostFd(), SocketFile.SOL_SOCKET, SO_SNDBUF, Pointer.nativeValue(scratch),
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
        emptyBefore = emptyEpollFd;
        emptyEpollFd = -1;
    }

    /** The program waited on, or changed, the epoll instance {@code ep} at fd {@code fd}. */
    void epollUsed(int fd, EpollFile ep) {
        usedEpollFd = fd;
        usedEpoll = ep;
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
    public boolean pending() {
        return enabled && memory.getInt(GuestCallPages.COUNT) != 0;
    }

    /**
     * Performs the queued calls in order and empties the queue: called at an exit, before the
     * host does anything else for the VM. Returns how many were performed (for the call counts);
     * an entry that is not a call the entry queues is dropped, as a forged one.
     */
    public int flush(LinuxProcess process, long[] callCounts) {
        FdTable files = process.files();
        int count = memory.getInt(GuestCallPages.COUNT);
        int done = 0;
        // What the page allowed when the program last entered the guest bounds what is performed.
        long budget = published && (shownFlags & GuestCallPages.WRITES_QUEUED) != 0 ? shownBudget : 0;
        if (count > 0 && count <= GuestCallPages.MAX_ENTRIES) {
            for (int i = 0; i < count; i++) {
                long entry = GuestCallPages.ENTRIES + (long) i * GuestCallPages.ENTRY_SIZE;
                int nr = memory.getInt(entry);
                int fd = memory.getInt(entry + 4);
                int a = memory.getInt(entry + 8);
                int b = memory.getInt(entry + 12);
                if (fd != connectionFd || !holds(files, fd, connection)) {
                    continue; // not the connection the host published: the program wrote this entry
                }
                if (nr == WRITE) {
                    long offset = a & 0xffffffffL;
                    long length = b & 0xffffffffL;
                    if (length == 0 || length > budget || offset + length > GuestCallPages.DATA_SIZE) {
                        continue;
                    }
                    budget -= length;
                    send(connection, memory.host(GuestCallPages.DATA + offset, length), length);
                } else if (nr == SETSOCKOPT && (shownFlags & GuestCallPages.NODELAY_QUEUED) != 0) {
                    NetSyscalls.setOption(connection, IPPROTO_TCP, TCP_NODELAY, LittleEndian.intBytes(a));
                } else if (nr == IOCTL && (shownFlags & GuestCallPages.FIONBIO_QUEUED) != 0) {
                    FileSyscalls.setNonBlocking(connection, a != 0);
                } else if (nr == EPOLL_CTL && holds(files, shownEpollCtlFd, shownEpollCtl)
                        && ((b == EPOLL_CTL_ADD && (shownFlags & GuestCallPages.UNREGISTERED) != 0)
                            || (b == EPOLL_CTL_DEL && (shownFlags & GuestCallPages.REGISTERED) != 0))) {
                    // One per entry, checked by the entry as the host published the registration.
                    long data = memory.getLong(GuestCallPages.EPOLL_DATA);
                    EpollSyscalls.control(process, shownEpollCtl, b, fd, b == EPOLL_CTL_ADD ? a : 0,
                            b == EPOLL_CTL_ADD ? data : 0);
                    epollUsed(shownEpollCtlFd, shownEpollCtl);
                } else {
                    continue;
                }
                callCounts[nr]++;
                done++;
            }
        }
        memory.putInt(GuestCallPages.COUNT, 0);
        memory.putInt(GuestCallPages.BYTES, 0);
        memory.putInt(GuestCallPages.EPOLL_CTL_QUEUED, 0);
        return done;
    }

    /** One queued write: never blocks, never raises SIGPIPE (see the class comment). */
    private static void send(SocketFile s, long hostBuffer, long length) {
        s.touched();
        s.connectionUsed();
        long sent;
        try {
            sent = LibC.syscall(SyscallNumbers.SENDTO, s.hostFd(), hostBuffer, length, MSG_DONTWAIT | MSG_NOSIGNAL, 0, 0);
        } catch (LastErrorException e) {
            log.debug("a queued write of {} bytes found the connection closed ({})", length,
                    LibC.describe(e.getErrorCode()));
            return;
        }
        if (sent < length) {
            // Cannot happen within the budget the host published; said, so that it would be seen.
            log.warn("a queued write of {} bytes to a request's connection sent {}: the rest is lost", length, sent);
        }
    }
}
