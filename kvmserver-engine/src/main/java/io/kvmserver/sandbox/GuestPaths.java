package io.kvmserver.sandbox;

import io.kvmserver.host.Errno;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.Deque;

/**
 * Lexical handling of guest path strings. Guest paths are the guest's bytes decoded as UTF-8;
 * lengths are counted in UTF-8 bytes, as Linux counts bytes.
 */
public final class GuestPaths {

    /** Linux's {@code PATH_MAX}, which counts the terminating NUL: 4095 bytes of path at most. */
    static final int PATH_MAX = 4096;

    /** Linux's {@code NAME_MAX}: the longest single component. */
    static final int NAME_MAX = 255;

    private GuestPaths() {
    }

    /**
     * Bytes of a guest path, or of a host link's target, as a string: UTF-8 strictly, null when
     * they are not. Paths are Java strings from the guest to the policy and back to bytes for the
     * host, so a lenient decoding (every invalid byte U+FFFD) made different names one host file
     * (the eighth review); a name that is not UTF-8 is refused instead.
     */
    public static String decode(byte[] raw, int offset, int length) {
        boolean ascii = true;
        for (int i = offset; i < offset + length && ascii; i++) {
            ascii = raw[i] >= 0;
        }
        if (ascii) {
            return new String(raw, offset, length, StandardCharsets.US_ASCII);
        }
        try {
            return StandardCharsets.UTF_8.newDecoder().decode(java.nio.ByteBuffer.wrap(raw, offset, length)).toString();
        } catch (java.nio.charset.CharacterCodingException e) {
            return null;
        }
    }

    /** The errno Linux gives for this path before looking at any file, or 0 if none. */
    static int syntaxErrno(String path) {
        if (path.isEmpty()) {
            return Errno.ENOENT;
        }
        if (utf8Length(path) >= PATH_MAX) {
            return Errno.ENAMETOOLONG;
        }
        for (String name : path.split("/")) {
            if (utf8Length(name) > NAME_MAX) {
                return Errno.ENAMETOOLONG;
            }
        }
        return 0;
    }

    /**
     * Resolves {@code path} against {@code cwd} and normalizes it lexically: no {@code .}, no
     * duplicate or trailing slash, and each {@code ..} removes the previous name, never going
     * above {@code /}. Lexical {@code ..} is the policy's choice (the permission check must see
     * the same path the guest named); symlinks found on the host are handled later by the walk.
     */
    static String normalize(String cwd, String path) {
        if (!cwd.startsWith("/")) {
            throw new IllegalArgumentException("guest working directory must be absolute: " + cwd);
        }
        Deque<String> names = new ArrayDeque<>();
        if (!path.startsWith("/")) {
            push(names, cwd);
        }
        push(names, path);
        return names.isEmpty() ? "/" : "/" + String.join("/", names);
    }

    /**
     * Whether a path names a directory by its form: a trailing slash, or {@code .} or {@code ..}
     * as its last component. Linux then requires a directory ({@code ENOTDIR} for anything else;
     * {@code EISDIR} for a file {@code O_CREAT} would make).
     */
    static boolean namesDirectory(String path) {
        return path.endsWith("/") || path.equals(".") || path.equals("..") || path.endsWith("/.")
                || path.endsWith("/..");
    }

    private static void push(Deque<String> names, String path) {
        for (String name : path.split("/")) {
            if (name.equals("..")) {
                names.pollLast();
            } else if (!name.isEmpty() && !name.equals(".")) {
                names.addLast(name);
            }
        }
    }

    private static int utf8Length(String s) {
        return s.getBytes(StandardCharsets.UTF_8).length;
    }
}
