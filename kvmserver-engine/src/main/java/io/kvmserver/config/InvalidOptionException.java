package io.kvmserver.config;

import java.util.Objects;
import java.util.Optional;

/**
 * A setting has a value the server cannot run with. The message is for the user as is: it
 * names the setting in their vocabulary ({@link OptionNaming}) and says what is wrong.
 */
public final class InvalidOptionException extends IllegalArgumentException {

    private static final long serialVersionUID = 1L;

    private final transient Option option;

    private final String settingName;

    public InvalidOptionException(Option option, String message) {
        this(option, null, message, null);
    }

    public InvalidOptionException(Option option, String message, Throwable cause) {
        this(option, null, message, cause);
    }

    /**
     * @param settingName the setting as the message names it ({@code kvmserver.servers.render.threads}),
     *     when its users' naming is not the catalog's own
     */
    public InvalidOptionException(Option option, String settingName, String message, Throwable cause) {
        super(message, cause);
        this.option = Objects.requireNonNull(option, "option");
        this.settingName = settingName;
    }

    /** The setting to change. */
    public Option option() {
        return option;
    }

    /** The setting's name as the message gives it, when the configuration's naming supplied one. */
    public Optional<String> settingName() {
        return Optional.ofNullable(settingName);
    }
}
