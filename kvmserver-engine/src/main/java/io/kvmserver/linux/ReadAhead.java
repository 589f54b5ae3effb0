package io.kvmserver.linux;

import com.sun.jna.LastErrorException;
import com.sun.jna.Memory;
import com.sun.jna.Pointer;
import io.kvmserver.host.LibC;
import io.kvmserver.host.SyscallNumbers;
import io.kvmserver.memory.GuestMemory;
import io.kvmserver.x86.GuestCallPages;

/**
 * The next bytes of the connection a request VM serves, read ahead into its answer page
 * ({@link GuestCallPages#READ_DATA}) so that the PVM syscall entry answers the program's reads
 * from them ({@link GuestCalls}), and the taking of the bytes those reads gave.
 *
 * <p>Read ahead with {@code MSG_PEEK}: the socket keeps the bytes, so everything the host does
 * with it (a read through the host, a wait, the hang-up watch) sees it as the program left it
 * once the reads answered in the guest are taken, which the host does at the next exit before
 * anything else. Only the program reads the socket, so the bytes taken are the ones it was given.
 * A peek is made only when the socket holds bytes ({@code FIONREAD}): a peek that finds none
 * returns the socket's pending error and clears it (a reset's {@code ECONNRESET}), which the
 * program's own read would then never see.
 * The page is the VM's own and is restored at every reset; what it holds is remembered per
 * connection object and transfer count, never per host fd number, which the next connection of
 * a VM that is not reset may reuse.
 */
final class ReadAhead {

    private static final int MSG_PEEK = 2;
    private static final int MSG_DONTWAIT = 0x40;
    private static final int FIONREAD = 0x541b;

    private final GuestMemory memory;
    private final OddQueueWarning odd;
    /** Where the bytes of the program's reads are taken to (it has them already). */
    private final Memory taken = new Memory(GuestCallPages.READ_MAX);
    private final Memory available = new Memory(4);
    /** The page holds {@link #peeked} bytes of {@link #from}'s, read at its transfer count {@link #epoch}. */
    private SocketFile from;
    private long epoch;
    private int peeked;

    ReadAhead(GuestMemory memory, OddQueueWarning odd) {
        this.memory = memory;
        this.odd = odd;
    }

    /**
     * The bytes read ahead for the served connection {@code s}: peeked at again when its bytes
     * were taken since (a transfer of any kind counts) or the last peek found none.
     */
    int of(SocketFile s) {
        long now = s.ioEpoch();
        if (from != s || epoch != now || peeked == 0) {
            peek(s.hostFd());
            from = s;
            epoch = now;
        }
        return peeked;
    }

    /**
     * The bytes read ahead for a connection not accepted yet (host fd {@code hostFd}): peeked at
     * every time. At the first look at a new connection ({@code firstLook}) that finds none, the
     * VM's thread yields its CPU once and looks again: a client on the same CPU, which the
     * connection's wake-up preempted between its connect and its write, sends the request first,
     * and the program's read is answered here instead of waiting in the host (an exit more, one
     * request in ten with client and server on one CPU). Never a wait: a server that speaks first
     * loses nothing.
     */
    int ofWaiting(int hostFd, boolean firstLook) {
        peek(hostFd);
        if (peeked == 0 && firstLook) {
            LibC.syscall(SyscallNumbers.SCHED_YIELD, 0, 0, 0, 0, 0, 0);
            peek(hostFd);
        }
        from = null;
        return peeked;
    }

    /** Nothing is read ahead (a new process: its page is its template's). */
    void forget() {
        from = null;
        peeked = 0;
    }

    private void peek(int hostFd) {
        peeked = 0;
        try {
            LibC.syscall(SyscallNumbers.IOCTL, hostFd, FIONREAD, Pointer.nativeValue(available), 0, 0, 0);
        } catch (LastErrorException e) {
            return;
        }
        if (available.getInt(0) <= 0) {
            return;
        }
        memory.willWrite(GuestCallPages.READ_DATA, GuestCallPages.READ_MAX);
        long at = memory.host(GuestCallPages.READ_DATA, GuestCallPages.READ_MAX);
        long n;
        try {
            n = LibC.syscall(SyscallNumbers.RECVFROM, hostFd, at, GuestCallPages.READ_MAX, MSG_PEEK | MSG_DONTWAIT, 0, 0);
        } catch (LastErrorException e) {
            n = 0; // cannot happen with bytes there; the program's own read finds out
        }
        peeked = (int) n;
    }

    /** Takes the {@code length} bytes a read answered in the guest gave, from the head of {@code s}; never blocks. */
    void take(SocketFile s, long length) {
        s.touched();
        s.connectionUsed();
        s.clientSpoke();
        long n;
        try {
            n = LibC.syscall(SyscallNumbers.RECVFROM, s.hostFd(), Pointer.nativeValue(taken), length, MSG_DONTWAIT, 0, 0);
        } catch (LastErrorException e) {
            n = -e.getErrorCode();
        }
        if (n != length) {
            // Only the program reads the socket, and the bytes were there at the peek.
            odd.warn("a read of {} bytes the program made in the guest took {} from the connection", length, n);
        }
    }
}
