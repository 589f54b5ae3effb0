package io.kvmserver.linux;

import com.sun.jna.Memory;
import com.sun.jna.Pointer;
import io.kvmserver.host.Errno;
import io.kvmserver.host.LibC;
import io.kvmserver.host.SyscallNumbers;

/**
 * A signalfd: reading it takes pending signals of its mask as {@code struct signalfd_siginfo}
 * records instead of running their handlers. Pending signals live in the emulated kernel, so the
 * file's readiness is mirrored into a private host eventfd (readable exactly while a signal of
 * the mask is pending), which is what poll, select, epoll and a blocking read wait on.
 *
 * <p>A fork gets its own eventfd; the process that owns the copy attaches itself
 * ({@link LinuxProcess#fork}), so a request's signals are never seen by the template.
 */
final class SignalFdFile extends StreamFile {

    static final int RECORD_SIZE = 128;
    private static final int EFD_NONBLOCK = 04000;
    private static final int EFD_CLOEXEC = 02000000;

    private long mask;
    private LinuxProcess owner;
    private boolean readable;
    private final Memory counter = new Memory(8);

    private SignalFdFile(int eventFd, int statusFlags, long mask) {
        super(eventFd, true, statusFlags, "anon_inode:[signalfd]", 0);
        this.mask = mask;
    }

    static SignalFdFile create(LinuxProcess owner, long mask, int statusFlags) {
        int fd = (int) LibC.syscall(SyscallNumbers.EVENTFD2, 0, EFD_NONBLOCK | EFD_CLOEXEC, 0, 0, 0, 0);
        SignalFdFile file = new SignalFdFile(fd, statusFlags, mask);
        file.attach(owner);
        return file;
    }

    void setMask(long mask) {
        this.mask = mask;
        refresh();
    }

    /** The process whose signals this file reads. */
    void attach(LinuxProcess process) {
        this.owner = process;
        refresh();
    }

    /** Updates every signalfd of {@code p} after its pending signals changed. */
    static void refresh(LinuxProcess p) {
        p.files().forEach(f -> {
            if (f instanceof SignalFdFile s && s.owner == p) {
                s.refresh();
            }
        });
    }

    private long pendingInMask() {
        if (owner == null) {
            return 0;
        }
        long pending = owner.signals().pending().set();
        GuestThread t = owner.scheduler().current();
        if (t != null) {
            pending |= t.pending().set();
        } else {
            for (GuestThread any : owner.scheduler().threads()) {
                pending |= any.pending().set();
            }
        }
        return pending & mask;
    }

    private void refresh() {
        boolean now = pendingInMask() != 0;
        if (now == readable) {
            return;
        }
        readable = now;
        if (now) {
            counter.setLong(0, 1);
            HostFile.call(() -> LibC.write(fd, Pointer.nativeValue(counter), 8));
        } else {
            HostFile.call(() -> LibC.read(fd, Pointer.nativeValue(counter), 8));
        }
    }

    /** Records are the engine's: a vector is read and written one buffer at a time. */
    @Override
    public boolean vectorsInOneCall() {
        return false;
    }

    @Override
    public long read(HostWaiter waiter, long hostBuffer, long count) {
        if (count < RECORD_SIZE) {
            return -Errno.EINVAL;
        }
        return io(waiter, HostWaiter.POLLIN, () -> take(hostBuffer, count));
    }

    /** Takes pending signals of the mask into the buffer; -EAGAIN when there is none. */
    private long take(long hostBuffer, long count) {
        long written = 0;
        GuestThread t = owner == null ? null : owner.scheduler().current();
        while (owner != null && written + RECORD_SIZE <= count) {
            Siginfo info = Signals.take(owner, t, mask);
            if (info == null) {
                break;
            }
            new Pointer(hostBuffer + written).write(0, record(info, t == null ? 0 : t.tid()), 0, RECORD_SIZE);
            written += RECORD_SIZE;
        }
        refresh(owner);
        return written == 0 ? -Errno.EAGAIN : written;
    }

    /** {@code struct signalfd_siginfo}. */
    private static byte[] record(Siginfo info, int tid) {
        java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(RECORD_SIZE).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        b.putInt(0, info.signo());
        b.putInt(8, info.code());
        b.putInt(12, info.pid());
        b.putInt(16, info.uid());
        if (info.code() == Siginfo.SI_TIMER) {
            b.putInt(24, info.pid()); // ssi_tid: the timer id
            b.putInt(32, info.uid()); // ssi_overrun
        }
        b.putInt(44, (int) info.value()); // ssi_int
        b.putLong(48, info.value()); // ssi_ptr
        b.putLong(72, info.address()); // ssi_addr
        return b.array();
    }

    @Override
    public long write(HostWaiter waiter, long hostBuffer, long count) {
        return -Errno.EINVAL;
    }

    @Override
    public FileDescription fork(ForkContext context) {
        int fd = (int) LibC.syscall(SyscallNumbers.EVENTFD2, 0, EFD_NONBLOCK | EFD_CLOEXEC, 0, 0, 0, 0);
        return new SignalFdFile(fd, statusFlags, mask); // the forked process attaches itself
    }

    @Override
    protected void closeHost() {
        super.closeHost();
        counter.close();
    }
}
