package io.kvmserver.linux;

import io.kvmserver.host.OpenFlags;

import io.kvmserver.host.Errno;

/**
 * The guest's standard output or error: writes go to a {@link GuestConsole}, which the CLI
 * connects to its own stdout and stderr and the Spring integration to a logger.
 */
public final class ConsoleFile extends FileDescription {

    private static final int S_IFCHR = 0020000;

    private final BufferedConsole console;
    private final int stream;

    public ConsoleFile(BufferedConsole console, int stream) {
        super(OpenFlags.O_WRONLY);
        this.console = console;
        this.stream = stream;
    }

    /** The buffer its writes go to, and which of the guest's streams it is (1 or 2). */
    BufferedConsole console() {
        return console;
    }

    int stream() {
        return stream;
    }

    @Override
    public long read(HostWaiter waiter, long hostBuffer, long count) {
        return -Errno.EBADF;
    }

    @Override
    public long write(HostWaiter waiter, long hostBuffer, long count) {
        return console.write(waiter, stream, hostBuffer, count);
    }

    /** A vector of at most {@code PIPE_BUF} bytes reaches the console whole, as a pipe takes it. */
    @Override
    public boolean vectorsInOneCall() {
        return true;
    }

    @Override
    public long vector(HostWaiter waiter, boolean writing, long hostIov, int count) {
        if (!writing) {
            return -Errno.EBADF;
        }
        com.sun.jna.Pointer iov = new com.sun.jna.Pointer(hostIov);
        long total = 0;
        for (int i = 0; i < count; i++) {
            total += iov.getLong(i * 16L + 8);
        }
        if (count > 1 && total <= BufferedConsole.ATOMIC) {
            // Gathered into one write: another VM's output cannot land between the buffers.
            try (com.sun.jna.Memory whole = new com.sun.jna.Memory(total)) {
                long at = 0;
                for (int i = 0; i < count; i++) {
                    long length = iov.getLong(i * 16L + 8);
                    whole.write(at, new com.sun.jna.Pointer(iov.getLong(i * 16L)).getByteArray(0, (int) length), 0,
                            (int) length);
                    at += length;
                }
                return console.write(waiter, stream, com.sun.jna.Pointer.nativeValue(whole), total);
            }
        }
        long written = 0;
        for (int i = 0; i < count; i++) {
            long length = iov.getLong(i * 16L + 8);
            long n = console.write(waiter, stream, iov.getLong(i * 16L), length);
            if (n < 0) {
                return written > 0 ? written : n;
            }
            written += n;
            if (n < length) {
                break;
            }
        }
        return written;
    }

    @Override
    public long stat(long hostStatBuffer) {
        com.sun.jna.Pointer p = new com.sun.jna.Pointer(hostStatBuffer);
        p.setMemory(0, 144, (byte) 0);
        p.setInt(24, S_IFCHR | 0620); // st_mode
        p.setLong(16, 1); // st_nlink
        p.setLong(56, 1024); // st_blksize
        return 0;
    }

    @Override
    public long ioctl(long request, long argument, AddressSpace memory) {
        // Not a terminal: TCGETS fails with ENOTTY, so stdio picks full buffering for pipes
        // and line buffering is up to the program.
        return -Errno.ENOTTY;
    }

    @Override
    public FileDescription fork(ForkContext context) {
        return new ConsoleFile(console, stream);
    }

    @Override
    protected void closeHost() {
    }
}
