package io.kvmserver.linux;

/**
 * Thrown inside a handler to return {@code -errno} to the guest. It has no stack trace: it is
 * control flow for the guest's benefit, not a host error.
 */
public final class SyscallError extends RuntimeException {

    private static final long serialVersionUID = 1L;

    private final int errno;

    public SyscallError(int errno) {
        super(null, null, false, false);
        this.errno = errno;
    }

    public int errno() {
        return errno;
    }

    @Override
    public String getMessage() {
        return "errno " + errno;
    }
}
