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
