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

    public KvmServerException(String message, RunResult result) {
        super(message);
        this.result = result;
        this.denials = List.of();
    }

    /** A failed boot, with what the program was denied while it booted. */
    public KvmServerException(String message, RunResult result, Denials denials) {
        super(message + denials.summary());
        this.result = result;
        this.denials = denials.first();
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
