package io.kvmserver.linux;

import io.kvmserver.host.SyscallNumbers;

import com.sun.jna.Memory;
import com.sun.jna.Pointer;
import io.kvmserver.host.LibC;
import java.util.ArrayList;
import java.util.List;

/**
 * The socket options set on one socket, in order, the last value of each: what a replica of the
 * socket in a request VM must be given again, and, for the shared listening socket, the values a
 * request VM set in its own view (never on the host socket every VM shares).
 */
final class SocketOptionLog {

    /** More distinct options than any real program sets; beyond it, values are not remembered. */
    private static final int MAX_ENTRIES = 64;

    private record Entry(int level, int name, byte[] value) {
    }

    private final List<Entry> entries = new ArrayList<>();

    void replaceWith(SocketOptionLog other) {
        entries.clear();
        entries.addAll(other.entries);
    }

    void record(int level, int name, byte[] value) {
        entries.removeIf(e -> e.level == level && e.name == name);
        if (entries.size() < MAX_ENTRIES) {
            entries.add(new Entry(level, name, value.clone()));
        }
    }

    /** The last value set for the option, or null. */
    byte[] valueOf(int level, int name) {
        for (Entry e : entries) {
            if (e.level == level && e.name == name) {
                return e.value;
            }
        }
        return null;
    }

    /**
     * Sets every recorded option on a host socket; an option the host refuses is left out, and so
     * is a lingering close, which the program only sees (see {@link SocketFile#setOption}).
     */
    void applyTo(int hostFd) {
        for (Entry e : entries) {
            if (e.level == SocketOptions.SOL_SOCKET && e.name == SocketFile.SO_LINGER && SocketFile.lingers(e.value)) {
                continue;
            }
            try (Memory value = new Memory(Math.max(1, e.value.length))) {
                value.write(0, e.value, 0, e.value.length);
                HostFile.call(() -> LibC.syscall(SyscallNumbers.SETSOCKOPT, hostFd, e.level, e.name,
                        Pointer.nativeValue(value), e.value.length, 0));
            }
        }
    }
}
