package io.kvmserver.linux;

import io.kvmserver.host.OpenFlags;

import io.kvmserver.host.Errno;

import com.sun.jna.Pointer;
import java.nio.charset.StandardCharsets;

/**
 * The stand-in for {@code /proc/self/maps}: the guest's mappings, rendered a line at a time as
 * they are read, like Linux's seq_file. Nothing the size of the guest's mapping list is ever
 * built at once; a read returns whole lines (a line longer than the buffer is returned in parts).
 */
final class MapsFile extends FileDescription {

    private final AddressSpace memory;
    private final String path;
    /** Where the next line starts: the mapping at or above this address. */
    private long nextAddress;
    /** The rest of a line a short read cut. */
    private byte[] pending = new byte[0];
    private int pendingOffset;

    MapsFile(AddressSpace memory, String path) {
        super(OpenFlags.O_RDONLY);
        this.memory = memory;
        this.path = path;
    }

    @Override
    public long read(HostWaiter waiter, long hostBuffer, long count) {
        Pointer out = new Pointer(hostBuffer);
        long written = 0;
        while (written < count) {
            if (pendingOffset < pending.length) {
                int n = (int) Math.min(count - written, pending.length - pendingOffset);
                out.write(written, pending, pendingOffset, n);
                pendingOffset += n;
                written += n;
                continue;
            }
            AddressSpace.Mapping next = memory.mappingAtOrAbove(nextAddress);
            if (next == null) {
                break;
            }
            byte[] line = AddressSpace.mapsLine(next).getBytes(StandardCharsets.US_ASCII);
            if (written > 0 && line.length > count - written) {
                break; // whole lines per read, as seq_file does
            }
            pending = line;
            pendingOffset = 0;
            nextAddress = next.end();
        }
        return written;
    }

    @Override
    public long write(HostWaiter waiter, long hostBuffer, long count) {
        return -Errno.EBADF;
    }

    @Override
    public long seek(long requested, int whence) {
        if (whence != 0 || requested != 0) {
            return -Errno.EINVAL; // only a rewind: positions inside the listing mean nothing stable
        }
        nextAddress = 0;
        pending = new byte[0];
        pendingOffset = 0;
        return 0;
    }

    @Override
    public long stat(long hostStatBuffer) {
        return VirtualFiles.stat("maps", hostStatBuffer);
    }

    @Override
    public String path() {
        return path;
    }

    @Override
    public FileDescription fork(ForkContext context) {
        MapsFile copy = new MapsFile(context.memory(), path);
        copy.nextAddress = nextAddress;
        copy.pending = pending;
        copy.pendingOffset = pendingOffset;
        copy.statusFlags = statusFlags;
        return copy;
    }

    @Override
    protected void closeHost() {
    }
}
