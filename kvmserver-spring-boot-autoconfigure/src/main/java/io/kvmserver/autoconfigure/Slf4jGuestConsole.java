package io.kvmserver.autoconfigure;

import com.sun.jna.Pointer;
import io.kvmserver.linux.GuestConsole;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Routes the guest's stdout and stderr to the {@code kvmserver.guest} logger, one log event per
 * line: stdout at INFO, stderr at WARN. The output of all VMs of the server goes through one
 * buffer per stream, so lines written at the same moment by two request VMs may interleave.
 * Output that does not end in a newline is held until the next newline (or 8 KiB).
 */
public class Slf4jGuestConsole implements GuestConsole {

    /** The logger name, so that users can set {@code logging.level.kvmserver.guest}. */
    public static final String LOGGER_NAME = "kvmserver.guest";

    private static final int MAX_LINE = 8192;

    private final Logger logger;

    private final ByteArrayOutputStream stdout = new ByteArrayOutputStream();

    private final ByteArrayOutputStream stderr = new ByteArrayOutputStream();

    public Slf4jGuestConsole() {
        this(LoggerFactory.getLogger(LOGGER_NAME));
    }

    Slf4jGuestConsole(Logger logger) {
        this.logger = logger;
    }

    @Override
    public long write(int stream, long hostAddress, long length) {
        byte[] bytes = new Pointer(hostAddress).getByteArray(0, (int) length);
        ByteArrayOutputStream buffer = (stream == 2) ? this.stderr : this.stdout;
        synchronized (buffer) {
            for (byte b : bytes) {
                if (b == '\n') {
                    emit(stream, buffer);
                }
                else {
                    buffer.write(b);
                    if (buffer.size() >= MAX_LINE) {
                        emit(stream, buffer);
                    }
                }
            }
        }
        return length;
    }

    private void emit(int stream, ByteArrayOutputStream buffer) {
        String line = buffer.toString(StandardCharsets.UTF_8);
        buffer.reset();
        if (stream == 2) {
            this.logger.warn(line);
        }
        else {
            this.logger.info(line);
        }
    }

}
