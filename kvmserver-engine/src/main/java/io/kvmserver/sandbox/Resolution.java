package io.kvmserver.sandbox;

import java.util.Objects;

/**
 * The answer of {@link FileSystemPolicy} for one guest path.
 *
 * <ul>
 *   <li>{@link Kind#ALLOWED}: open {@link #hostPath()}, the fully resolved host path (no symlink
 *       in any component), with {@code O_NOFOLLOW} so that a link created after the check is
 *       not followed either;</li>
 *   <li>{@link Kind#DENIED}: fail the system call with {@code -}{@link #errno()};</li>
 *   <li>{@link Kind#VIRTUAL}: a {@code /proc/self/...} file that describes the guest and not the
 *       JVM; answer it with a stand-in named by {@link #virtualName()} (such as {@code maps},
 *       {@code fd/3}, or {@code ""} for {@code /proc/self} itself).</li>
 * </ul>
 *
 * @param kind which of the three answers this is
 * @param errno the positive Linux errno when denied, otherwise 0
 * @param hostPath the resolved host path when allowed, otherwise null
 * @param guestPath the lexically normalized absolute guest path, null when denied
 * @param virtualName the part after {@code /proc/self/} when virtual, otherwise null
 */
public record Resolution(Kind kind, int errno, String hostPath, String guestPath, String virtualName) {

    /** The three kinds of answer. */
    public enum Kind {
        ALLOWED, DENIED, VIRTUAL
    }

    /** Checks that exactly the fields of the kind are set. */
    public Resolution {
        Objects.requireNonNull(kind, "kind");
        boolean consistent = switch (kind) {
            case ALLOWED -> errno == 0 && hostPath != null && guestPath != null && virtualName == null;
            case DENIED -> errno > 0 && hostPath == null && guestPath == null && virtualName == null;
            case VIRTUAL -> errno == 0 && hostPath == null && guestPath != null && virtualName != null;
        };
        if (!consistent) {
            throw new IllegalArgumentException("inconsistent " + kind + " resolution: errno=" + errno
                    + ", hostPath=" + hostPath + ", guestPath=" + guestPath + ", virtualName=" + virtualName);
        }
    }

    public static Resolution allowed(String hostPath, String guestPath) {
        return new Resolution(Kind.ALLOWED, 0, hostPath, guestPath, null);
    }

    public static Resolution denied(int errno) {
        return new Resolution(Kind.DENIED, errno, null, null, null);
    }

    public static Resolution virtual(String virtualName, String guestPath) {
        return new Resolution(Kind.VIRTUAL, 0, null, guestPath, virtualName);
    }

    public boolean isAllowed() {
        return kind == Kind.ALLOWED;
    }
}
