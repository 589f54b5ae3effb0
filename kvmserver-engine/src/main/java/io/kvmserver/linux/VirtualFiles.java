package io.kvmserver.linux;

import com.sun.jna.Pointer;

/**
 * {@code /proc/self}: the host's describes the JVM, so the guest gets stand-ins describing itself.
 * {@code maps} lists the guest's mappings, streamed as it is read ({@link MapsFile}); a few files
 * programs read at start are empty; the links ({@code exe}, {@code fd/N}, {@code cwd}) name guest
 * paths, never the host's.
 */
final class VirtualFiles {

    private static final int S_IFREG = 0100000;

    private VirtualFiles() {
    }

    /** The stand-in for {@code /proc/self/<name>}, or null when there is none ({@code ENOENT}). */
    static FileDescription open(Syscall c, String name, String guestPath) {
        return switch (name) {
            case "maps" -> new MapsFile(c.memory(), guestPath);
            case "cmdline", "environ", "status", "auxv" -> new MemoryFile(new byte[0], guestPath);
            default -> null;
        };
    }

    /** {@code stat} of a stand-in: an empty, read-only regular file, as procfs reports its files. */
    static long stat(String name, long hostStatBuffer) {
        Pointer p = new Pointer(hostStatBuffer);
        p.setMemory(0, 144, (byte) 0);
        p.setLong(16, 1); // st_nlink
        p.setInt(24, S_IFREG | 0444); // st_mode
        p.setLong(56, 4096); // st_blksize
        return 0;
    }

    /** The target of the link {@code /proc/self/<name>} as the guest names it, or null if it is not a link. */
    static String linkTarget(Syscall c, String name) {
        if (name.equals("exe")) {
            return c.kernel().fileSystem().programGuestPath();
        }
        if (name.equals("cwd")) {
            return c.process().cwd();
        }
        if (name.equals("root")) {
            return "/";
        }
        if (name.startsWith("fd/")) {
            try {
                int fd = Integer.parseInt(name.substring(3));
                return c.files().isOpen(fd) ? c.files().get(fd).path() : null;
            } catch (NumberFormatException e) {
                return null;
            }
        }
        return null;
    }
}
