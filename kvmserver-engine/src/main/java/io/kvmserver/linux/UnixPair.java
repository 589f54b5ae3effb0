package io.kvmserver.linux;

import io.kvmserver.host.SyscallNumbers;

import com.sun.jna.LastErrorException;
import com.sun.jna.Memory;
import com.sun.jna.Pointer;
import io.kvmserver.host.LibC;
import java.util.ArrayList;
import java.util.List;

/**
 * A socketpair the guest made: two connected host sockets. Like a {@link Pipe}, a request VM
 * never shares the template's (bytes one request sends would reach the next): each fork gets a
 * new socketpair holding, on each side, the data the template's side held when it was frozen
 * (message by message, so datagram and seqpacket boundaries survive), with the sides the
 * template had closed closed.
 */
final class UnixPair {

    private static final int AF_UNIX = 1;
    private static final int SOCK_NONBLOCK = 04000;
    private static final int SOCK_CLOEXEC = 02000000;
    private static final int MSG_DONTWAIT = 0x40;
    /** Enough for any message a unix socket buffers by default. */
    private static final int MESSAGE_MAX = 212992;
    /** A bound on what one frozen side may hold: more than the host's default buffers. */
    private static final int FROZEN_MAX = 4 << 20;

    private final int[] fds;
    private final int type;
    private final int protocol;
    /** Per side: the messages waiting to be read there when the template was frozen. */
    @SuppressWarnings("unchecked")
    private final List<byte[]>[] frozen = new List[] {new ArrayList<byte[]>(), new ArrayList<byte[]>()};

    private UnixPair(int[] fds, int type, int protocol) {
        this.fds = fds;
        this.type = type;
        this.protocol = protocol;
    }

    /** A new host socketpair, both sides non-blocking; throws {@link LastErrorException}. */
    static UnixPair create(int type, int protocol) {
        try (Memory pair = new Memory(8)) {
            LibC.syscall(SyscallNumbers.SOCKETPAIR, AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol,
                    Pointer.nativeValue(pair), 0, 0);
            return new UnixPair(new int[] {pair.getInt(0), pair.getInt(4)}, type, protocol);
        }
    }

    int fd(int side) {
        return fds[side];
    }

    /** Takes what waits on {@code side} of the template's pair, once, when it is frozen. */
    void freeze(int side, FrozenBytes budget) {
        List<byte[]> messages = frozen[side];
        int total = 0;
        try (Memory buffer = new Memory(MESSAGE_MAX)) {
            while (total < FROZEN_MAX) {
                long n = HostFile.call(() -> LibC.syscall(SyscallNumbers.RECVFROM, fds[side], Pointer.nativeValue(buffer),
                        MESSAGE_MAX, MSG_DONTWAIT, 0, 0));
                if (n <= 0) {
                    break; // empty (EAGAIN), or the other side is gone (0)
                }
                budget.keep(n);
                messages.add(buffer.getByteArray(0, (int) n));
                total += (int) n;
            }
        }
    }

    /** A new socketpair in the template's frozen state, for one fork. */
    Replica replicate() {
        UnixPair copy;
        try {
            copy = create(type, protocol);
        } catch (LastErrorException e) {
            throw new IllegalStateException("cannot replicate a socketpair of the template: "
                    + LibC.describe(e.getErrorCode()));
        }
        for (int side = 0; side < 2; side++) {
            int sender = copy.fds[1 - side]; // what waits on one side was sent from the other
            for (byte[] message : frozen[side]) {
                try (Memory data = new Memory(Math.max(1, message.length))) {
                    data.write(0, message, 0, message.length);
                    HostFile.call(() -> LibC.syscall(SyscallNumbers.SENDTO, sender, Pointer.nativeValue(data),
                            message.length, MSG_DONTWAIT, 0, 0));
                }
            }
        }
        return new Replica(copy);
    }

    /** One fork's socketpair: each side goes to the forked description of that side, if any. */
    static final class Replica implements ForkContext.Replica {
        private final UnixPair pair;
        private final boolean[] claimed = new boolean[2];

        Replica(UnixPair pair) {
            this.pair = pair;
        }

        UnixPair pair() {
            return pair;
        }

        int claim(int side) {
            claimed[side] = true;
            return pair.fds[side];
        }

        @Override
        public void releaseUnclaimed() {
            for (int side = 0; side < 2; side++) {
                if (!claimed[side]) {
                    LibC.close(pair.fds[side]);
                }
            }
        }
    }
}
