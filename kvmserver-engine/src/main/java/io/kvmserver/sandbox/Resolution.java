package io.kvmserver.sandbox;

import java.nio.charset.StandardCharsets;

/**
 * The answer of {@link FileSystemPolicy} for one guest path.
 *
 * <ul>
 *   <li>{@link Kind#ALLOWED}: act on {@link #name()} inside the directory {@link #directoryFd()}
 *       with the {@code *at} system calls, never following a symlink there ({@code O_NOFOLLOW},
 *       {@code AT_SYMLINK_NOFOLLOW}). The resolution holds that directory open, so a rename
 *       by anyone after the check cannot move the operation elsewhere; close it when done.</li>
 *   <li>{@link Kind#DENIED}: fail the system call with {@code -}{@link #errno()};
 *       {@link #byPolicy()} tells a refusal of the permissions from a file that is simply
 *       missing, so that only the first counts as a denial.</li>
 *   <li>{@link Kind#VIRTUAL}: a {@code /proc/self/...} file that describes the guest and not the
 *       JVM; answer it with a stand-in named by {@link #virtualName()} (such as {@code maps},
 *       {@code fd/3}, or {@code ""} for {@code /proc/self} itself).</li>
 * </ul>
 */
public final class Resolution implements AutoCloseable {

    /** The three kinds of answer. */
    public enum Kind {
        ALLOWED, DENIED, VIRTUAL
    }

    private final Kind kind;
    private final int errno;
    private final boolean byPolicy;
    private final HostWalk.Result location;
    private final String guestPath;
    private final String virtualName;
    private boolean namesDirectory;
    private boolean closed;

    private Resolution(Kind kind, int errno, boolean byPolicy, HostWalk.Result location, String guestPath,
            String virtualName) {
        this.kind = kind;
        this.errno = errno;
        this.byPolicy = byPolicy;
        this.location = location;
        this.guestPath = guestPath;
        this.virtualName = virtualName;
    }

    static Resolution allowed(HostWalk.Result location, String guestPath, boolean namesDirectory) {
        Resolution allowed = new Resolution(Kind.ALLOWED, 0, false, location, guestPath, null);
        allowed.namesDirectory = namesDirectory;
        return allowed;
    }

    /** Refused by the permissions (the guest cannot tell it from a missing file). */
    static Resolution refused(int errno) {
        return new Resolution(Kind.DENIED, errno, true, null, null, null);
    }

    /** Failed for a reason of the host's own: missing, not a directory, too many links. */
    static Resolution failed(int errno) {
        return new Resolution(Kind.DENIED, errno, false, null, null, null);
    }

    static Resolution virtual(String virtualName, String guestPath) {
        return new Resolution(Kind.VIRTUAL, 0, false, null, guestPath, virtualName);
    }

    public Kind kind() {
        return kind;
    }

    public boolean isAllowed() {
        return kind == Kind.ALLOWED;
    }

    public boolean isVirtual() {
        return kind == Kind.VIRTUAL;
    }

    /** The positive Linux errno when denied, otherwise 0. */
    public int errno() {
        return errno;
    }

    /** Whether a denial came from the permissions rather than from the host file system. */
    public boolean byPolicy() {
        return byPolicy;
    }

    /** The directory that holds {@link #name()}, as an {@code O_PATH} descriptor (allowed only). */
    public int directoryFd() {
        requireAllowed();
        return location.parentFd();
    }

    /** The last component, a single name inside {@link #directoryFd()} ({@code "."} for a directory itself). */
    public String name() {
        requireAllowed();
        return location.name();
    }

    /** {@link #name()} as a NUL-terminated byte string for the host call. */
    public byte[] nameBytes() {
        return (name() + "\0").getBytes(StandardCharsets.UTF_8);
    }

    /** The resolved host path (for messages and for checks; never to act on). */
    public String hostPath() {
        return location == null ? null : location.path().toString();
    }

    /**
     * Whether the guest's path named a directory by its form (a trailing slash, a last {@code .}):
     * what it names exists as a directory or not at all, and a file created there would be
     * {@code EISDIR}.
     */
    public boolean namesDirectory() {
        return namesDirectory;
    }

    /** Whether the last component exists (a create or a mkdir may find it missing). */
    public boolean exists() {
        return location != null && location.exists();
    }

    /** {@code st_mode} of the last component when it exists, as the walk saw it. */
    public int fileMode() {
        return location == null ? 0 : location.mode();
    }

    /** The lexically normalized absolute guest path; null when denied. */
    public String guestPath() {
        return guestPath;
    }

    /** The part after {@code /proc/self/} when virtual, otherwise null. */
    public String virtualName() {
        return virtualName;
    }

    private void requireAllowed() {
        if (kind != Kind.ALLOWED || closed) {
            throw new IllegalStateException(closed ? "resolution already closed" : kind + " resolution has no location");
        }
    }

    @Override
    public void close() {
        if (!closed && location != null && location.parentFd() >= 0) {
            HostWalk.close(location.parentFd());
        }
        closed = true;
    }

    @Override
    public String toString() {
        return switch (kind) {
            case ALLOWED -> "allowed " + guestPath + " -> " + hostPath() + (exists() ? "" : " (missing)");
            case DENIED -> "denied errno=" + errno + (byPolicy ? " by policy" : "");
            case VIRTUAL -> "virtual " + virtualName;
        };
    }
}
