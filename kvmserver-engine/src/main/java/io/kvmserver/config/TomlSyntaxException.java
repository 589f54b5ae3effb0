package io.kvmserver.config;

/**
 * A configuration file that is not valid in the TOML subset kvmserver reads. The message
 * starts with {@code file:line:} so that an editor or a human can jump to the mistake.
 */
public final class TomlSyntaxException extends IllegalArgumentException {

    private final int line;

    TomlSyntaxException(String sourceName, int line, String problem) {
        super(sourceName + ":" + line + ": " + problem);
        this.line = line;
    }

    /** The 1-based line of the mistake. */
    public int line() {
        return line;
    }
}
