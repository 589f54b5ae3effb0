package io.kvmserver.linux;

import com.sun.jna.LastErrorException;
import io.kvmserver.host.LibC;
import io.kvmserver.host.OpenFlags;
import io.kvmserver.host.SyscallNumbers;
import java.nio.charset.StandardCharsets;

/**
 * A FIFO the template opened and then unlinked. Once no path names it, nothing outside the
 * process can open it: it is the process's own channel, like a pipe, and sharing its host object
 * would carry what one request writes into it to the next. Each fork gets a new host pipe
 * holding the bytes the template's FIFO held, and each forked description of the FIFO opens that
 * pipe again with its own access mode (a pipe opened through {@code /proc/self/fd} is opened as
 * a FIFO), so that descriptions the template opened separately stay connected to each other and
 * to nothing else.
 */
final class DeletedFifo {

    private static final int F_GETPIPE_SZ = 1032;
    private static final int F_SETPIPE_SZ = 1031;
    private static final int SPLICE_F_NONBLOCK = 2;

    private DeletedFifo() {
    }

    /**
     * Opens a reader of the template's FIFO at the freeze, from which every fork copies the
     * frozen bytes without consuming them ({@code tee}). The template's own descriptions may all
     * be writers.
     */
    static int frozenReader(int templateFd) {
        return LibC.open(procPath(templateFd), OpenFlags.O_RDONLY | OpenFlags.O_NONBLOCK | OpenFlags.O_CLOEXEC, 0);
    }

    /** A new host pipe holding what the template's FIFO held, for one fork. */
    static Replica replicate(int frozenReader) {
        int[] fds;
        try {
            fds = Pipe.create();
        } catch (LastErrorException e) {
            throw new IllegalStateException("cannot replicate a deleted FIFO of the template: " + LibC.describe(e.getErrorCode()));
        }
        Replica replica = new Replica(fds);
        try {
            long size = LibC.syscall(SyscallNumbers.FCNTL, frozenReader, F_GETPIPE_SZ, 0, 0, 0, 0);
            LibC.syscall(SyscallNumbers.FCNTL, fds[1], F_SETPIPE_SZ, size, 0, 0, 0);
            // The pipes are the same size, so one tee takes everything the FIFO holds (none: EAGAIN).
            HostFile.call(() -> LibC.syscall(SyscallNumbers.TEE, frozenReader, fds[1], size, SPLICE_F_NONBLOCK, 0, 0));
        } catch (LastErrorException e) {
            replica.releaseUnclaimed();
            throw new IllegalStateException("cannot replicate a deleted FIFO of the template: " + LibC.describe(e.getErrorCode()));
        }
        return replica;
    }

    private static byte[] procPath(int fd) {
        return ("/proc/self/fd/" + fd + "\0").getBytes(StandardCharsets.US_ASCII);
    }

    /** One fork's pipe; its own two fds are closed once every forked description opened its own. */
    static final class Replica implements ForkContext.Replica {
        private final int[] fds;

        Replica(int[] fds) {
            this.fds = fds;
        }

        /** A new host description of this pipe with the guest description's access mode. */
        int open(int accessMode) {
            try {
                return LibC.open(procPath(fds[0]), accessMode | OpenFlags.O_NONBLOCK | OpenFlags.O_CLOEXEC, 0);
            } catch (LastErrorException e) {
                throw new IllegalStateException("cannot open a replica of a deleted FIFO of the template: "
                        + LibC.describe(e.getErrorCode()));
            }
        }

        @Override
        public void releaseUnclaimed() {
            LibC.close(fds[0]);
            LibC.close(fds[1]);
        }
    }
}
