package io.kvmserver.cli;

/**
 * The command line (or its configuration file) cannot be turned into a configuration, or the
 * user asked for {@code --help}. The message is meant for the user as is: it says what is wrong
 * and points at {@code --help}; for a help request it is the help text itself.
 */
public final class UsageException extends Exception {

    private static final long serialVersionUID = 1L;

    private final boolean helpRequested;

    private UsageException(String message, boolean helpRequested) {
        super(message);
        this.helpRequested = helpRequested;
    }

    /** A mistake of the user, explained by {@code problem}. */
    static UsageException of(String problem) {
        return new UsageException(problem + "\nRun 'kvmserver --help' to see the options.", false);
    }

    /** {@code -h}/{@code --help}: not an error, the caller prints the message and exits with 0. */
    static UsageException helpRequest() {
        return new UsageException(CommandLine.help(), true);
    }

    /**
     * True for {@code -h}/{@code --help}, where the message is the help text to print on
     * standard output with exit status 0; false for a real usage error (standard error, non-zero).
     */
    public boolean helpRequested() {
        return helpRequested;
    }
}
