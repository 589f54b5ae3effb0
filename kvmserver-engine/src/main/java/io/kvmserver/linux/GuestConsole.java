package io.kvmserver.linux;

import com.sun.jna.LastErrorException;
import io.kvmserver.host.LibC;

/** Where the guest's stdout (stream 1) and stderr (stream 2) go. */
@FunctionalInterface
public interface GuestConsole {

    /** Writes {@code length} bytes at a host address; returns the count or {@code -errno}. */
    long write(int stream, long hostAddress, long length);

    /**
     * Everything written so far is complete: a console that holds a line until its newline passes
     * it on as it is. Called after the output of a request (a request VM's connection ended) and
     * when the program or the server stops, in order with the writes before it; a console that
     * holds nothing has nothing to do.
     */
    default void endOfOutput() {
    }

    /** Passes output straight to this process's own fd 1 and 2, without copying. */
    static GuestConsole inherit() {
        return (stream, address, length) -> {
            try {
                return LibC.write(stream, address, length);
            } catch (LastErrorException e) {
                return -e.getErrorCode();
            }
        };
    }
}
