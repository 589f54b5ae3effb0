package io.kvmserver.linux;

import io.kvmserver.host.OpenFlags;

/** One end of a {@link Pipe}: a host pipe fd whose blocking the engine emulates. */
final class PipeFile extends StreamFile {

    private static final int S_IFIFO = 0010000;

    private final Pipe pipe;
    private final boolean readEnd;

    PipeFile(Pipe pipe, boolean readEnd, int fd, int statusFlags) {
        super(fd, true, statusFlags | (readEnd ? OpenFlags.O_RDONLY : OpenFlags.O_WRONLY), "pipe:", S_IFIFO);
        this.pipe = pipe;
        this.readEnd = readEnd;
    }

    @Override
    public void freeze(FrozenBytes budget) {
        if (readEnd) {
            pipe.freeze(budget);
        }
    }

    @Override
    public FileDescription fork(ForkContext context) {
        Pipe.Replica replica = context.replica(pipe, pipe::replicate);
        return new PipeFile(replica.pipe(), readEnd, replica.claim(readEnd), statusFlags & ~OpenFlags.O_ACCMODE);
    }
}
