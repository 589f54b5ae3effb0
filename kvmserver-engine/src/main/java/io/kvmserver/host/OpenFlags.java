package io.kvmserver.host;

/** {@code open(2)} and {@code fcntl(2)} flag values on x86-64. */
public final class OpenFlags {

    private OpenFlags() {
    }

    public static final int O_ACCMODE = 3;
    public static final int O_RDONLY = 0;
    public static final int O_WRONLY = 1;
    public static final int O_RDWR = 2;
    public static final int O_CREAT = 0100;
    public static final int O_EXCL = 0200;
    public static final int O_NOCTTY = 0400;
    public static final int O_TRUNC = 01000;
    public static final int O_APPEND = 02000;
    public static final int O_NONBLOCK = 04000;
    public static final int O_DSYNC = 010000;
    public static final int O_DIRECTORY = 0200000;
    public static final int O_NOFOLLOW = 0400000;
    public static final int O_CLOEXEC = 02000000;
    public static final int O_PATH = 010000000;
    public static final int O_TMPFILE = 020000000 | O_DIRECTORY;
    public static final int O_LARGEFILE = 0100000;

    /** Flags the host open may see: the rest are either ours (CLOEXEC) or refused. */
    public static final int PASSED_TO_HOST = O_ACCMODE | O_CREAT | O_EXCL | O_TRUNC | O_APPEND | O_NONBLOCK
            | O_DSYNC | O_DIRECTORY | O_NOCTTY | O_LARGEFILE;

    /** Status flags {@code F_SETFL} may change. */
    public static final int SETTABLE_STATUS = O_APPEND | O_NONBLOCK;

    public static final int AT_FDCWD = -100;
    public static final int AT_SYMLINK_NOFOLLOW = 0x100;
    public static final int AT_REMOVEDIR = 0x200;
    public static final int AT_EACCESS = 0x200;
    public static final int AT_SYMLINK_FOLLOW = 0x400;
    public static final int AT_NO_AUTOMOUNT = 0x800;
    public static final int AT_EMPTY_PATH = 0x1000;
}
