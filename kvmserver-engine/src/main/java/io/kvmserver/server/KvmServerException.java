package io.kvmserver.server;

import io.kvmserver.vm.RunResult;

/**
 * The server could not start: the program ended, crashed or took too long before it waited for
 * connections, or its listening address was refused. The message says which, and what to do.
 */
public final class KvmServerException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    private final transient RunResult result;

    public KvmServerException(String message, RunResult result) {
        super(message);
        this.result = result;
    }

    /** How the template's run ended, when that is the reason; otherwise null. */
    public RunResult result() {
        return result;
    }
}
