package io.kvmserver.host;

import com.sun.jna.LastErrorException;
import com.sun.jna.Native;
import com.sun.jna.NativeLibrary;
import com.sun.jna.Pointer;

/**
 * The few C library functions the engine calls, bound with JNA direct mapping.
 *
 * <p>Direct mapping (static natives) is used rather than interface mapping because it is several
 * times cheaper per call, which matters on the vCPU exit path. Functions that can fail declare
 * {@link LastErrorException} so that errno survives the call; callers turn it into a typed
 * exception or a guest errno. Addresses are passed as {@code long} so that guest memory, which
 * the host maps once, can be handed to the kernel without copying.
 */
public final class LibC {

    static {
        Native.register(NativeLibrary.getInstance("c"));
    }

    private LibC() {
    }

    public static final int O_RDONLY = 0;
    public static final int O_WRONLY = 1;
    public static final int O_RDWR = 2;
    public static final int O_CLOEXEC = 0x80000;

    public static final int PROT_NONE = 0;
    public static final int PROT_READ = 1;
    public static final int PROT_WRITE = 2;
    public static final int PROT_EXEC = 4;

    public static final int MAP_SHARED = 0x01;
    public static final int MAP_PRIVATE = 0x02;
    public static final int MAP_FIXED = 0x10;
    public static final int MAP_ANONYMOUS = 0x20;
    public static final int MAP_NORESERVE = 0x4000;

    public static final int MADV_DONTNEED = 4;
    public static final int MFD_CLOEXEC = 1;

    public static native int open(byte[] path, int flags, int mode) throws LastErrorException;

    public static native int openat(int dirfd, byte[] path, int flags, int mode) throws LastErrorException;

    public static native int close(int fd) throws LastErrorException;

    public static native long read(int fd, long buf, long count) throws LastErrorException;

    public static native long write(int fd, long buf, long count) throws LastErrorException;

    public static native long pread(int fd, long buf, long count, long offset) throws LastErrorException;

    public static native long pwrite(int fd, long buf, long count, long offset) throws LastErrorException;

    public static native long lseek(int fd, long offset, int whence) throws LastErrorException;

    public static native int ioctl(int fd, long request, long arg) throws LastErrorException;

    public static native int ioctl(int fd, long request, Pointer arg) throws LastErrorException;

    public static native long mmap(long addr, long length, int prot, int flags, int fd, long offset)
            throws LastErrorException;

    public static native int munmap(long addr, long length) throws LastErrorException;

    public static native int madvise(long addr, long length, int advice) throws LastErrorException;

    public static native int mprotect(long addr, long length, int prot) throws LastErrorException;

    public static native int memfd_create(String name, int flags) throws LastErrorException;

    public static native int ftruncate(int fd, long length) throws LastErrorException;

    public static native int fcntl(int fd, int cmd, long arg) throws LastErrorException;

    public static native int dup(int fd) throws LastErrorException;

    public static native long memcpy(long dest, long src, long n);

    public static native long memmove(long dest, long src, long n);

    public static native int memcmp(long a, long b, long n);

    public static native int fallocate(int fd, int mode, long offset, long length) throws LastErrorException;

    /** The raw system call: used for calls glibc wraps differently from the kernel ABI. */
    public static native long syscall(long number, long a1, long a2, long a3, long a4, long a5, long a6)
            throws LastErrorException;

    /** The raw system call with a path argument in second place (the *at family). */
    public static native long syscall(long number, long a1, byte[] path, long a3, long a4, long a5, long a6)
            throws LastErrorException;

    /** The raw system call with two path arguments (renameat2, linkat). */
    public static native long syscall(long number, long a1, byte[] path1, long a3, byte[] path2, long a5, long a6)
            throws LastErrorException;

    /** The C library's {@code clock_gettime} (the host's vDSO): fills a {@code struct timespec}. */
    public static native int clock_gettime(int clock, long timespec) throws LastErrorException;

    public static native long pthread_self();

    public static native int pthread_kill(long thread, int signal);

    public static native int getpid();

    /** {@code mmap} returns {@code MAP_FAILED} ({@code (void*)-1}) on error. */
    public static final long MAP_FAILED = -1L;

    private static native Pointer strerror(int errnum);

    /** The C library's text for an errno value, for messages a user reads. */
    public static String describe(int errno) {
        return strerror(errno).getString(0);
    }
}
