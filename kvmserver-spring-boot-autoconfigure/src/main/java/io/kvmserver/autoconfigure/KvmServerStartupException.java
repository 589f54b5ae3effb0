package io.kvmserver.autoconfigure;

import java.util.List;

/**
 * The kvmserver could not start. The cause is the engine's exception; this adds what a failure
 * analysis needs and the engine does not know: the resolved program path and the last lines the
 * guest printed while it booted (where a server says why it could not listen).
 */
public class KvmServerStartupException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    private final ServerNaming naming;

    private final String program;

    private final List<String> guestOutput;

    private final String routeAddress;

    public KvmServerStartupException(String program, List<String> guestOutput, RuntimeException cause) {
        this(ServerNaming.DEFAULT, program, "", guestOutput, cause);
    }

    /**
     * @param naming the server, and how its properties are named
     * @param program the host path of the program
     * @param routeAddress the route address the program should listen on, or empty
     * @param guestOutput the last lines the guest printed
     * @param cause the engine's exception
     */
    public KvmServerStartupException(ServerNaming naming, String program, String routeAddress,
            List<String> guestOutput, RuntimeException cause) {
        super("kvmserver " + (naming.isDefault() ? "" : naming.name() + " ") + "could not start " + program + ": "
                + cause.getMessage(), cause);
        this.naming = naming;
        this.program = program;
        this.routeAddress = routeAddress;
        this.guestOutput = List.copyOf(guestOutput);
    }

    /** The route address the program was to listen on, or empty when it listens on the network. */
    public String getRouteAddress() {
        return this.routeAddress;
    }

    /** The server that could not start, and how its properties are named. */
    public ServerNaming getNaming() {
        return this.naming;
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
