package io.kvmserver.server;

import io.kvmserver.linux.Denials;
import io.kvmserver.vm.RunResult;
import java.util.List;

/**
 * The server could not start: the program ended, crashed or took too long before it waited for
 * connections, or its listening address was refused. The message says which, and what to do,
 * followed by the first operations the program was denied, which often explain the failure.
 */
public final class KvmServerException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    private final transient RunResult result;

    private final transient List<Denials.Denial> denials;

    private final String problem;

    private final String action;

    public KvmServerException(String message, RunResult result) {
        super(message);
        this.result = result;
        this.denials = List.of();
        this.problem = message;
        this.action = null;
    }

    /**
     * A start the host cannot carry (its limits, not the program), with what to change: the
     * message is both, for a reader of the log; {@link #action()} is the second part alone.
     */
    public KvmServerException(String problem, String action) {
        super(problem + ": " + action);
        this.result = null;
        this.denials = List.of();
        this.problem = problem;
        this.action = action;
    }

    /** A failed boot, with what the program was denied while it booted. */
    public KvmServerException(String message, RunResult result, Denials denials) {
        super(message + denials.summary());
        this.result = result;
        this.denials = denials.first();
        this.problem = getMessage();
        this.action = null;
    }

    /** What went wrong, without {@link #action()}. */
    public String problem() {
        return problem;
    }

    /** What to change, for a start the host cannot carry; otherwise null. */
    public String action() {
        return action;
    }

    /** How the template's run ended, when that is the reason; otherwise null. */
    public RunResult result() {
        return result;
    }

    /** The first operations the program was denied before it failed, oldest first. */
    public List<Denials.Denial> denials() {
        return denials;
    }
}
