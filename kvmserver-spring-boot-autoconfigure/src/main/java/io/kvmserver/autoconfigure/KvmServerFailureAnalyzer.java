package io.kvmserver.autoconfigure;

import io.kvmserver.autoconfigure.GuestFiles.ProgramResourceNotFoundException;
import io.kvmserver.elf.ElfException;
import io.kvmserver.kvm.KvmUnavailableException;
import io.kvmserver.server.KvmServerException;
import io.kvmserver.vm.RunResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import org.springframework.boot.diagnostics.AbstractFailureAnalyzer;
import org.springframework.boot.diagnostics.FailureAnalysis;

/**
 * Explains why the kvmserver did not start, for the failures a new user meets first: no usable
 * {@code /dev/kvm}, a program that is missing or not an x86-64 Linux executable, and a program
 * that ended or hung before it waited for connections, most often because it could not listen.
 *
 * <p>The engine reports a failed listen as what it is to the program, an error from
 * {@code bind}, after which servers exit. The analysis therefore reads the program's last
 * output lines for the standard error texts ({@code Permission denied},
 * {@code Address already in use}) to tell a denied address from one in use.
 */
class KvmServerFailureAnalyzer extends AbstractFailureAnalyzer<KvmServerStartupException> {

    @Override
    protected FailureAnalysis analyze(Throwable rootFailure, KvmServerStartupException cause) {
        Throwable engineFailure = cause.getCause();
        if (engineFailure instanceof KvmUnavailableException) {
            return new FailureAnalysis("kvmserver needs KVM, but " + engineFailure.getMessage(),
                    "Make /dev/kvm usable by the user running the application: add the user to the 'kvm' group"
                            + " (sudo usermod -aG kvm $USER, then log in again). In a container, pass the device"
                            + " and its group: docker run --device /dev/kvm --group-add $(getent group kvm | cut -d: -f3)"
                            + " (podman: --device /dev/kvm --group-add keep-groups). On a machine without KVM, set"
                            + " kvmserver.enabled=false.",
                    cause);
        }
        if (engineFailure instanceof ElfException || engineFailure instanceof ProgramResourceNotFoundException) {
            return analyzeProgram(cause, engineFailure);
        }
        if (engineFailure instanceof KvmServerException serverFailure && serverFailure.result() != null) {
            return analyzeBoot(cause, serverFailure);
        }
        return null;
    }

    private FailureAnalysis analyzeProgram(KvmServerStartupException cause, Throwable engineFailure) {
        String program = cause.getProgram();
        boolean missing = engineFailure instanceof ProgramResourceNotFoundException
                || (program != null && !Files.exists(Path.of(program)));
        if (missing) {
            return new FailureAnalysis("The kvmserver program " + program + " was not found: "
                    + engineFailure.getMessage(),
                    "Set kvmserver.program to an existing executable: an absolute path, a path relative to the"
                            + " application's working directory, or a classpath: resource.",
                    cause);
        }
        return new FailureAnalysis("The kvmserver program " + program + " cannot be run: " + engineFailure.getMessage(),
                "kvmserver runs x86-64 Linux ELF executables. For a script, set kvmserver.program to its interpreter"
                        + " (for example /usr/bin/python3) and pass the script in kvmserver.args.",
                cause);
    }

    private FailureAnalysis analyzeBoot(KvmServerStartupException cause, KvmServerException failure) {
        String output = guestOutput(cause.getGuestOutput());
        RunResult.Kind kind = failure.result().kind();
        if (kind == RunResult.Kind.TIMED_OUT) {
            return new FailureAnalysis(failure.getMessage() + output,
                    "Raise kvmserver.limits.max-boot-time if the program needs longer to start. A server that never"
                            + " waits for connections on a listening socket (for example one that waits for"
                            + " something else first) cannot be served by kvmserver.",
                    cause);
        }
        String text = String.join("\n", cause.getGuestOutput()).toLowerCase(Locale.ROOT);
        if (text.contains("address already in use") || text.contains("eaddrinuse")) {
            return new FailureAnalysis("The kvmserver program could not listen: its address is already in use."
                    + output,
                    "Stop the process that uses the address (ss -ltnp shows it), or configure the program (through"
                            + " kvmserver.args) to listen on another port, and allow that port in"
                            + " kvmserver.permissions.allow-listen.",
                    cause);
        }
        if (text.contains("permission denied") || text.contains("eacces")) {
            return new FailureAnalysis("The kvmserver program was denied an operation it needs to start, most"
                    + " likely listening on its address, which kvmserver only allows when"
                    + " kvmserver.permissions.allow-listen or allow-net permits it." + output,
                    "Add the address the program listens on to kvmserver.permissions.allow-listen, for example"
                            + " '127.0.0.1:8000'. If it was a file that was denied, add its directory to"
                            + " kvmserver.permissions.allow-read or allow-write.",
                    cause);
        }
        return new FailureAnalysis(failure.getMessage() + output,
                "kvmserver serves programs that listen and wait for connections. Check the program's output above;"
                        + " a server needs kvmserver.permissions.allow-listen for its address, and a dynamically"
                        + " linked program needs kvmserver.permissions.allow-read for its libraries.",
                cause);
    }

    private static String guestOutput(List<String> lines) {
        if (lines.isEmpty()) {
            return "";
        }
        return "\n\nLast output of the program:\n    " + String.join("\n    ", lines);
    }

}
