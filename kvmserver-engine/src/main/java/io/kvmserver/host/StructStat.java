package io.kvmserver.host;

import com.sun.jna.LastErrorException;
import com.sun.jna.Memory;
import com.sun.jna.Pointer;

/** The x86-64 {@code struct stat} ({@code asm/stat.h}), laid out once: the fields the engine reads. */
public final class StructStat {

    public static final int SIZE = 144;
    public static final int ST_DEV = 0;
    public static final int ST_INO = 8;
    public static final int ST_NLINK = 16;
    public static final int ST_MODE = 24;
    public static final int ST_RDEV = 40;
    public static final int ST_SIZE = 48;
    /** In 512-byte units. */
    public static final int ST_BLOCKS = 64;

    private StructStat() {
    }

    /** {@code fstat} of a host fd into {@code into} ({@link #SIZE} bytes). */
    public static void fstat(int fd, Memory into) throws LastErrorException {
        LibC.syscall(SyscallNumbers.FSTAT, fd, Pointer.nativeValue(into), 0, 0, 0, 0);
    }
}
