package io.kvmserver.linux;

/** The template's state cannot be frozen as it is (see {@link FrozenBytes}); the message says what to change. */
public final class FrozenStateException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    FrozenStateException(String message) {
        super(message);
    }
}
