package io.kvmserver.config;

import java.util.Objects;

/**
 * A setting has a value the server cannot run with. The message is for the user as is: it
 * names the setting in their vocabulary ({@link OptionNaming}) and says what is wrong.
 */
public final class InvalidOptionException extends IllegalArgumentException {

    private static final long serialVersionUID = 1L;

    private final transient Option option;

    public InvalidOptionException(Option option, String message) {
        super(message);
        this.option = Objects.requireNonNull(option, "option");
    }

    public InvalidOptionException(Option option, String message, Throwable cause) {
        super(message, cause);
        this.option = Objects.requireNonNull(option, "option");
    }

    /** The setting to change. */
    public Option option() {
        return option;
    }
}
