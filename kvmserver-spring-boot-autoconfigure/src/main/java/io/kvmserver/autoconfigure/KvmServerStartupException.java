package io.kvmserver.autoconfigure;

import java.util.List;

/**
 * The kvmserver could not start. The cause is the engine's exception; this adds what a failure
 * analysis needs and the engine does not know: the resolved program path and the last lines the
 * guest printed while it booted (where a server says why it could not listen).
 */
public class KvmServerStartupException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    private final String program;

    private final List<String> guestOutput;

    public KvmServerStartupException(String program, List<String> guestOutput, RuntimeException cause) {
        super("kvmserver could not start " + program + ": " + cause.getMessage(), cause);
        this.program = program;
        this.guestOutput = List.copyOf(guestOutput);
    }

    /** The host path of the program, as the engine was asked to run it. */
    public String getProgram() {
        return this.program;
    }

    /** The last lines of the guest's stdout and stderr before the failure, oldest first. */
    public List<String> getGuestOutput() {
        return this.guestOutput;
    }

}
