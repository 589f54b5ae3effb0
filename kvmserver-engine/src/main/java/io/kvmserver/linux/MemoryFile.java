package io.kvmserver.linux;

import io.kvmserver.host.OpenFlags;

import io.kvmserver.host.Errno;

import com.sun.jna.Pointer;

/**
 * A read-only file whose contents the engine makes up, such as the stand-in for
 * {@code /proc/self/maps}: nothing on the host is opened.
 */
public final class MemoryFile extends FileDescription {

    private static final int S_IFREG = 0100000;

    private final byte[] content;
    private final String path;
    private long offset;

    public MemoryFile(byte[] content, String path) {
        super(OpenFlags.O_RDONLY);
        this.content = content;
        this.path = path;
    }

    @Override
    public long read(HostWaiter waiter, long hostBuffer, long count) {
        long n = pread(hostBuffer, count, offset);
        if (n > 0) {
            offset += n;
        }
        return n;
    }

    @Override
    public long pread(long hostBuffer, long count, long position) {
        if (position < 0) {
            return -Errno.EINVAL;
        }
        if (position >= content.length) {
            return 0;
        }
        int n = (int) Math.min(count, content.length - position);
        new Pointer(hostBuffer).write(0, content, (int) position, n);
        return n;
    }

    @Override
    public long write(HostWaiter waiter, long hostBuffer, long count) {
        return -Errno.EBADF;
    }

    @Override
    public long seek(long requested, int whence) {
        long base = switch (whence) {
            case 0 -> 0;
            case 1 -> offset;
            case 2 -> content.length;
            default -> -1;
        };
        if (base < 0 || base + requested < 0) {
            return -Errno.EINVAL;
        }
        offset = base + requested;
        return offset;
    }

    @Override
    public long stat(long hostStatBuffer) {
        return VirtualFiles.madeUpStat(hostStatBuffer, S_IFREG | 0444);
    }

    @Override
    public String path() {
        return path;
    }

    @Override
    public FileDescription fork(ForkContext context) {
        MemoryFile copy = new MemoryFile(content, path);
        copy.offset = offset;
        copy.statusFlags = statusFlags;
        return copy;
    }

    @Override
    protected void closeHost() {
    }
}
