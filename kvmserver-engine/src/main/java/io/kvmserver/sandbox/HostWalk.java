package io.kvmserver.sandbox;

import io.kvmserver.linux.Errno;
import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.function.Predicate;

/**
 * Resolves a host path one component at a time, like the kernel's path walk, following every
 * symlink itself ({@link LinkOption#NOFOLLOW_LINKS}) so that each path it passes can be shown
 * to a gate first.
 *
 * <p>{@code ..} in a symlink's target is applied to the already resolved directory, so it is
 * physical, as in Linux: the walk never lexically shortens {@code link/..}. Relative targets are
 * resolved against the link's directory, absolute ones against the host root. After
 * {@value #MAX_SYMLINK_HOPS} links (Linux's {@code MAXSYMLINKS}) the walk fails with
 * {@code ELOOP}.
 */
final class HostWalk {

    /** Linux follows at most 40 symlinks in one lookup. */
    static final int MAX_SYMLINK_HOPS = 40;

    /** {@link Result#errno()} when the gate refused a path on the way. */
    static final int OUTSIDE = -1;

    private static final Path ROOT = Path.of("/");

    /**
     * Where a walk ended.
     *
     * @param path the resolved path (meaningful when errno is 0)
     * @param exists false when only the last component is missing
     * @param errno 0, {@link #OUTSIDE}, or a Linux errno ({@code ENOENT}, {@code ENOTDIR},
     *     {@code ELOOP}, {@code EACCES} when the host refuses the JVM, {@code EIO})
     */
    record Result(Path path, boolean exists, int errno) {
        static Result failed(int errno) {
            return new Result(null, false, errno);
        }
    }

    private HostWalk() {
    }

    /**
     * Walks {@code start}.
     *
     * @param start an absolute, lexically normalized host path
     * @param followLast whether a symlink as the last component is followed ({@code open}) or
     *     is itself the result ({@code lstat}, {@code unlink}, {@code readlink})
     * @param gate sees every path before it is examined on the host, symlinks and the last
     *     component included; false ends the walk with {@link #OUTSIDE}
     * @param followedLinks receives each symlink followed, or null
     */
    static Result walk(Path start, boolean followLast, Predicate<Path> gate, List<Path> followedLinks) {
        Deque<String> pending = new ArrayDeque<>();
        start.forEach(name -> pending.addLast(name.toString()));
        Path current = ROOT;
        int hops = 0;
        while (!pending.isEmpty()) {
            String name = pending.removeFirst();
            if (name.equals(".") || name.isEmpty()) {
                continue;
            }
            if (name.equals("..")) {
                current = current.getParent() == null ? ROOT : current.getParent();
                continue;
            }
            Path candidate = current.resolve(name);
            if (!gate.test(candidate)) {
                return Result.failed(OUTSIDE);
            }
            BasicFileAttributes attributes;
            try {
                attributes = Files.readAttributes(candidate, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
            } catch (NoSuchFileException e) {
                return pending.isEmpty() ? new Result(candidate, false, 0) : Result.failed(Errno.ENOENT);
            } catch (IOException e) {
                return Result.failed(errnoOf(e));
            }
            if (attributes.isSymbolicLink() && (followLast || !pending.isEmpty())) {
                if (++hops > MAX_SYMLINK_HOPS) {
                    return Result.failed(Errno.ELOOP);
                }
                Path target;
                try {
                    target = Files.readSymbolicLink(candidate);
                } catch (IOException e) {
                    return Result.failed(errnoOf(e));
                }
                if (followedLinks != null) {
                    followedLinks.add(candidate);
                }
                if (target.isAbsolute()) {
                    current = ROOT;
                }
                List<Path> names = new ArrayList<>();
                target.forEach(names::add);
                for (int i = names.size() - 1; i >= 0; i--) {
                    pending.addFirst(names.get(i).toString());
                }
                continue;
            }
            if (!pending.isEmpty() && !attributes.isDirectory()) {
                return Result.failed(Errno.ENOTDIR);
            }
            current = candidate;
        }
        return new Result(current, true, 0);
    }

    private static int errnoOf(IOException e) {
        return e instanceof AccessDeniedException ? Errno.EACCES : Errno.EIO;
    }
}
