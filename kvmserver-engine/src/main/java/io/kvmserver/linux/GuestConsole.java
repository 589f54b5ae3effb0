package io.kvmserver.linux;

import com.sun.jna.LastErrorException;
import io.kvmserver.host.LibC;

/** Where the guest's stdout (stream 1) and stderr (stream 2) go. */
@FunctionalInterface
public interface GuestConsole {

    /** Writes {@code length} bytes at a host address; returns the count or {@code -errno}. */
    long write(int stream, long hostAddress, long length);

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
