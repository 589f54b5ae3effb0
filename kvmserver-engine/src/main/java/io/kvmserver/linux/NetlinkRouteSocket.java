package io.kvmserver.linux;

import com.sun.jna.Pointer;
import io.kvmserver.host.Errno;
import io.kvmserver.host.OpenFlags;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;

/**
 * A {@code NETLINK_ROUTE} socket that describes the VM's network: the loopback interface only,
 * {@code lo} with {@code 127.0.0.1/8} and {@code ::1/128}, which is all a program reaches without
 * a grant naming an address. glibc's {@code getifaddrs} and {@code if_nameindex} and Go's
 * {@code net.Interfaces} dump links and addresses through such a socket (node's
 * {@code os.networkInterfaces()} threw without one); nothing reaches the host's netlink, whose
 * answers would describe the host's interfaces and let a program change them.
 *
 * <p>Answered: a dump of {@code RTM_GETLINK} and of {@code RTM_GETADDR} (all families, or
 * {@code AF_INET} or {@code AF_INET6} alone), each as one datagram ending in {@code NLMSG_DONE};
 * a change is an {@code NLMSG_ERROR} of {@code EPERM} (as for a process without
 * {@code CAP_NET_ADMIN}), any other question one of {@code EOPNOTSUPP}; membership of multicast
 * groups is accepted and never notified (nothing changes). At most {@link #QUEUE_MAX}
 * answers wait to be read, so the host keeps a few KiB at most: past that an answer is lost and
 * the next receive is {@code ENOBUFS}, as when a netlink socket's receive queue overflows.
 */
final class NetlinkRouteSocket extends FileDescription {

    static final int AF_NETLINK = 16;
    static final int NETLINK_ROUTE = 0;
    /** {@code sockaddr_nl}: family, pad, port id, groups. */
    static final int SOCKADDR_NL_SIZE = 12;
    private static final int QUEUE_MAX = 16;

    private static final int NLMSG_HDRLEN = 16;
    private static final short NLMSG_ERROR = 2;
    private static final short NLMSG_DONE = 3;
    private static final short NLM_F_MULTI = 2;
    private static final short NLM_F_DUMP = 0x300;
    private static final short RTM_NEWLINK = 16;
    private static final short RTM_GETLINK = 18;
    private static final short RTM_NEWADDR = 20;
    private static final short RTM_GETADDR = 22;
    private static final int AF_UNSPEC = 0;
    private static final int AF_INET = 2;
    private static final int AF_INET6 = 10;
    private static final int LOOPBACK_INDEX = 1;
    private static final int MSG_PEEK = 0x2;
    private static final int MSG_TRUNC = 0x20;
    private static final int S_IFSOCK = 0140000;

    private final int portId;
    private final ArrayDeque<byte[]> answers = new ArrayDeque<>();
    private boolean overrun;

    NetlinkRouteSocket(int statusFlags, int portId) {
        super(statusFlags);
        this.portId = portId;
    }

    /** The address the socket is bound to: the kernel gives it the process's id as its port. */
    byte[] localAddress() {
        return address(portId);
    }

    /** The kernel's address, from which every answer comes. */
    static byte[] kernelAddress() {
        return address(0);
    }

    private static byte[] address(int portId) {
        return ByteBuffer.allocate(SOCKADDR_NL_SIZE).order(ByteOrder.LITTLE_ENDIAN).putShort((short) AF_NETLINK)
                .putShort((short) 0).putInt(portId).putInt(0).array();
    }

    /** Takes one request datagram of {@code length} bytes at {@code hostBuffer}; its answer waits to be received. */
    long send(long hostBuffer, long length) {
        if (length < 0) {
            throw new IllegalArgumentException("negative length " + length);
        }
        if (length < NLMSG_HDRLEN) {
            return length; // not a message: the kernel drops it
        }
        if (answers.size() >= QUEUE_MAX) {
            overrun = true; // as a full netlink receive queue: the answer is lost, the next receive says so
            return length;
        }
        ByteBuffer request = ByteBuffer.wrap(new Pointer(hostBuffer).getByteArray(0, (int) Math.min(length, 4096)))
                .order(ByteOrder.LITTLE_ENDIAN);
        short type = request.getShort(4);
        short flags = request.getShort(6);
        int sequence = request.getInt(8);
        int family = request.limit() > NLMSG_HDRLEN ? request.get(NLMSG_HDRLEN) & 0xff : AF_UNSPEC;
        boolean dump = (flags & NLM_F_DUMP) == NLM_F_DUMP;
        Answer answer = new Answer(sequence, portId);
        if (dump && type == RTM_GETLINK) {
            answer.loopbackLink();
        } else if (dump && type == RTM_GETADDR) {
            if (family == AF_UNSPEC || family == AF_INET) {
                answer.address(AF_INET, 8, new byte[] {127, 0, 0, 1});
            }
            if (family == AF_UNSPEC || family == AF_INET6) {
                answer.address(AF_INET6, 128, new byte[] {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1});
            }
        } else {
            // A change (a new, deleted or set link, address or route) takes CAP_NET_ADMIN, which
            // the program never has; any other question is one the stand-in does not answer.
            boolean change = (type & 3) != 2;
            answers.add(answer.error(change ? -Errno.EPERM : -Errno.EOPNOTSUPP, request));
            return length;
        }
        answers.add(answer.done());
        return length;
    }

    /**
     * Receives the next answer into {@code count} bytes at {@code hostBuffer}: its length, or
     * with {@code MSG_TRUNC} its whole length even when cut; {@code MSG_PEEK} leaves it queued.
     * Nothing queued: {@code EAGAIN}, which a blocking caller waits on ({@link #hasAnswer}).
     */
    long receive(long hostBuffer, long count, int flags) {
        if (overrun) {
            overrun = false;
            return -Errno.ENOBUFS;
        }
        byte[] next = answers.peek();
        if (next == null) {
            return -Errno.EAGAIN;
        }
        int n = (int) Math.max(0, Math.min(count, next.length));
        new Pointer(hostBuffer).write(0, next, 0, n);
        if ((flags & MSG_PEEK) == 0) {
            answers.poll();
        }
        return (flags & MSG_TRUNC) != 0 ? next.length : n;
    }

    /** Whether the next receive would find an answer longer than {@code count} (for {@code MSG_TRUNC} in msg_flags). */
    boolean nextIsLongerThan(long count) {
        byte[] next = answers.peek();
        return next != null && next.length > count;
    }

    boolean hasAnswer() {
        return !answers.isEmpty();
    }

    boolean blocking() {
        return (statusFlags() & OpenFlags.O_NONBLOCK) == 0;
    }

    @Override
    public long read(HostWaiter waiter, long hostBuffer, long count) {
        return receive(hostBuffer, count, 0);
    }

    @Override
    public long write(HostWaiter waiter, long hostBuffer, long count) {
        return send(hostBuffer, count);
    }

    @Override
    public int pollHostFd(HostWaiter waiter) {
        return -1;
    }

    @Override
    public short readinessWithoutHost(short events) {
        short ready = (short) (events & HostWaiter.POLLOUT);
        return hasAnswer() ? (short) (ready | (events & HostWaiter.POLLIN)) : ready;
    }

    @Override
    public long stat(long hostStatBuffer) {
        return VirtualFiles.madeUpStat(hostStatBuffer, S_IFSOCK | 0777);
    }

    @Override
    public String path() {
        return "socket:[netlink]";
    }

    @Override
    public FileDescription fork(ForkContext context) {
        NetlinkRouteSocket copy = new NetlinkRouteSocket(statusFlags(), portId);
        copy.answers.addAll(answers);
        copy.overrun = overrun;
        return copy;
    }

    @Override
    protected void closeHost() {
    }

    /** One answer datagram, its messages appended in order. */
    private static final class Answer {
        private final ByteBuffer out = ByteBuffer.allocate(1024).order(ByteOrder.LITTLE_ENDIAN);
        private final int sequence;
        private final int portId;

        Answer(int sequence, int portId) {
            this.sequence = sequence;
            this.portId = portId;
        }

        private int begin(short type, short flags) {
            int start = out.position();
            out.putInt(0).putShort(type).putShort(flags).putInt(sequence).putInt(portId);
            return start;
        }

        private void end(int start) {
            out.putInt(start, out.position() - start);
        }

        private void attribute(int type, byte[] value) {
            out.putShort((short) (4 + value.length)).putShort((short) type).put(value);
            while (out.position() % 4 != 0) {
                out.put((byte) 0);
            }
        }

        private static byte[] u32(int value) {
            return ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(value).array();
        }

        /** {@code RTM_NEWLINK} of {@code lo}: up, running, loopback, its address all zero. */
        void loopbackLink() {
            int start = begin(RTM_NEWLINK, NLM_F_MULTI);
            int iffUpLoopbackRunningLowerUp = 0x1 | 0x8 | 0x40 | 0x10000;
            out.put((byte) AF_UNSPEC).put((byte) 0).putShort((short) 772 /* ARPHRD_LOOPBACK */)
                    .putInt(LOOPBACK_INDEX).putInt(iffUpLoopbackRunningLowerUp).putInt(0);
            attribute(3 /* IFLA_IFNAME */, "lo\0".getBytes(StandardCharsets.US_ASCII));
            attribute(4 /* IFLA_MTU */, u32(65536));
            attribute(13 /* IFLA_TXQLEN */, u32(1000));
            attribute(1 /* IFLA_ADDRESS */, new byte[6]);
            attribute(2 /* IFLA_BROADCAST */, new byte[6]);
            end(start);
        }

        /** {@code RTM_NEWADDR} of {@code lo}, host scope, permanent. */
        void address(int family, int prefix, byte[] address) {
            int start = begin(RTM_NEWADDR, NLM_F_MULTI);
            out.put((byte) family).put((byte) prefix).put((byte) 0x80 /* IFA_F_PERMANENT */)
                    .put((byte) 254 /* RT_SCOPE_HOST */).putInt(LOOPBACK_INDEX);
            attribute(1 /* IFA_ADDRESS */, address);
            if (family == AF_INET) {
                attribute(2 /* IFA_LOCAL */, address);
                attribute(3 /* IFA_LABEL */, "lo\0".getBytes(StandardCharsets.US_ASCII));
            }
            attribute(8 /* IFA_FLAGS */, u32(0x80));
            end(start);
        }

        byte[] done() {
            int start = begin(NLMSG_DONE, NLM_F_MULTI);
            out.putInt(0);
            end(start);
            return bytes();
        }

        /** {@code NLMSG_ERROR} of {@code errno} (negative), quoting the request's header as the kernel does. */
        byte[] error(int errno, ByteBuffer request) {
            int start = begin(NLMSG_ERROR, (short) 0);
            out.putInt(errno);
            for (int i = 0; i < NLMSG_HDRLEN; i++) {
                out.put(request.get(i));
            }
            end(start);
            return bytes();
        }

        private byte[] bytes() {
            byte[] bytes = new byte[out.position()];
            out.get(0, bytes);
            return bytes;
        }
    }
}
