package io.kvmserver.linux;

import io.kvmserver.host.OpenFlags;

import io.kvmserver.host.SyscallNumbers;

import com.sun.jna.LastErrorException;
import com.sun.jna.Memory;
import com.sun.jna.Pointer;
import io.kvmserver.host.LibC;
import java.io.ByteArrayOutputStream;

/**
 * A pipe the guest made: one host pipe, read through one {@link PipeFile} and written through
 * another. A request VM never shares the template's host pipe (bytes one request wrote would be
 * read by the next): each fork gets a new host pipe holding the bytes the template's pipe held
 * when it was frozen, with the ends the template had closed closed.
 */
final class Pipe {

    /** Linux's default pipe capacity: what a frozen pipe can hold at most. */
    private static final int CAPACITY = 65536;
    private static final int O_NONBLOCK = OpenFlags.O_NONBLOCK;

    private final int readFd;
    private byte[] frozenContent = new byte[0];

    Pipe(int readFd) {
        this.readFd = readFd;
    }

    /** Makes a host pipe: [read fd, write fd], both non-blocking (the engine emulates blocking). */
    static int[] create() {
        try (Memory pair = new Memory(8)) {
            LibC.syscall(SyscallNumbers.PIPE2, Pointer.nativeValue(pair), OpenFlags.O_CLOEXEC | O_NONBLOCK, 0, 0, 0, 0);
            return new int[] {pair.getInt(0), pair.getInt(4)};
        }
    }

    /**
     * Takes what is buffered in the template's pipe, once, when the template is frozen: the
     * template never runs again, so reading its pipe empty changes nothing anyone can see.
     */
    void freeze(FrozenBytes budget) {
        ByteArrayOutputStream content = new ByteArrayOutputStream();
        try (Memory buffer = new Memory(CAPACITY)) {
            while (content.size() < CAPACITY) {
                long n = HostFile.call(() -> LibC.read(readFd, Pointer.nativeValue(buffer), CAPACITY));
                if (n <= 0) {
                    break;
                }
                budget.keep(n);
                content.write(buffer.getByteArray(0, (int) n), 0, (int) n);
            }
        }
        frozenContent = content.toByteArray();
    }

    /** A new host pipe in the template's frozen state, for one fork. */
    Replica replicate() {
        int[] fds;
        try {
            fds = create();
        } catch (LastErrorException e) {
            throw new IllegalStateException("cannot replicate a pipe of the template: " + LibC.describe(e.getErrorCode()));
        }
        if (frozenContent.length > 0) {
            try (Memory data = new Memory(frozenContent.length)) {
                data.write(0, frozenContent, 0, frozenContent.length);
                HostFile.call(() -> LibC.write(fds[1], Pointer.nativeValue(data), frozenContent.length));
            }
        }
        return new Replica(fds);
    }

    /** One fork's pipe: each end goes to the forked description of that end, if any. */
    static final class Replica implements ForkContext.Replica {
        private final int[] fds;
        private final boolean[] claimed = new boolean[2];
        private final Pipe pipe;

        Replica(int[] fds) {
            this.fds = fds;
            this.pipe = new Pipe(fds[0]);
        }

        /** The replica as a pipe of its own, shared by the forked descriptions of both ends. */
        Pipe pipe() {
            return pipe;
        }

        int claim(boolean readEnd) {
            int end = readEnd ? 0 : 1;
            claimed[end] = true;
            return fds[end];
        }

        @Override
        public void releaseUnclaimed() {
            for (int end = 0; end < 2; end++) {
                if (!claimed[end]) {
                    LibC.close(fds[end]);
                }
            }
        }
    }
}
