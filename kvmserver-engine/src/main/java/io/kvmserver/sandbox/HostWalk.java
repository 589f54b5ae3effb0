package io.kvmserver.sandbox;

import com.sun.jna.LastErrorException;
import com.sun.jna.Memory;
import com.sun.jna.Pointer;
import io.kvmserver.host.StructStat;
import io.kvmserver.host.LibC;
import io.kvmserver.host.Errno;
import io.kvmserver.host.SyscallNumbers;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.function.Predicate;

/**
 * Resolves a host path one component at a time, like the kernel's path walk, holding an
 * {@code O_PATH} descriptor on every directory it enters and following every symlink itself, so
 * that each path it passes is shown to a gate first and the walk ends holding the directory the
 * caller acts in.
 *
 * <p>Why descriptors and not path strings: another request VM (sharing a writable volume) or any
 * host process can rename a directory and a symlink into each other at any moment. A check made
 * on a path string and a host call made later with the same string can then land in two different
 * places. Here every step is relative to a descriptor the walk already holds, each name is looked
 * up without following ({@code AT_SYMLINK_NOFOLLOW}, {@code O_NOFOLLOW}), and the caller acts with
 * the {@code *at} call on the final directory descriptor and a single name: a swap can make a call
 * fail ({@code ELOOP}, {@code ENOTDIR}, {@code ENOENT}) but never act outside what the gate saw.
 *
 * <p>Most lookups meet no symlink at all. For them the walk first asks the host for the parent
 * directory in one {@code openat2(RESOLVE_NO_SYMLINKS)}, which fails as soon as any component is
 * a symlink (then the component walk runs) and otherwise resolves exactly the lexical path the
 * gate has approved.
 *
 * <p>{@code ..} in a symlink's target is applied to the already resolved directory, so it is
 * physical, as in Linux. Relative targets are resolved against the link's directory, absolute ones
 * against the host root. After {@value #MAX_SYMLINK_HOPS} links (Linux's {@code MAXSYMLINKS})
 * the walk fails with {@code ELOOP}; a name that changes under the walk counts as a hop, so a
 * guest that keeps swapping cannot make it loop forever.
 */
final class HostWalk {

    /** Linux follows at most 40 symlinks in one lookup. */
    static final int MAX_SYMLINK_HOPS = 40;

    /** {@link Result#errno()} when the gate refused a path on the way. */
    static final int OUTSIDE = -1;

    private static final Path ROOT = Path.of("/");
    private static final int O_DIRECTORY = 0200000;
    private static final int O_NOFOLLOW = 0400000;
    private static final int O_CLOEXEC = 02000000;
    private static final int O_PATH = 010000000;
    private static final int AT_SYMLINK_NOFOLLOW = 0x100;
    private static final int AT_EMPTY_PATH = 0x1000;
    private static final int F_DUPFD_CLOEXEC = 1030;
    private static final long RESOLVE_NO_MAGICLINKS = 0x02;
    private static final long RESOLVE_NO_SYMLINKS = 0x04;
    private static final int ST_MODE = 24;
    static final int S_IFMT = 0170000;
    static final int S_IFDIR = 0040000;
    static final int S_IFLNK = 0120000;
    private static final int PATH_MAX = 4096;

    /**
     * Where a walk ended. When {@code errno} is 0 the result owns {@code parentFd}, an
     * {@code O_PATH} descriptor of the directory that holds {@code name} (the caller closes it);
     * {@code name} is {@code "."} when the path is a directory reached with nothing after it
     * (such as {@code /}), and {@code parentFd} is then that directory.
     *
     * @param parentFd the directory holding the result, or -1 on failure
     * @param name the last component, to be used with {@code *at} calls on {@code parentFd}
     * @param path the resolved host path (no symlink in any component but possibly the last one
     *     when it was not followed)
     * @param exists false when only the last component is missing
     * @param mode {@code st_mode} of the last component when it exists (not following it)
     * @param errno 0, {@link #OUTSIDE}, or a Linux errno ({@code ENOENT}, {@code ENOTDIR},
     *     {@code ELOOP}, {@code EACCES} when the host refuses the JVM, ...)
     */
    record Result(int parentFd, String name, Path path, boolean exists, int mode, int errno) {
        static Result failed(int errno) {
            return new Result(-1, null, null, false, 0, errno);
        }

        boolean isDirectory() {
            return (mode & S_IFMT) == S_IFDIR;
        }
    }

    private HostWalk() {
    }

    /** Opens the host root as an {@code O_PATH} descriptor, the start of every walk. */
    static int openRoot() {
        try {
            return LibC.open(bytes("/"), O_PATH | O_DIRECTORY | O_CLOEXEC, 0);
        } catch (LastErrorException e) {
            throw new IllegalStateException("cannot open the host root directory: " + LibC.describe(e.getErrorCode()));
        }
    }

    /**
     * Walks {@code start} from {@code rootFd}.
     *
     * @param rootFd an {@code O_PATH} descriptor of the host's {@code /}, kept open by the caller
     * @param start an absolute, lexically normalized host path (no {@code .} or {@code ..})
     * @param followLast whether a symlink as the last component is followed ({@code open}) or
     *     is itself the result ({@code lstat}, {@code unlink}, {@code readlink})
     * @param gate sees every path before it is examined on the host, symlinks and the last
     *     component included; false ends the walk with {@link #OUTSIDE}
     * @param followedLinks receives each symlink followed, or null
     */
    static Result walk(int rootFd, Path start, boolean followLast, Predicate<Path> gate, List<Path> followedLinks) {
        try (Memory stat = new Memory(StructStat.SIZE)) {
            if (followedLinks == null) {
                Result fast = withoutSymlinks(rootFd, start, followLast, gate, stat);
                if (fast != null) {
                    return fast;
                }
            }
            return componentWise(rootFd, start, followLast, gate, followedLinks, stat);
        }
    }

    /**
     * The common case in two host calls: the parent resolved by the host with no symlink allowed
     * anywhere, then the last name looked at without following. Null when the path has a symlink
     * (or anything else this shortcut does not decide): the component walk then runs.
     */
    private static Result withoutSymlinks(int rootFd, Path start, boolean followLast, Predicate<Path> gate,
            Memory stat) {
        Path parent = start.getParent();
        if (parent == null) {
            return null;
        }
        for (Path p = start; p != null && p.getNameCount() > 0; p = p.getParent()) {
            if (!gate.test(p)) {
                return null; // let the component walk find where, and say OUTSIDE
            }
        }
        int fd = openBeneath(rootFd, parent);
        if (fd < 0) {
            return null;
        }
        String name = start.getFileName().toString();
        int mode = lstatMode(fd, name, stat);
        if (mode == -Errno.ENOENT) {
            return new Result(fd, name, start, false, 0, 0);
        }
        if (mode < 0 || ((mode & S_IFMT) == S_IFLNK && followLast)) {
            close(fd);
            return null;
        }
        return new Result(fd, name, start, true, mode, 0);
    }

    private static Result componentWise(int rootFd, Path start, boolean followLast, Predicate<Path> gate,
            List<Path> followedLinks, Memory stat) {
        Deque<String> pending = new ArrayDeque<>();
        start.forEach(name -> pending.addLast(name.toString()));
        Deque<Integer> fds = new ArrayDeque<>(); // owned descriptors of the directories entered
        Path current = ROOT;
        int hops = 0;
        try {
            while (!pending.isEmpty()) {
                String name = pending.removeFirst();
                if (name.equals(".") || name.isEmpty()) {
                    continue;
                }
                int dirFd = fds.isEmpty() ? rootFd : fds.peek();
                if (name.equals("..")) {
                    if (!fds.isEmpty()) {
                        close(fds.pop());
                        current = current.getParent() == null ? ROOT : current.getParent();
                    }
                    continue;
                }
                Path candidate = current.resolve(name);
                if (!gate.test(candidate)) {
                    return Result.failed(OUTSIDE);
                }
                boolean last = pending.isEmpty();
                int mode = lstatMode(dirFd, name, stat);
                if (mode == -Errno.ENOENT) {
                    return last ? new Result(take(fds, rootFd), name, candidate, false, 0, 0)
                            : Result.failed(Errno.ENOENT);
                }
                if (mode < 0) {
                    return Result.failed(-mode);
                }
                if ((mode & S_IFMT) == S_IFLNK && (followLast || !last)) {
                    if (++hops > MAX_SYMLINK_HOPS) {
                        return Result.failed(Errno.ELOOP);
                    }
                    String target = readLink(dirFd, name);
                    if (target == null) {
                        pending.addFirst(name); // replaced under us: look at it again (a hop)
                        continue;
                    }
                    if (NOT_UTF8.equals(target)) {
                        return Result.failed(Errno.EILSEQ); // as a guest's own name that is not UTF-8
                    }
                    if (target.isEmpty()) {
                        return Result.failed(Errno.ENOENT);
                    }
                    if (followedLinks != null) {
                        followedLinks.add(candidate);
                    }
                    if (target.startsWith("/")) {
                        while (!fds.isEmpty()) {
                            close(fds.pop());
                        }
                        current = ROOT;
                    }
                    List<String> names = new ArrayList<>();
                    for (String part : target.split("/")) {
                        names.add(part);
                    }
                    for (int i = names.size() - 1; i >= 0; i--) {
                        pending.addFirst(names.get(i));
                    }
                    continue;
                }
                if (last) {
                    return new Result(take(fds, rootFd), name, candidate, true, mode, 0);
                }
                if ((mode & S_IFMT) != S_IFDIR) {
                    return Result.failed(Errno.ENOTDIR);
                }
                int child = openDirectory(dirFd, name, stat);
                if (child < 0) {
                    if (++hops > MAX_SYMLINK_HOPS) {
                        return Result.failed(Errno.ELOOP);
                    }
                    pending.addFirst(name); // replaced under us: look at it again (a hop)
                    continue;
                }
                fds.push(child);
                current = candidate;
            }
            // The path ended in a directory already entered (or is the root): it is the result.
            return new Result(take(fds, rootFd), ".", current, true, S_IFDIR, 0);
        } finally {
            while (!fds.isEmpty()) {
                close(fds.pop());
            }
        }
    }

    /** Hands the innermost directory's descriptor to the result (a duplicate for the root). */
    private static int take(Deque<Integer> fds, int rootFd) {
        if (!fds.isEmpty()) {
            return fds.pop();
        }
        try {
            return LibC.fcntl(rootFd, F_DUPFD_CLOEXEC, 0);
        } catch (LastErrorException e) {
            throw new IllegalStateException("cannot duplicate the root descriptor: " + LibC.describe(e.getErrorCode()));
        }
    }

    /** {@code st_mode} of {@code name} in {@code dirFd}, not following it, or {@code -errno}. */
    static int lstatMode(int dirFd, String name, Memory stat) {
        try {
            LibC.syscall(SyscallNumbers.NEWFSTATAT, dirFd, bytes(name), Pointer.nativeValue(stat),
                    AT_SYMLINK_NOFOLLOW, 0, 0);
            return stat.getInt(ST_MODE);
        } catch (LastErrorException e) {
            return -e.getErrorCode();
        }
    }

    /**
     * Enters a directory without following a symlink; -1 if {@code name} is no longer a directory
     * (something swapped it since it was looked at).
     */
    private static int openDirectory(int dirFd, String name, Memory stat) {
        int fd;
        try {
            fd = LibC.openat(dirFd, bytes(name), O_PATH | O_NOFOLLOW | O_DIRECTORY | O_CLOEXEC, 0);
        } catch (LastErrorException e) {
            return -1;
        }
        // O_PATH | O_NOFOLLOW on a symlink yields the link itself: make sure it is a directory.
        if ((modeOf(fd, stat) & S_IFMT) != S_IFDIR) {
            close(fd);
            return -1;
        }
        return fd;
    }

    /** {@code st_mode} of what {@code fd} refers to (an {@code O_PATH} descriptor is fine), or {@code -errno}. */
    static int modeOf(int fd, Memory stat) {
        try {
            LibC.syscall(SyscallNumbers.NEWFSTATAT, fd, bytes(""), Pointer.nativeValue(stat),
                    AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH, 0, 0);
            return stat.getInt(ST_MODE);
        } catch (LastErrorException e) {
            return -e.getErrorCode();
        }
    }

    /**
     * {@code openat2(rootFd, parent, O_PATH | O_DIRECTORY, RESOLVE_NO_SYMLINKS)}: the directory
     * exactly at the lexical path, or -1 (a symlink on the way, missing, or an old kernel).
     */
    private static int openBeneath(int rootFd, Path directory) {
        String relative = directory.getNameCount() == 0 ? "." : ROOT.relativize(directory).toString();
        try (Memory how = new Memory(24)) {
            how.setLong(0, O_PATH | O_DIRECTORY | O_CLOEXEC);
            how.setLong(8, 0);
            how.setLong(16, RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
            return (int) LibC.syscall(SyscallNumbers.OPENAT2, rootFd, bytes(relative), Pointer.nativeValue(how), 24,
                    0, 0);
        } catch (LastErrorException e) {
            return -1;
        }
    }

    /** What {@link #readLink} answers for a target that is not UTF-8 (no target has a NUL). */
    static final String NOT_UTF8 = "\0";

    /**
     * The target of the symlink {@code name} in {@code dirFd}; null if it is no longer a symlink,
     * {@link #NOT_UTF8} if its bytes are not UTF-8: decoded leniently, a target {@code a\xffb}
     * led to the file {@code a<U+FFFD>b} (the second wave of the eighth review), where guest paths
     * that are not UTF-8 are refused.
     */
    static String readLink(int dirFd, String name) {
        try (Memory buffer = new Memory(PATH_MAX)) {
            long n = LibC.syscall(SyscallNumbers.READLINKAT, dirFd, bytes(name), Pointer.nativeValue(buffer), PATH_MAX,
                    0, 0);
            byte[] target = buffer.getByteArray(0, (int) Math.min(n, PATH_MAX));
            String decoded = GuestPaths.decode(target, 0, target.length);
            return decoded == null ? NOT_UTF8 : decoded;
        } catch (LastErrorException e) {
            return null;
        }
    }

    static void close(int fd) {
        try {
            LibC.close(fd);
        } catch (LastErrorException ignored) {
            // close(2) releases the descriptor even when it reports an error
        }
    }

    static byte[] bytes(String s) {
        return (s + "\0").getBytes(StandardCharsets.UTF_8);
    }
}
