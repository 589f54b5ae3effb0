package io.kvmserver.autoconfigure;

import io.kvmserver.linux.GuestConsole;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.event.Level;
import org.springframework.boot.logging.LogLevel;

/**
 * Routes the guest's standard output and standard error to SLF4J, one log event per line, each
 * stream on its own logger ({@value #STDOUT_LOGGER}, {@value #STDERR_LOGGER}) at its own level
 * ({@code kvmserver.output.stdout-level} and {@code stderr-level}, INFO by default: servers write
 * access logs to stderr, which are not warnings). The output of all VMs of the server goes
 * through one line buffer per stream, so lines written at the same moment by two request VMs
 * may interleave. A line longer than 8 KiB is logged in pieces; output that does not end in a
 * newline is held until the next one, or until the output ends ({@link #endOfOutput}: the end of
 * a request, the program's or the server's stop), when it is logged as it is.
 */
public class Slf4jGuestConsole implements GuestConsole {

    /** The logger of the guest's standard output. */
    public static final String STDOUT_LOGGER = "kvmserver.guest.stdout";

    /** The logger of the guest's standard error. */
    public static final String STDERR_LOGGER = "kvmserver.guest.stderr";

    private static final int MAX_LINE = 8192;

    private final Stream stdout;

    private final Stream stderr;

    /** Both streams at INFO. */
    public Slf4jGuestConsole() {
        this(LogLevel.INFO, LogLevel.INFO);
    }

    public Slf4jGuestConsole(LogLevel stdoutLevel, LogLevel stderrLevel) {
        this.stdout = new Stream(LoggerFactory.getLogger(STDOUT_LOGGER), stdoutLevel);
        this.stderr = new Stream(LoggerFactory.getLogger(STDERR_LOGGER), stderrLevel);
    }

    /**
     * The console of a named server: its streams on loggers of their own below the default
     * server's, {@code kvmserver.guest.stdout.<server>} and {@code kvmserver.guest.stderr.<server>},
     * so that one logging level can cover every server's stream.
     */
    public Slf4jGuestConsole(String server, LogLevel stdoutLevel, LogLevel stderrLevel) {
        this.stdout = new Stream(LoggerFactory.getLogger(STDOUT_LOGGER + "." + server), stdoutLevel);
        this.stderr = new Stream(LoggerFactory.getLogger(STDERR_LOGGER + "." + server), stderrLevel);
    }

    @Override
    public long write(int stream, long hostAddress, long length) {
        ((stream == 2) ? this.stderr : this.stdout).write(hostAddress, length);
        return length;
    }

    @Override
    public void endOfOutput() {
        this.stdout.endOfOutput();
        this.stderr.endOfOutput();
    }

    /** One stream: its logger, its level and its line buffer. */
    private static final class Stream {

        private final Logger logger;

        private final Level level;

        private final GuestLines lines;

        Stream(Logger logger, LogLevel level) {
            this.logger = logger;
            this.level = slf4j(level);
            this.lines = new GuestLines(MAX_LINE, false, this::log);
        }

        synchronized void write(long hostAddress, long length) {
            if (this.level != null && this.logger.isEnabledForLevel(this.level)) {
                this.lines.write(hostAddress, length);
            }
        }

        synchronized void endOfOutput() {
            this.lines.endOfOutput();
        }

        private void log(String line) {
            this.logger.atLevel(this.level).log(line);
        }

        private static Level slf4j(LogLevel level) {
            return switch (level) {
                case TRACE -> Level.TRACE;
                case DEBUG -> Level.DEBUG;
                case INFO -> Level.INFO;
                case WARN -> Level.WARN;
                case ERROR, FATAL -> Level.ERROR;
                case OFF -> null;
            };
        }

    }

}
