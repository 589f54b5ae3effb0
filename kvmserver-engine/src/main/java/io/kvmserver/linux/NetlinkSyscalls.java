package io.kvmserver.linux;

import com.sun.jna.Memory;
import com.sun.jna.Pointer;
import io.kvmserver.host.Errno;

/**
 * The socket calls on a {@code NETLINK_ROUTE} socket ({@link NetlinkRouteSocket}), which never
 * reaches the host: {@link NetSyscalls} hands a call over when its fd is one. Each answers as
 * Linux does for such a socket: {@code bind} and {@code connect} take a {@code sockaddr_nl},
 * {@code getsockname} gives the port the kernel chose (the process's id), answers come from the
 * kernel's address (port 0), a blocking receive with nothing queued waits (until the request's
 * time limit, as a program that reads before it asks would wait on Linux).
 */
final class NetlinkSyscalls {

    private static final int SOCK_DGRAM = 2;
    private static final int SOCK_RAW = 3;
    private static final int MSG_DONTWAIT = 0x40;
    private static final int MSG_TRUNC = 0x20;
    /** The most one receive or send gathers: the largest answer is far below it. */
    private static final int GATHER_MAX = 65536;
    /** The most a netlink send may take: the socket's default send buffer less the kernel's 32 bytes. */
    private static final long SEND_MAX = 212_992 - 32;
    private static final long EMPTY_WAIT_NANOS = 100_000_000L;

    private NetlinkSyscalls() {
    }

    /** The netlink socket at {@code fd}, or null when it is another file. */
    static NetlinkRouteSocket of(Syscall c, int fd) {
        return c.files().get(fd) instanceof NetlinkRouteSocket n ? n : null;
    }

    /** socket(AF_NETLINK, type, protocol): raw or datagram, of the route protocol alone. */
    static long socket(Syscall c, int kind, int protocol, int statusFlags, boolean closeOnExec) {
        if (kind != SOCK_RAW && kind != SOCK_DGRAM) {
            return -Errno.ESOCKTNOSUPPORT;
        }
        if (protocol != NetlinkRouteSocket.NETLINK_ROUTE) {
            return -Errno.EPROTONOSUPPORT; // audit, uevents, sockets diagnostics: the host's, never a guest's
        }
        return c.files().install(new NetlinkRouteSocket(statusFlags, (int) c.process().pid()), 0, closeOnExec);
    }

    /** bind and connect: a {@code sockaddr_nl}, of any port and groups. */
    static long bindOrConnect(Syscall c, long address, long length) {
        if (length < NetlinkRouteSocket.SOCKADDR_NL_SIZE) {
            return -Errno.EINVAL;
        }
        byte[] sa = c.memory().readBytes(address, NetlinkRouteSocket.SOCKADDR_NL_SIZE);
        if ((sa[0] & 0xff | (sa[1] & 0xff) << 8) != NetlinkRouteSocket.AF_NETLINK) {
            return -Errno.EINVAL;
        }
        return 0; // multicast groups too: the loopback never changes, so nothing is ever notified
    }

    /** getsockname and getpeername. */
    static long name(Syscall c, NetlinkRouteSocket n, boolean peer) {
        int guestLength = c.memory().readInt(c.arg(2));
        if (guestLength < 0) {
            return -Errno.EINVAL;
        }
        writeAddress(c, c.arg(1), c.arg(2), guestLength, peer ? NetlinkRouteSocket.kernelAddress() : n.localAddress());
        return 0;
    }

    /** sendto and recvfrom ({@code fd, buf, len, flags, addr, addrlen}). */
    static long transfer(Syscall c, NetlinkRouteSocket n, boolean sending) {
        long length = c.arg(2); // a size_t: -1 is the largest
        long count = Long.compareUnsigned(length, GATHER_MAX) > 0 ? GATHER_MAX : length;
        int flags = c.intArg(3);
        if (sending) {
            if (Long.compareUnsigned(length, SEND_MAX) > 0) {
                return -Errno.EMSGSIZE;
            }
            return n.send(c.memory().readable(c.arg(1), count), count);
        }
        long address = c.arg(4);
        int guestLength = address == 0 ? 0 : c.memory().readInt(c.arg(5));
        if (guestLength < 0) {
            return -Errno.EINVAL;
        }
        // Linux checks the buffer's range (cut at MAX_RW_COUNT), then writes only the answer:
        // a length of -1 over a small buffer is an ordinary receive.
        if (!AddressSpace.accessOk(c.arg(1), Math.min(count, AddressSpace.MAX_RW_COUNT))) {
            return -Errno.EFAULT;
        }
        try (Memory answer = new Memory(Math.max(1, count))) {
            long rc = receive(c, n, Pointer.nativeValue(answer), count, flags);
            if (rc < 0) {
                return rc;
            }
            int copied = (int) Math.min(rc, count);
            c.memory().writeBytes(c.arg(1), answer.getByteArray(0, copied), 0, copied);
            if (address != 0) {
                writeAddress(c, address, c.arg(5), guestLength, NetlinkRouteSocket.kernelAddress());
            }
            return rc;
        }
    }

    /** sendmsg and recvmsg: the iovecs gathered into one datagram, or one answer scattered over them. */
    static long msg(Syscall c, NetlinkRouteSocket n, boolean sending) {
        AddressSpace m = c.memory();
        long msghdr = c.arg(1);
        int flags = c.intArg(2);
        m.check(msghdr, 56, AddressSpace.PROT_READ | (sending ? 0 : AddressSpace.PROT_WRITE));
        long name = m.readLong(msghdr);
        int nameLength = m.readInt(msghdr + 8);
        long iov = m.readLong(msghdr + 16);
        long iovCount = m.readLong(msghdr + 24);
        if (iovCount < 0 || iovCount > 1024 || nameLength < 0) {
            return -Errno.EINVAL;
        }
        int invalid = m.vectorError(iov, (int) iovCount);
        if (invalid != 0) {
            return -invalid;
        }
        // Each length is cut before it is added: two near Long.MAX_VALUE overflowed the sum into
        // a buffer of one byte, which an answer of a hundred then overran (the eighth review).
        long total = 0;
        long whole = 0; // each length within user space (checked): 1024 of them cannot overflow
        for (int i = 0; i < iovCount; i++) {
            long length = m.readLong(iov + i * 16L + 8);
            total = Math.min(GATHER_MAX, total + Math.min(length, GATHER_MAX));
            whole += length;
        }
        if (sending && whole > SEND_MAX) {
            return -Errno.EMSGSIZE;
        }
        try (Memory buffer = new Memory(Math.max(1, total))) {
            long hostBuffer = Pointer.nativeValue(buffer);
            if (sending) {
                long at = 0;
                for (int i = 0; i < iovCount && at < total; i++) {
                    long length = Math.min(m.readLong(iov + i * 16L + 8), total - at);
                    buffer.write(at, m.readBytes(m.readLong(iov + i * 16L), (int) length), 0, (int) length);
                    at += length;
                }
                return n.send(hostBuffer, total);
            }
            boolean cut = n.nextIsLongerThan(total);
            long rc = receive(c, n, hostBuffer, total, flags);
            if (rc < 0) {
                return rc;
            }
            long copied = Math.min(rc, total);
            long at = 0;
            for (int i = 0; i < iovCount && at < copied; i++) {
                long length = Math.min(m.readLong(iov + i * 16L + 8), copied - at);
                m.writeBytes(m.readLong(iov + i * 16L), buffer.getByteArray(at, (int) length), 0, (int) length);
                at += length;
            }
            if (name != 0 && nameLength > 0) {
                byte[] kernel = NetlinkRouteSocket.kernelAddress();
                m.writeBytes(name, kernel, 0, Math.min(kernel.length, nameLength));
                m.writeInt(msghdr + 8, kernel.length);
            }
            m.writeLong(msghdr + 40, 0); // no control data
            m.writeInt(msghdr + 48, cut ? MSG_TRUNC : 0);
            return rc;
        }
    }

    /** A receive that waits while nothing is queued, unless the call or the socket does not block. */
    private static long receive(Syscall c, NetlinkRouteSocket n, long hostBuffer, long count, int flags) {
        boolean mayWait = n.blocking() && (flags & MSG_DONTWAIT) == 0;
        while (true) {
            long rc = n.receive(hostBuffer, count, flags);
            if (rc != -Errno.EAGAIN || !mayWait) {
                return rc;
            }
            int slept = c.waiter().sleep(EMPTY_WAIT_NANOS);
            if (slept == HostWaiter.WAIT_PARKED) {
                return Syscall.RESTART;
            }
            if (slept == HostWaiter.WAIT_KICKED) {
                return -Errno.EINTR;
            }
        }
    }

    private static void writeAddress(Syscall c, long address, long lengthAddress, int guestLength, byte[] sockaddr) {
        c.memory().writeBytes(address, sockaddr, 0, Math.min(sockaddr.length, guestLength));
        c.memory().writeInt(lengthAddress, sockaddr.length);
    }
}
