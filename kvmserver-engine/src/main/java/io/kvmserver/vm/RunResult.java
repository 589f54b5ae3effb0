package io.kvmserver.vm;

/**
 * How a run of the guest ended.
 *
 * @param kind       what happened
 * @param exitStatus the program's exit status ({@link Kind#EXITED})
 * @param signal     the Linux signal the program would have died of ({@link Kind#CRASHED})
 * @param detail     a one-line description for users: the fault, its address and RIP
 */
public record RunResult(Kind kind, int exitStatus, int signal, String detail) {

    /** The ways a run ends. */
    public enum Kind {
        /** The program called exit or exit_group. */
        EXITED,
        /** The program faulted, or killed itself with a signal. */
        CRASHED,
        /** The run went past its deadline and was stopped from another thread. */
        TIMED_OUT,
        /** The program blocked waiting for a connection on its listening socket. */
        WAITING,
        /** The program closed the connection of its request (ephemeral mode). */
        REQUEST_DONE,
        /** The request dirtied more memory than allowed. */
        MEMORY_LIMIT,
        /** The VM was stopped because the server shuts down. */
        STOPPED
    }

    public static RunResult exited(int status) {
        return new RunResult(Kind.EXITED, status, 0, "exited with status " + status);
    }

    public static RunResult crashed(int signal, String detail) {
        return new RunResult(Kind.CRASHED, 128 + signal, signal, detail);
    }

    public static RunResult of(Kind kind, String detail) {
        return new RunResult(kind, kind == Kind.TIMED_OUT ? 124 : 0, 0, detail);
    }

    public static RunResult timedOut(String detail) {
        return new RunResult(Kind.TIMED_OUT, 124, 0, detail);
    }

    /** The status a shell would report: the exit status, or 128 + signal. */
    public int shellStatus() {
        return exitStatus;
    }
}
