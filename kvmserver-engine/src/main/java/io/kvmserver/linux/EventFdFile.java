package io.kvmserver.linux;

import io.kvmserver.host.SyscallNumbers;

import com.sun.jna.Memory;
import com.sun.jna.Pointer;
import io.kvmserver.host.LibC;

/**
 * An eventfd. A fork gets an eventfd of its own holding the counter the template's had when it
 * was frozen: a count one request adds is never seen by the next.
 */
final class EventFdFile extends StreamFile {

    static final int EFD_SEMAPHORE = 1;
    private static final int EFD_NONBLOCK = 04000;
    private static final int EFD_CLOEXEC = 02000000;

    private final boolean semaphore;
    private long frozenCount = -1;

    private EventFdFile(int fd, int statusFlags, boolean semaphore) {
        super(fd, true, statusFlags, "anon_inode:[eventfd]", 0);
        this.semaphore = semaphore;
    }

    /** A new host eventfd with {@code initial} (up to 2^64 - 2, as write(2) allows) already counted. */
    static EventFdFile create(long initial, boolean semaphore, int statusFlags) {
        int fd = (int) LibC.syscall(SyscallNumbers.EVENTFD2, 0, (semaphore ? EFD_SEMAPHORE : 0) | EFD_NONBLOCK
                | EFD_CLOEXEC, 0, 0, 0, 0);
        EventFdFile file = new EventFdFile(fd, statusFlags, semaphore);
        if (initial != 0) {
            try (Memory value = new Memory(8)) {
                value.setLong(0, initial);
                HostFile.call(() -> LibC.write(fd, Pointer.nativeValue(value), 8));
            }
        }
        return file;
    }

    @Override
    public void freeze(FrozenBytes budget) {
        frozenCount = FdInfo.field(fd, "eventfd-count", 16);
    }

    @Override
    public FileDescription fork(ForkContext context) {
        long count = frozenCount >= 0 ? frozenCount : Math.max(0, FdInfo.field(fd, "eventfd-count", 16));
        return create(count, semaphore, statusFlags);
    }
}
