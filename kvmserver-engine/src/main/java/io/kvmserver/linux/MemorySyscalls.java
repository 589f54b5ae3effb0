package io.kvmserver.linux;

import io.kvmserver.host.OpenFlags;

import io.kvmserver.host.SyscallNumbers;

import io.kvmserver.host.Errno;

import static io.kvmserver.linux.AddressSpace.pageUp;

/** Memory family: {@code brk}, {@code mmap}, {@code munmap}, {@code mprotect}, {@code mremap}, {@code madvise}. */
final class MemorySyscalls {

    static final int MAP_SHARED = 0x01;
    static final int MAP_PRIVATE = 0x02;
    static final int MAP_SHARED_VALIDATE = 0x03;
    static final int MAP_TYPE = 0x0f;
    static final int MAP_FIXED = 0x10;
    static final int MAP_ANONYMOUS = 0x20;
    static final int MAP_FIXED_NOREPLACE = 0x100000;
    static final int MREMAP_MAYMOVE = 1;
    static final int MREMAP_FIXED = 2;
    static final int MADV_DONTNEED = 4;
    static final int MADV_FREE = 8;
    private static final long PAGE = 4096;

    private MemorySyscalls() {
    }

    static void register(SyscallTable t) {
        t.register(SyscallNumbers.BRK, MemorySyscalls::brk);
        t.register(SyscallNumbers.MMAP, MemorySyscalls::mmap);
        t.register(SyscallNumbers.MUNMAP, MemorySyscalls::munmap);
        t.register(SyscallNumbers.MPROTECT, MemorySyscalls::mprotect);
        t.register(SyscallNumbers.MREMAP, MemorySyscalls::mremap);
        t.register(SyscallNumbers.MADVISE, MemorySyscalls::madvise);
        t.register(SyscallNumbers.MSYNC, c -> aligned(c.arg(0)) ? 0 : -Errno.EINVAL);
        t.register(SyscallNumbers.MLOCK, c -> 0);
        t.register(SyscallNumbers.MUNLOCK, c -> 0);
        t.register(SyscallNumbers.MLOCKALL, c -> 0);
        t.register(SyscallNumbers.MUNLOCKALL, c -> 0);
    }

    /** The page-rounded size of {@code [addr, addr + length)}; {@code ENOMEM} outside user space. */
    private static long userRangeSize(AddressSpace m, long addr, long length) {
        long size = pageUp(length);
        if (size <= 0 || !m.isUserRange(addr, size)) {
            throw new SyscallError(Errno.ENOMEM);
        }
        return size;
    }

    /** Only {@code PROT_READ}, {@code PROT_WRITE} and {@code PROT_EXEC} (or none): mmap and mprotect refuse the rest. */
    private static boolean validProtection(int prot) {
        return (prot & ~(AddressSpace.PROT_READ | AddressSpace.PROT_WRITE | AddressSpace.PROT_EXEC)) == 0;
    }

    private static boolean aligned(long address) {
        return (address & (PAGE - 1)) == 0;
    }

    /** brk(2): the raw system call returns the new break, or the old one on failure. */
    static long brk(Syscall c) {
        AddressSpace m = c.memory();
        return c.arg(0) == 0 ? m.brk() : m.setBreak(c.arg(0));
    }

    static long mmap(Syscall c) {
        long addr = c.arg(0);
        long length = c.arg(1);
        int prot = c.intArg(2);
        int flags = c.intArg(3);
        int fd = c.intArg(4);
        long offset = c.arg(5);
        AddressSpace m = c.memory();
        int type = flags & MAP_TYPE;
        if (length == 0 || (type != MAP_SHARED && type != MAP_PRIVATE && type != MAP_SHARED_VALIDATE)
                || !aligned(offset) || offset < 0) {
            return -Errno.EINVAL;
        }
        if (!validProtection(prot)) {
            return -Errno.EINVAL;
        }
        long size = pageUp(length);
        if (size <= 0 || size > m.limit()) {
            return -Errno.ENOMEM;
        }
        FileDescription file = null;
        if ((flags & MAP_ANONYMOUS) == 0) {
            file = c.files().get(fd);
            if (file.hostFd() < 0 || file.isDirectory()) {
                return -Errno.ENODEV;
            }
            int access = file.statusFlags() & OpenFlags.O_ACCMODE;
            if (access == OpenFlags.O_WRONLY) {
                return -Errno.EACCES;
            }
            if (type != MAP_PRIVATE && (prot & AddressSpace.PROT_WRITE) != 0) {
                // The guest's memory is its own: a shared writable file mapping cannot be kept
                // coherent with the file, and pretending would lose writes silently.
                return (access == OpenFlags.O_RDWR) ? -Errno.ENODEV : -Errno.EACCES;
            }
        }
        long start;
        if ((flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)) != 0) {
            if (!aligned(addr)) {
                return -Errno.EINVAL;
            }
            if (!m.isUserRange(addr, size)) {
                return -Errno.ENOMEM;
            }
            if ((flags & MAP_FIXED) == 0 && !m.isFree(addr, size)) {
                return -Errno.EEXIST;
            }
            start = addr;
        } else if (addr != 0 && aligned(addr) && m.isFree(addr, size)) {
            start = addr;
        } else {
            start = m.findFree(size);
            if (start < 0) {
                return -Errno.ENOMEM;
            }
        }
        String name = file == null ? null : file.path();
        // Map writable first so the host can fill it, then apply the program's protection.
        m.map(start, size, prot, name);
        if (file != null) {
            long host = m.memory().host(start, size);
            m.memory().willWrite(start, size);
            long read = file.pread(host, length, offset);
            if (read < 0) {
                m.unmap(start, size);
                return read;
            }
        }
        return start;
    }

    static long munmap(Syscall c) {
        long addr = c.arg(0);
        long length = c.arg(1);
        if (!aligned(addr) || length <= 0) {
            return -Errno.EINVAL;
        }
        long size = pageUp(length);
        AddressSpace m = c.memory();
        if (!m.isUserRange(addr, size)) {
            return -Errno.EINVAL;
        }
        m.unmap(addr, size);
        return 0;
    }

    static long mprotect(Syscall c) {
        long addr = c.arg(0);
        long length = c.arg(1);
        int prot = c.intArg(2) & ~0x0300_0000; // PROT_GROWSDOWN / PROT_GROWSUP
        if (!aligned(addr) || !validProtection(prot)) {
            return -Errno.EINVAL;
        }
        if (length == 0) {
            return 0;
        }
        AddressSpace m = c.memory();
        m.protect(addr, userRangeSize(m, addr, length), prot);
        return 0;
    }

    static long mremap(Syscall c) {
        long oldAddr = c.arg(0);
        long oldLength = c.arg(1);
        long newLength = c.arg(2);
        int flags = c.intArg(3);
        long newAddr = c.arg(4);
        AddressSpace m = c.memory();
        if (!aligned(oldAddr) || (flags & ~(MREMAP_MAYMOVE | MREMAP_FIXED)) != 0
                || ((flags & MREMAP_FIXED) != 0 && (flags & MREMAP_MAYMOVE) == 0) || newLength == 0) {
            return -Errno.EINVAL;
        }
        long oldSize = pageUp(oldLength);
        long newSize = pageUp(newLength);
        if (newSize <= 0 || oldSize < 0) {
            return -Errno.ENOMEM;
        }
        AddressSpace.Mapping mapping = m.find(oldAddr);
        if (mapping == null || oldSize == 0 || mapping.end() - oldAddr < oldSize) {
            return -Errno.EFAULT;
        }
        if ((flags & MREMAP_FIXED) != 0) {
            if (!aligned(newAddr) || !m.isUserRange(newAddr, newSize)) {
                return -Errno.EINVAL;
            }
            return move(m, mapping, oldAddr, oldSize, newAddr, newSize);
        }
        if (newSize <= oldSize) {
            if (newSize < oldSize) {
                m.unmap(oldAddr + newSize, oldSize - newSize);
            }
            return oldAddr;
        }
        long tail = oldAddr + oldSize;
        if (m.isFree(tail, newSize - oldSize)) {
            m.map(tail, newSize - oldSize, mapping.prot(), mapping.name());
            return oldAddr;
        }
        if ((flags & MREMAP_MAYMOVE) == 0) {
            return -Errno.ENOMEM;
        }
        long target = m.findFree(newSize);
        if (target < 0) {
            return -Errno.ENOMEM;
        }
        return move(m, mapping, oldAddr, oldSize, target, newSize);
    }

    private static long move(AddressSpace m, AddressSpace.Mapping mapping, long oldAddr, long oldSize, long newAddr,
            long newSize) {
        if (newAddr < oldAddr + oldSize && oldAddr < newAddr + newSize) {
            return -Errno.EINVAL;
        }
        m.map(newAddr, newSize, mapping.prot(), mapping.name());
        m.memory().move(newAddr, oldAddr, Math.min(oldSize, newSize));
        m.unmap(oldAddr, oldSize);
        return newAddr;
    }

    static long madvise(Syscall c) {
        long addr = c.arg(0);
        long length = c.arg(1);
        int advice = c.intArg(2);
        if (!aligned(addr) || length < 0) {
            return -Errno.EINVAL;
        }
        if (length == 0) {
            return 0;
        }
        AddressSpace m = c.memory();
        long size = userRangeSize(m, addr, length);
        for (long at = addr; at < addr + size; ) {
            AddressSpace.Mapping mapping = m.find(at);
            if (mapping == null) {
                return -Errno.ENOMEM;
            }
            at = mapping.end();
        }
        if (advice == MADV_DONTNEED || advice == MADV_FREE) {
            // Private anonymous memory reads as zeros after MADV_DONTNEED.
            m.memory().zero(addr, size);
        }
        return 0;
    }
}
