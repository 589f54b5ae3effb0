package io.kvmserver.host;

/**
 * A host system call the engine made for itself failed. Carries the errno so that callers can
 * react to specific failures (for example {@code EINTR}) without parsing text.
 */
public class HostCallException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    private final int errno;

    public HostCallException(String message, int errno) {
        super(errno == 0 ? message : message + ": " + LibC.describe(errno) + " (errno " + errno + ")");
        this.errno = errno;
    }

    public HostCallException(String message) {
        this(message, 0);
    }

    /** The host errno of the failed call, or 0 when the failure was not a failed call. */
    public int errno() {
        return errno;
    }
}
