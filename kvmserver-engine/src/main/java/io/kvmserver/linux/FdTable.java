package io.kvmserver.linux;

import io.kvmserver.host.Errno;

/**
 * The guest's file descriptor table. Guest fd numbers are the VM's own; host fd numbers never
 * reach the guest. Bounded by {@link #LIMIT} ({@code RLIMIT_NOFILE}), so a guest that opens
 * without closing gets {@code EMFILE}, not unbounded host fds.
 */
public final class FdTable {

    public static final int LIMIT = 1024;
    /** The process's record locks, which end with any of its fds of their file. */
    private final RecordLocks recordLocks = new RecordLocks();

    private final FileDescription[] files = new FileDescription[LIMIT];
    private final boolean[] closeOnExec = new boolean[LIMIT];
    /**
     * How many times a description was installed at each fd: a registration kept by fd number
     * (epoll's) belongs to the file that was there when it was made, never to a later one that
     * took the number after a close.
     */
    private final int[] generation = new int[LIMIT];
    /** Fds in use: asked before every entry into the guest (GuestCalls), so kept, not counted. */
    private int open;
    /**
     * One past the highest fd installed since the table was last emptied: every slot from here up
     * is empty (and its close-on-exec flag clear), so the scans a reset makes (close all, fork,
     * find the listeners) cover the few fds a server uses, not all {@link #LIMIT}.
     */
    private int end;

    /** The description behind {@code fd}, or null when there is none. */
    FileDescription find(int fd) {
        return fd < 0 || fd >= LIMIT ? null : files[fd];
    }

    /** The description behind {@code fd}; {@code EBADF} when there is none. */
    public FileDescription get(long fd) {
        if (fd < 0 || fd >= LIMIT || files[(int) fd] == null) {
            throw new SyscallError(Errno.EBADF);
        }
        return files[(int) fd];
    }

    /**
     * The description behind {@code fd} when it is a {@code type}: {@code EBADF} when there is
     * none, {@code errnoIfOther} when it is something else (as epoll_ctl's {@code EINVAL} or a
     * socket call's {@code ENOTSOCK}).
     */
    public <T extends FileDescription> T get(long fd, Class<T> type, int errnoIfOther) {
        FileDescription f = get(fd);
        if (!type.isInstance(f)) {
            throw new SyscallError(errnoIfOther);
        }
        return type.cast(f);
    }

    /** The install count of {@code fd} ({@link #generation}), for a registration made now. */
    int generation(int fd) {
        return fd >= 0 && fd < LIMIT ? generation[fd] : -1;
    }

    public boolean isOpen(long fd) {
        return fd >= 0 && fd < LIMIT && files[(int) fd] != null;
    }

    /** Installs a new description at the lowest free fd at or above {@code minimum}. */
    public int install(FileDescription file, int minimum, boolean cloexec) {
        for (int fd = Math.max(0, minimum); fd < LIMIT; fd++) {
            if (files[fd] == null) {
                files[fd] = file;
                generation[fd]++;
                closeOnExec[fd] = cloexec;
                open++;
                end = Math.max(end, fd + 1);
                return fd;
            }
        }
        file.release();
        throw new SyscallError(Errno.EMFILE);
    }

    /** Makes {@code newFd} refer to the same description as {@code oldFd}, closing what was there. */
    public int duplicateTo(int oldFd, long newFd, boolean cloexec) {
        FileDescription file = get(oldFd);
        if (newFd < 0 || newFd >= LIMIT) {
            throw new SyscallError(Errno.EBADF);
        }
        int target = (int) newFd;
        if (files[target] == file) {
            if (target != oldFd) {
                recordLocks.closed(file); // Linux closes newfd first, which ends the process's record locks
            }
            closeOnExec[target] = cloexec;
            return target;
        }
        file.retain();
        FileDescription previous = files[target];
        files[target] = file;
        generation[target]++;
        closeOnExec[target] = cloexec;
        end = Math.max(end, target + 1);
        if (previous != null) {
            recordLocks.closed(previous);
            previous.release();
        } else {
            open++;
        }
        return target;
    }

    public int duplicate(int oldFd, int minimum, boolean cloexec) {
        FileDescription file = get(oldFd);
        if (minimum < 0 || minimum >= LIMIT) {
            throw new SyscallError(Errno.EINVAL);
        }
        file.retain();
        return install(file, minimum, cloexec);
    }

    public void close(long fd) {
        FileDescription file = get(fd);
        recordLocks.closed(file);
        files[(int) fd] = null;
        closeOnExec[(int) fd] = false;
        open--;
        file.release();
    }

    public boolean closeOnExec(int fd) {
        get(fd);
        return closeOnExec[fd];
    }

    public void setCloseOnExec(int fd, boolean value) {
        get(fd);
        closeOnExec[fd] = value;
    }

    /** The fd the next {@link #install} from 0 takes, or -1 when the table is full. */
    public int lowestFree() {
        for (int fd = 0; fd < end; fd++) {
            if (files[fd] == null) {
                return fd;
            }
        }
        return end < LIMIT ? end : -1;
    }

    /** One past the highest fd that may be open: every fd from here up is free. */
    public int end() {
        return end;
    }

    public int openCount() {
        return open;
    }

    /** Closes every fd, releasing host resources the table owns. */
    public void closeAll() {
        recordLocks.closeAll();
        for (int fd = 0; fd < end; fd++) {
            closeOnExec[fd] = false;
            if (files[fd] != null) {
                FileDescription f = files[fd];
                files[fd] = null;
                open--;
                f.release();
            }
        }
        end = 0;
    }

    /** The process's POSIX record locks (see {@link RecordLocks}). */
    RecordLocks recordLocks() {
        return recordLocks;
    }

    /** Each open description once (fds that share one are visited once). */
    public void forEach(java.util.function.Consumer<FileDescription> action) {
        java.util.Set<FileDescription> seen = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
        for (int fd = 0; fd < end; fd++) {
            FileDescription f = files[fd];
            if (f != null && seen.add(f)) {
                action.accept(f);
            }
        }
    }

    /** The template is being frozen: every description captures what its forks replicate. */
    public void freeze() {
        FrozenBytes budget = new FrozenBytes();
        forEach((description) -> description.freeze(budget));
    }

    /**
     * A copy for a request VM, made in {@code copy}: a new table, or the table of a process nobody
     * runs any more whose fds the reset has all closed (reusing its arrays spares the reset
     * allocating them; refused if any fd is still open there, which would leak into the copy).
     * Each description is forked once (so fds that shared one still do), with nothing mutable
     * shared with this table (see {@link FileDescription#fork}). If a fork fails half way, what
     * was already made is released before the failure propagates.
     */
    FdTable fork(ForkContext context, FdTable copy) {
        if (copy.open != 0) {
            throw new IllegalStateException(copy.open + " fds are still open in the table to fork into");
        }
        java.util.IdentityHashMap<FileDescription, FileDescription> forked = new java.util.IdentityHashMap<>(16);
        copy.end = end;
        try {
            for (int fd = 0; fd < end; fd++) {
                FileDescription f = files[fd];
                if (f != null) {
                    FileDescription c = forked.get(f);
                    if (c == null) {
                        c = f.fork(context);
                        forked.put(f, c);
                    } else {
                        c.retain();
                    }
                    copy.files[fd] = c;
                    copy.generation[fd] = generation[fd];
                    copy.closeOnExec[fd] = closeOnExec[fd];
                    copy.open++;
                }
            }
        } catch (RuntimeException e) {
            copy.closeAll();
            throw e;
        } finally {
            context.finish();
        }
        return copy;
    }
}
