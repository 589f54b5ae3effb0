package io.kvmserver.linux;

import com.sun.jna.LastErrorException;
import com.sun.jna.Memory;
import io.kvmserver.host.OpenFlags;

import io.kvmserver.host.StructStat;
import io.kvmserver.host.SyscallNumbers;

import io.kvmserver.host.Errno;

import io.kvmserver.x86.GuestLayout;

import static io.kvmserver.linux.AddressSpace.pageUp;

/**
 * Memory family: {@code brk}, {@code mmap}, {@code munmap}, {@code mprotect}, {@code mremap},
 * {@code madvise}, the protection keys calls, and System V shared memory (absent).
 *
 * <p>The kernel this answers as: x86-64 Linux 6.1 with {@code vm.mmap_min_addr} 65536, no huge
 * pages reserved ({@code vm.nr_hugepages} 0, transparent huge pages on request), no System V IPC,
 * and a CPU without protection keys.
 */
final class MemorySyscalls {

    static final int MAP_SHARED = 0x01;
    static final int MAP_PRIVATE = 0x02;
    static final int MAP_SHARED_VALIDATE = 0x03;
    static final int MAP_TYPE = 0x0f;
    static final int MAP_FIXED = 0x10;
    static final int MAP_ANONYMOUS = 0x20;
    static final int MAP_32BIT = 0x40;
    static final int MAP_HUGETLB = 0x40000;
    static final int MAP_SYNC = 0x80000;
    static final int MAP_FIXED_NOREPLACE = 0x100000;
    /** The flags {@code MAP_SHARED_VALIDATE} knows (Linux's {@code LEGACY_MAP_MASK} and the two newer ones). */
    private static final int MAP_KNOWN_FLAGS = 0x0007_ff7f | (0x3f << 26) | MAP_SYNC | MAP_FIXED_NOREPLACE;
    /** {@code MAP_HUGETLB}'s page size, as log2 in these bits ({@code MAP_HUGE_2MB}, {@code MAP_HUGE_1GB}). */
    private static final int MAP_HUGE_SHIFT = 26;
    private static final int MAP_HUGE_MASK = 0x3f;
    /** Where {@code MAP_32BIT} puts a mapping that has no usable hint: the second GiB, as Linux x86-64. */
    static final long MAP_32BIT_START = 0x4000_0000L;
    static final long MAP_32BIT_END = 0x8000_0000L;
    /** Linux's {@code TASK_SIZE} on x86-64 with 4-level paging: no user range reaches past it. */
    private static final long TASK_SIZE = 0x7fff_ffff_f000L;
    /** Linux's {@code MAX_LFS_FILESIZE}: a file mapping past it is {@code EOVERFLOW}. */
    private static final long MAX_FILE_OFFSET = Long.MAX_VALUE;
    static final int PROT_SEM = 0x8;
    static final int MREMAP_MAYMOVE = 1;
    static final int MREMAP_FIXED = 2;
    static final int MADV_DONTNEED = 4;
    static final int MADV_FREE = 8;
    static final int MADV_REMOVE = 9;
    static final int MADV_WIPEONFORK = 18;
    static final int MADV_KEEPONFORK = 19;
    static final int MADV_COLLAPSE = 25;
    static final int MADV_HWPOISON = 100;
    static final int MADV_SOFT_OFFLINE = 101;
    /** The advice values Linux 6.1 knows besides the poisoning ones: 0-4 and 8-25. */
    private static final long KNOWN_ADVICE = 0x1fL | (((1L << 18) - 1) << 8);
    static final int PKEY_DISABLE_ACCESS = 1;
    static final int PKEY_DISABLE_WRITE = 2;
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
        t.register(SyscallNumbers.MSYNC, MemorySyscalls::msync);
        t.register(SyscallNumbers.MLOCK, c -> locked(c, c.arg(0), c.arg(1)));
        t.register(SyscallNumbers.MLOCK2, c -> (c.intArg(2) & ~MLOCK_ONFAULT) != 0 ? -Errno.EINVAL
                : locked(c, c.arg(0), c.arg(1)));
        t.register(SyscallNumbers.MUNLOCK, c -> locked(c, c.arg(0), c.arg(1)));
        t.register(SyscallNumbers.MLOCKALL, c -> mlockall(c.intArg(0)));
        t.register(SyscallNumbers.MUNLOCKALL, c -> 0);
        t.register(SyscallNumbers.MINCORE, MemorySyscalls::mincore);
        // System V IPC: ENOSYS, as from a kernel built without it (CONFIG_SYSVIPC=n), deliberately
        // and without the unimplemented-call warning. A VM is one process, and a segment attached
        // twice needs one memory at two addresses, which guest virtual = guest physical cannot give.
        for (int nr : new int[] {SyscallNumbers.SHMGET, SyscallNumbers.SHMAT, SyscallNumbers.SHMDT,
            SyscallNumbers.SHMCTL, SyscallNumbers.SEMGET, SyscallNumbers.SEMOP, SyscallNumbers.SEMTIMEDOP,
            SyscallNumbers.SEMCTL, SyscallNumbers.MSGGET, SyscallNumbers.MSGSND, SyscallNumbers.MSGRCV,
            SyscallNumbers.MSGCTL}) {
            t.register(nr, c -> -Errno.ENOSYS);
        }
        t.register(SyscallNumbers.PKEY_ALLOC, MemorySyscalls::pkeyAlloc);
        t.register(SyscallNumbers.PKEY_FREE, c -> -Errno.EINVAL); // no key was ever allocated
        t.register(SyscallNumbers.PKEY_MPROTECT, MemorySyscalls::pkeyMprotect);
    }

    private static final int MS_ASYNC = 1;
    private static final int MS_INVALIDATE = 2;
    private static final int MS_SYNC = 4;
    private static final int MLOCK_ONFAULT = 1;
    private static final int MCL_CURRENT = 1;
    private static final int MCL_FUTURE = 2;
    private static final int MCL_ONFAULT = 4;

    /**
     * msync: nothing to write back (a shared file mapping here is a read-only copy), but Linux's
     * checks: the flags ({@code MS_SYNC} and {@code MS_ASYNC} exclude each other), the alignment,
     * and {@code ENOMEM} where part of the range is not mapped.
     */
    static long msync(Syscall c) {
        long addr = c.arg(0);
        int flags = c.intArg(2);
        if ((flags & ~(MS_ASYNC | MS_INVALIDATE | MS_SYNC)) != 0 || (flags & MS_ASYNC) != 0 && (flags & MS_SYNC) != 0
                || !aligned(addr)) {
            return -Errno.EINVAL;
        }
        return c.arg(1) == 0 ? 0 : mappedOrEnomem(c.memory(), addr, c.arg(1));
    }

    /**
     * mlock, mlock2 and munlock: guest memory is never swapped out by the engine, so a lock
     * changes nothing, but a range that is not all mapped is {@code ENOMEM}, as on Linux (the
     * start rounded down to its page).
     */
    private static long locked(Syscall c, long addr, long length) {
        long start = addr & -PAGE;
        long rounded = pageUp(length + (addr - start)); // a size_t: -1 rounds to 0, as in Linux
        if (rounded == 0) {
            return 0;
        }
        if (Long.compareUnsigned(start + rounded, start) < 0) {
            return -Errno.EINVAL; // the range wraps
        }
        return mappedOrEnomem(c.memory(), start, rounded);
    }

    private static long mlockall(int flags) {
        boolean known = (flags & ~(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT)) == 0;
        return !known || (flags & (MCL_CURRENT | MCL_FUTURE)) == 0 ? -Errno.EINVAL : 0;
    }

    /**
     * mincore: one byte per page of {@code [addr, addr + length)}, 1 for each: the engine cannot
     * tell which pages the host holds (Linux answers which are resident), and every mapped page is
     * the guest's to read. {@code ENOMEM} where the range is not all mapped.
     */
    static long mincore(Syscall c) {
        long addr = c.arg(0);
        long length = c.arg(1);
        if (!aligned(addr)) {
            return -Errno.EINVAL;
        }
        if (length == 0) {
            return 0;
        }
        long rc = mappedOrEnomem(c.memory(), addr, length);
        if (rc != 0) {
            return rc;
        }
        long pages = pageUp(length) / PAGE;
        AddressSpace m = c.memory();
        m.check(c.arg(2), pages, AddressSpace.PROT_WRITE);
        for (long done = 0; done < pages; ) {
            int n = (int) Math.min(pages - done, ONES.length);
            m.writeBytes(c.arg(2) + done, ONES, 0, n);
            done += n;
        }
        return 0;
    }

    private static final byte[] ONES = filled(4096, (byte) 1);

    private static byte[] filled(int length, byte value) {
        byte[] bytes = new byte[length];
        java.util.Arrays.fill(bytes, value);
        return bytes;
    }

    /** 0 when every page of {@code [addr, addr + length)} is mapped; {@code -ENOMEM} otherwise. */
    private static long mappedOrEnomem(AddressSpace m, long addr, long length) {
        long size = pageUp(length);
        return length > 0 && size > 0 && m.isMapped(addr, size) ? 0 : -Errno.ENOMEM;
    }

    /** The page-rounded size of {@code [addr, addr + length)}; {@code ENOMEM} outside user space. */
    private static long userRangeSize(AddressSpace m, long addr, long length) {
        long size = pageUp(length);
        if (size <= 0 || !m.isUserRange(addr, size)) {
            throw new SyscallError(Errno.ENOMEM);
        }
        return size;
    }

    private static final int PROT_RWX = AddressSpace.PROT_READ | AddressSpace.PROT_WRITE | AddressSpace.PROT_EXEC;

    /** What mprotect accepts: read, write, execute and the no-op {@code PROT_SEM}. */
    private static boolean validProtection(int prot) {
        return (prot & ~(PROT_RWX | PROT_SEM)) == 0;
    }

    private static boolean aligned(long address) {
        return (address & (PAGE - 1)) == 0;
    }

    /** brk(2): the raw system call returns the new break, or the old one on failure. */
    static long brk(Syscall c) {
        AddressSpace m = c.memory();
        return c.arg(0) == 0 ? m.brk() : m.setBreak(c.arg(0));
    }

    /**
     * mmap(2). Linux's checks in its order: the type and alignment ({@code EINVAL}), the length
     * ({@code ENOMEM}), the offset ({@code EOVERFLOW}), the file, huge pages, then the place.
     * Unknown protection bits are ignored, as Linux's mmap ignores them.
     */
    static long mmap(Syscall c) {
        long addr = c.arg(0);
        long length = c.arg(1);
        int prot = c.intArg(2) & PROT_RWX;
        int flags = c.intArg(3);
        int fd = c.intArg(4);
        long offset = c.arg(5);
        AddressSpace m = c.memory();
        int type = flags & MAP_TYPE;
        boolean anonymous = (flags & MAP_ANONYMOUS) != 0;
        if ((flags & MAP_FIXED_NOREPLACE) != 0) {
            flags |= MAP_FIXED; // and it wins over MAP_FIXED: never replaces
        }
        boolean fixed = (flags & MAP_FIXED) != 0;
        if (length == 0 || !aligned(offset) || (fixed && !aligned(addr))
                || (type != MAP_SHARED && type != MAP_PRIVATE && (type != MAP_SHARED_VALIDATE || anonymous))) {
            return -Errno.EINVAL; // an anonymous mapping has nothing for MAP_SHARED_VALIDATE to validate
        }
        long size = pageUp(length);
        if (size <= 0 || Long.compareUnsigned(size, TASK_SIZE) > 0) {
            return -Errno.ENOMEM;
        }
        long pages = offset >>> 12;
        if (pages + (size >>> 12) < pages) {
            return -Errno.EOVERFLOW;
        }
        FileDescription file = null;
        long hostSize = anonymous ? 0 : hostFileSize(c.files().get(fd).hostFd());
        if (hostSize == DEV_ZERO) {
            // /dev/zero maps anonymous memory, shared (between threads: one address space) or not.
            if ((c.files().get(fd).statusFlags() & OpenFlags.O_ACCMODE) == OpenFlags.O_WRONLY) {
                return -Errno.EACCES;
            }
            anonymous = true;
        }
        if (!anonymous) {
            file = c.files().get(fd);
            if ((flags & MAP_HUGETLB) != 0) {
                return -Errno.EINVAL; // only a hugetlbfs file may be mapped with huge pages
            }
            if (type == MAP_SHARED_VALIDATE && ((flags & ~MAP_KNOWN_FLAGS) != 0 || (flags & MAP_SYNC) != 0)) {
                return -Errno.EOPNOTSUPP; // MAP_SYNC needs a DAX file
            }
            if (file.hostFd() < 0 || file.isDirectory() || hostSize == NOT_REGULAR) {
                return -Errno.ENODEV; // a pipe, socket, FIFO or device but /dev/zero: Linux maps none of them
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
            if (offset < 0 || size > MAX_FILE_OFFSET - offset) {
                return -Errno.EOVERFLOW;
            }
        } else if ((flags & MAP_HUGETLB) != 0) {
            return hugePages(flags, addr, fixed);
        }
        long start;
        if (fixed) {
            if (Long.compareUnsigned(addr, TASK_SIZE - size) > 0) {
                return -Errno.ENOMEM;
            }
            if (addr < GuestLayout.USER_START) {
                return -Errno.EPERM; // below vm.mmap_min_addr: where the engine's own pages live
            }
            if (!m.isUserRange(addr, size)) {
                return -Errno.ENOMEM;
            }
            if ((flags & MAP_FIXED_NOREPLACE) != 0 && !m.isFree(addr, size)) {
                return -Errno.EEXIST;
            }
            start = addr;
        } else {
            start = place(m, addr, size, (flags & MAP_32BIT) != 0);
            if (start < 0) {
                return -Errno.ENOMEM;
            }
        }
        String name = file == null ? null : file.path();
        // Map writable first so the host can fill it, then apply the program's protection.
        // A shared file mapping stays what mmap allowed it to be: never writable (see above).
        int kind = (type != MAP_PRIVATE ? AddressSpace.SHARED : 0) | (file != null ? AddressSpace.FILE : 0)
                | (file != null && type != MAP_PRIVATE ? AddressSpace.NEVER_WRITABLE : 0);
        m.map(start, size, prot | kind, name);
        if (file != null) {
            // The host writes what the file holds from the offset, not the mapping's length: a
            // map size far beyond the file (LMDB's) costs the request only the file's pages.
            long remaining = Math.max(0, hostSize - offset);
            long fill = remaining >= size ? size : pageUp(remaining);
            long host = m.memory().host(start, size);
            m.memory().willWrite(start, fill);
            // One host read moves at most MAX_RW_COUNT (2 GiB less a page): a larger mapping read
            // zeros past it (the eighth review), so the fill reads on to its end or the file's.
            long want = Math.min(length, fill);
            long read = 0;
            while (read < want) {
                long n = file.pread(host + read, want - read, offset + read);
                if (n < 0) {
                    m.unmap(start, size);
                    return n;
                }
                if (n == 0) {
                    break;
                }
                read += n;
            }
            if ((prot & AddressSpace.PROT_EXEC) != 0) {
                c.process().codeMapped(file, offset, start, Math.min(size, read));
            }
        }
        return start;
    }

    /** {@link #hostFileSize} of {@code /dev/zero}, a character device 1:5, which maps anonymous memory. */
    private static final long DEV_ZERO = -2;
    /** {@link #hostFileSize} of anything but a regular file and {@code /dev/zero}. */
    private static final long NOT_REGULAR = -3;

    /**
     * The size of the file behind a host fd ({@code fstat}), {@link #DEV_ZERO}, or
     * {@link Long#MAX_VALUE} when the host cannot say.
     */
    private static long hostFileSize(int hostFd) {
        if (hostFd < 0) {
            return Long.MAX_VALUE;
        }
        try (Memory stat = new Memory(StructStat.SIZE)) {
            StructStat.fstat(hostFd, stat);
            int type = stat.getInt(StructStat.ST_MODE) & PathSyscalls.S_IFMT;
            if (type == S_IFCHR && stat.getLong(StructStat.ST_RDEV) == ((1 << 8) | 5)) {
                return DEV_ZERO;
            }
            return type == S_IFREG ? stat.getLong(StructStat.ST_SIZE) : NOT_REGULAR;
        } catch (LastErrorException e) {
            return Long.MAX_VALUE;
        }
    }

    private static final int S_IFCHR = 0020000;
    private static final int S_IFREG = 0100000;

    /**
     * Where a mapping without {@code MAP_FIXED} goes: at its hint (rounded up to a page) when that
     * is free, else top-down below the stack, or, with {@code MAP_32BIT}, bottom-up in the second
     * GiB (the hint counts then only if the mapping ends below 2 GiB). -1 when there is no room.
     */
    private static long place(AddressSpace m, long hint, long size, boolean below2GiB) {
        long at = pageUp(hint);
        if (hint != 0 && at >= GuestLayout.USER_START && (!below2GiB || (at < MAP_32BIT_END && size <= MAP_32BIT_END - at))
                && m.isFree(at, size)) {
            return at;
        }
        return below2GiB ? m.findFreeBetween(size, MAP_32BIT_START, MAP_32BIT_END) : m.findFree(size);
    }

    /**
     * {@code MAP_HUGETLB} on anonymous memory: Linux without reserved huge pages (the default,
     * {@code vm.nr_hugepages} 0) refuses it with ENOMEM, and programs then map ordinary pages
     * (php's opcache does). A page size x86-64 does not have is EINVAL, and so is a fixed address
     * not aligned to it. With {@code MAP_NORESERVE} Linux would map it and send SIGBUS at the
     * first touch; ENOMEM here lets the program fall back instead.
     */
    private static long hugePages(int flags, long addr, boolean fixed) {
        int log2 = (flags >>> MAP_HUGE_SHIFT) & MAP_HUGE_MASK;
        if (log2 != 0 && log2 != 21 && log2 != 30) {
            return -Errno.EINVAL;
        }
        long hugePage = 1L << (log2 == 0 ? 21 : log2);
        if (fixed && (addr & (hugePage - 1)) != 0) {
            return -Errno.EINVAL;
        }
        return -Errno.ENOMEM;
    }

    /**
     * munmap(2): any range of user space, mapped or not, is fine; only the part the program can
     * map (from {@code vm.mmap_min_addr} to the end of its address range) holds anything to unmap.
     */
    static long munmap(Syscall c) {
        return unmap(c.memory(), c.arg(0), c.arg(1));
    }

    /**
     * munmap(2) of {@code length} bytes at {@code addr}: 0 or a negative errno. Also how the host
     * performs the munmap and shrinking mremap the syscall entry answered in the guest and queued
     * ({@link GuestCalls#flush}), with the same checks.
     */
    static long unmap(AddressSpace m, long addr, long length) {
        if (!unmappable(addr, length)) {
            return -Errno.EINVAL;
        }
        long size = pageUp(length);
        long from = Math.max(addr, GuestLayout.USER_START);
        long to = Math.min(addr + size, m.limit());
        if (from < to) {
            m.unmap(from, to - from);
        }
        return 0;
    }

    /** Whether munmap takes {@code addr} and {@code length}: else {@code EINVAL}. */
    static boolean unmappable(long addr, long length) {
        long size = pageUp(length);
        return aligned(addr) && length != 0 && size > 0 && Long.compareUnsigned(size, TASK_SIZE) <= 0
                && Long.compareUnsigned(addr, TASK_SIZE - size) <= 0;
    }

    static long mprotect(Syscall c) {
        long addr = c.arg(0);
        long length = c.arg(1);
        int prot = c.intArg(2) & ~0x0300_0000; // PROT_GROWSDOWN / PROT_GROWSUP
        return protect(c, addr, length, prot, -1);
    }

    /** mprotect(2), with Linux's checks in its order; {@code pkey} -1 for none, any other never allocated. */
    private static long protect(Syscall c, long addr, long length, int prot, int pkey) {
        if (!aligned(addr)) {
            return -Errno.EINVAL;
        }
        if (length == 0) {
            return 0;
        }
        long size = pageUp(length);
        if (size <= 0 || addr + size <= addr) {
            return -Errno.ENOMEM;
        }
        if (!validProtection(prot) || pkey != -1) {
            return -Errno.EINVAL;
        }
        AddressSpace m = c.memory();
        m.protect(addr, userRangeSize(m, addr, length), prot & PROT_RWX);
        return 0;
    }

    /**
     * pkey_alloc(2) on a CPU without protection keys: {@code ENOSPC}, which the man page names for
     * that case (V8 then keeps its code pages W^X with mprotect), after the argument checks.
     */
    static long pkeyAlloc(Syscall c) {
        long flags = c.arg(0);
        long rights = c.arg(1);
        if (flags != 0 || (rights & ~(long) (PKEY_DISABLE_ACCESS | PKEY_DISABLE_WRITE)) != 0) {
            return -Errno.EINVAL;
        }
        return -Errno.ENOSPC;
    }

    /**
     * pkey_mprotect(2): key -1 is plain mprotect; any other key was never allocated (without
     * protection keys not even key 0 is), so {@code EINVAL} once the other arguments pass.
     */
    static long pkeyMprotect(Syscall c) {
        return protect(c, c.arg(0), c.arg(1), c.intArg(2) & ~0x0300_0000, c.intArg(3));
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
        if (mapping == null || oldSize == 0) {
            return -Errno.EFAULT;
        }
        // A shrink in place unmaps the tail, wherever the old range ends (Linux looks only for a
        // mapping at its address); a move or a growth needs the whole old range in the mapping.
        // Through munmap's own checks and clamp: an old length past user space is EINVAL (as in
        // Linux), and the unmap never walks more than the address range the program has.
        if ((flags & MREMAP_FIXED) == 0 && newSize <= oldSize) {
            if (newSize < oldSize) {
                long unmapped = unmap(m, oldAddr + newSize, oldSize - newSize);
                if (unmapped != 0) {
                    return unmapped;
                }
            }
            return oldAddr;
        }
        if (newSize > TASK_SIZE) {
            return -Errno.EINVAL; // a growth beyond user space (Linux 6.18, checked natively)
        }
        if (mapping.end() - oldAddr < oldSize) {
            return -Errno.EFAULT;
        }
        if ((flags & MREMAP_FIXED) != 0) {
            if (!aligned(newAddr) || !m.isUserRange(newAddr, newSize)) {
                return -Errno.EINVAL;
            }
            return move(m, mapping, oldAddr, oldSize, newAddr, newSize);
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

    /**
     * madvise(2): advice is a hint the engine may ignore, except that memory given back reads as
     * zeros. {@code MADV_HUGEPAGE} succeeds (transparent huge pages on request);
     * {@code MADV_COLLAPSE} finds nothing to collapse; poisoning needs {@code CAP_SYS_ADMIN}.
     */
    static long madvise(Syscall c) {
        long addr = c.arg(0);
        long length = c.arg(1);
        int advice = c.intArg(2);
        boolean known = advice >= 0 && advice < 64 && (KNOWN_ADVICE & (1L << advice)) != 0;
        if (!aligned(addr) || length < 0 || (!known && advice != MADV_HWPOISON && advice != MADV_SOFT_OFFLINE)) {
            return -Errno.EINVAL;
        }
        if (advice == MADV_HWPOISON || advice == MADV_SOFT_OFFLINE) {
            return -Errno.EPERM;
        }
        if (advice == MADV_WIPEONFORK || advice == MADV_KEEPONFORK) {
            // A request VM is a fork whose memory is the template's: wiping would have to happen
            // at every fork. Refused as a kernel before 4.14 refuses it, so that a library relying
            // on it to notice a fork (BoringSSL, AWS-LC) takes its fork-safe path instead of
            // trusting an advice that is not carried out.
            return -Errno.EINVAL;
        }
        if (length == 0) {
            return 0;
        }
        AddressSpace m = c.memory();
        long size = userRangeSize(m, addr, length);
        boolean discards = advice == MADV_DONTNEED || advice == MADV_FREE || advice == MADV_REMOVE;
        for (long at = addr; at < addr + size; ) {
            AddressSpace.Mapping mapping = m.find(at);
            if (mapping == null) {
                return -Errno.ENOMEM;
            }
            int refused = discards ? refusedDiscard(mapping, advice) : 0;
            if (refused != 0) {
                return -refused;
            }
            at = mapping.end();
        }
        if (discards) {
            for (long at = addr; at < addr + size; ) {
                AddressSpace.Mapping mapping = m.find(at);
                long end = Math.min(mapping.end(), addr + size);
                if (discardZeroes(mapping, advice)) {
                    m.memory().zero(at, end - at);
                }
                at = end;
            }
        }
        return advice == MADV_COLLAPSE ? -Errno.EINVAL : 0;
    }

    /**
     * Linux's refusals of a discarding advice for one mapping (the eighth review found every
     * mapping zeroed): {@code MADV_FREE} takes private anonymous memory only; {@code MADV_REMOVE}
     * needs a file behind the mapping ({@code EINVAL} for private anonymous memory; shared
     * anonymous memory has one) that the mapping may write ({@code EACCES} otherwise, and a shared
     * file mapping here never may).
     */
    private static int refusedDiscard(AddressSpace.Mapping mapping, int advice) {
        boolean shared = (mapping.prot() & AddressSpace.SHARED) != 0;
        boolean file = (mapping.prot() & AddressSpace.FILE) != 0;
        if (advice == MADV_FREE && (shared || file)) {
            return Errno.EINVAL;
        }
        if (advice == MADV_REMOVE && (file || !shared)) {
            return file ? Errno.EACCES : Errno.EINVAL;
        }
        return 0;
    }

    /**
     * Whether a discarding advice makes the mapping read as zeros: private anonymous memory
     * (the next touch finds a zero page; {@code MADV_FREE} may, and here does), and shared
     * anonymous memory removed. Shared memory keeps its pages through {@code MADV_DONTNEED},
     * the object's; a private file mapping reads the file again on Linux, and keeps its pages
     * here (the engine keeps no file behind a mapping: its copies of pages the program wrote stay,
     * where Linux would show the file; zeros would break a library's text).
     */
    private static boolean discardZeroes(AddressSpace.Mapping mapping, int advice) {
        boolean shared = (mapping.prot() & AddressSpace.SHARED) != 0;
        boolean file = (mapping.prot() & AddressSpace.FILE) != 0;
        return advice == MADV_REMOVE || !shared && !file;
    }
}
