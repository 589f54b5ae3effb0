package io.kvmserver.linux;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Reads {@code /proc/self/fdinfo/N} of one of the engine's own host fds: the kernel's account of
 * an eventfd's counter or a timerfd's pending expirations, read without consuming them.
 */
final class FdInfo {

    private FdInfo() {
    }

    /** The value of field {@code name} (such as {@code eventfd-count}), parsed in {@code radix}; -1 if absent. */
    static long field(int hostFd, String name, int radix) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/fdinfo/" + hostFd))) {
                if (line.startsWith(name + ":")) {
                    return Long.parseUnsignedLong(line.substring(name.length() + 1).trim(), radix);
                }
            }
        } catch (IOException | NumberFormatException e) {
            return -1;
        }
        return -1;
    }
}
