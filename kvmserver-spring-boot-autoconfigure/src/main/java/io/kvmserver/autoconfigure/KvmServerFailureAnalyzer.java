package io.kvmserver.autoconfigure;

import io.kvmserver.autoconfigure.GuestFiles.ProgramResourceNotFoundException;
import io.kvmserver.config.Option;
import io.kvmserver.elf.ElfException;
import io.kvmserver.host.HostCallException;
import io.kvmserver.kvm.KvmException;
import io.kvmserver.kvm.KvmUnavailableException;
import io.kvmserver.linux.Denials;
import io.kvmserver.server.KvmServerException;
import io.kvmserver.vm.RunResult;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.stream.Collectors;
import org.springframework.boot.diagnostics.AbstractFailureAnalyzer;
import org.springframework.boot.diagnostics.FailureAnalysis;

/**
 * Explains why the kvmserver did not start, with an action for each failure: no usable
 * {@code /dev/kvm}, a program that is missing, not an x86-64 Linux executable or too large for
 * its limits, a program that ended or hung before it waited for connections (with what it was
 * denied, which usually says why), an address in use, and anything else the engine reports.
 *
 * <p>Denied listens and reads come from the engine's record of denials; an address in use is
 * recognised from the program's error output ({@code Address already in use}), since it is the
 * host's answer, not a denial.
 */
class KvmServerFailureAnalyzer extends AbstractFailureAnalyzer<KvmServerStartupException> {

    @Override
    protected FailureAnalysis analyze(Throwable rootFailure, KvmServerStartupException cause) {
        Throwable engineFailure = cause.getCause();
        ServerNaming naming = cause.getNaming();
        if (engineFailure instanceof KvmUnavailableException) {
            return new FailureAnalysis("kvmserver needs KVM, but " + engineFailure.getMessage(),
                    "Make /dev/kvm usable by the user running the application: add the user to the 'kvm' group"
                            + " (sudo usermod -aG kvm $USER, then log in again). In a container, pass the device"
                            + " and its group: docker run --device /dev/kvm --group-add $(getent group kvm | cut -d: -f3)"
                            + " (podman: --device /dev/kvm --group-add keep-groups); on Kubernetes see"
                            + " docs/kubernetes.md. On a machine without KVM, set kvmserver.enabled=false.",
                    cause);
        }
        if (engineFailure instanceof KvmException) {
            return new FailureAnalysis("KVM refused an operation kvmserver needs: " + engineFailure.getMessage(),
                    "kvmserver needs an x86-64 host whose KVM supports the features it uses; on a nested VM, check"
                            + " that the outer hypervisor exposes them. Start with kvmserver.verbose=true for details.",
                    cause);
        }
        if (engineFailure instanceof HostCallException) {
            return new FailureAnalysis("The host refused kvmserver a resource it needs: " + engineFailure.getMessage(),
                    "Each VM maps " + naming.nameOf(Option.MAX_ADDRESS_SPACE) + " of host address space (memory is"
                            + " allocated only as it is used): check the host's memory overcommit settings and"
                            + " limits (ulimit -v, the container's memory limit), or lower "
                            + naming.nameOf(Option.MAX_ADDRESS_SPACE) + ", " + naming.nameOf(Option.MAX_MAIN_MEMORY)
                            + " or " + naming.nameOf(Option.THREADS) + ".", cause);
        }
        if (engineFailure instanceof ElfException elf && !elf.limitsToRaise().isEmpty()) {
            return new FailureAnalysis("The kvmserver program " + cause.getProgram() + " does not fit in its guest"
                    + " memory: " + engineFailure.getMessage(), "Raise " + elf.limitsToRaise()
                        .stream()
                        .map(naming::nameOf)
                        .collect(Collectors.joining(" or ")) + ".", cause);
        }
        if (engineFailure instanceof ElfException || engineFailure instanceof ProgramResourceNotFoundException) {
            return analyzeProgram(cause, engineFailure);
        }
        if (engineFailure instanceof KvmServerException serverFailure && serverFailure.result() != null) {
            return analyzeBoot(cause, serverFailure);
        }
        if (engineFailure instanceof KvmServerException hostLimit && hostLimit.action() != null) {
            String action = hostLimit.action();
            return new FailureAnalysis("kvmserver could not start " + cause.getProgram() + ": " + hostLimit.problem(),
                    Character.toUpperCase(action.charAt(0)) + action.substring(1) + ".", cause);
        }
        if (engineFailure instanceof UncheckedIOException) {
            return new FailureAnalysis("kvmserver could not prepare " + cause.getProgram() + ": "
                    + engineFailure.getMessage(), "kvmserver extracts classpath: programs and arguments to the"
                            + " temporary directory (java.io.tmpdir): make it writable and executable, or set "
                            + naming.nameOf(Option.PROGRAM) + " to a file on disk.", cause);
        }
        if (engineFailure instanceof IllegalArgumentException) {
            return new FailureAnalysis("kvmserver could not start " + cause.getProgram() + ": "
                    + engineFailure.getMessage(), "Correct the property named above.", cause);
        }
        return new FailureAnalysis("kvmserver could not start " + cause.getProgram() + ": " + engineFailure,
                "This is unexpected. Start with kvmserver.verbose=true and logging.level.io.kvmserver=debug, and"
                        + " report the log with the exception.", cause);
    }

    private FailureAnalysis analyzeProgram(KvmServerStartupException cause, Throwable engineFailure) {
        String program = cause.getProgram();
        String property = cause.getNaming().nameOf(Option.PROGRAM);
        boolean missing = engineFailure instanceof ProgramResourceNotFoundException
                || (program != null && !Files.exists(Path.of(program)));
        if (missing) {
            return new FailureAnalysis("The kvmserver program " + program + " was not found: "
                    + engineFailure.getMessage(),
                    "Set " + property + " to an existing executable: an absolute path, a path relative to the"
                            + " application's working directory, or a classpath: resource.",
                    cause);
        }
        String message = engineFailure.getMessage();
        if (message.contains("is not executable: it has no execute permission")) {
            return new FailureAnalysis("The kvmserver program " + program + " cannot be run: " + message,
                    "Make the file executable (chmod +x), as any Linux system requires of a program it runs.", cause);
        }
        if (message.contains("dynamic loader") && message.contains("does not exist on this host")) {
            return new FailureAnalysis("The kvmserver program " + program + " cannot be run: " + message,
                    "Link the program statically (gcc -static, CGO_ENABLED=0 for Go), or build it on a system with"
                            + " this host's C library, so that the loader it names is there.", cause);
        }
        if (message.contains("as its dynamic loader, which is neither in a system library directory")) {
            return new FailureAnalysis("The kvmserver program " + program + " cannot be run: " + message,
                    "Add the loader's path to " + cause.getNaming().nameOf(Option.ALLOW_READ) + " if the program may"
                            + " read it, or link the program with the system's loader"
                            + " (-Wl,--dynamic-linker=/lib64/ld-linux-x86-64.so.2).", cause);
        }
        if (message.contains("is not a regular file")) {
            return new FailureAnalysis("The kvmserver program " + program + " cannot be run: " + message,
                    "Set " + property + " to the executable file itself.", cause);
        }
        if (!looksLikeScript(program)) {
            return new FailureAnalysis("The kvmserver program " + program + " cannot be run: " + message,
                    "kvmserver runs x86-64 Linux ELF executables: build the program for x86-64 Linux (file(1) says"
                            + " what the file is), or set " + property + " to one.",
                    cause);
        }
        return new FailureAnalysis("The kvmserver program " + program + " cannot be run: " + message,
                "kvmserver runs x86-64 Linux ELF executables. For a script, set " + property + " to its interpreter"
                        + " (for example /usr/bin/python3) and pass the script in "
                        + cause.getNaming().nameOf(Option.ARGS) + ".",
                cause);
    }

    /** Whether the file starts with "#!" or holds text only in its first bytes: a script, not a binary. */
    private static boolean looksLikeScript(String program) {
        if (program == null) {
            return false;
        }
        byte[] head = new byte[256];
        int n;
        try (InputStream in = Files.newInputStream(Path.of(program))) {
            n = in.readNBytes(head, 0, head.length);
        } catch (IOException | RuntimeException e) {
            return false;
        }
        if (n >= 2 && head[0] == '#' && head[1] == '!') {
            return true;
        }
        for (int i = 0; i < n; i++) {
            int b = head[i] & 0xff;
            if (b < 0x09 || (b > 0x0d && b < 0x20 && b != 0x1b)) {
                return false;
            }
        }
        return n > 0;
    }

    private FailureAnalysis analyzeBoot(KvmServerStartupException cause, KvmServerException failure) {
        String output = guestOutput(cause.getGuestOutput());
        RunResult.Kind kind = failure.result().kind();
        ServerNaming naming = cause.getNaming();
        String allowListen = naming.nameOf(Option.ALLOW_LISTEN);
        String allowRead = naming.nameOf(Option.ALLOW_READ);
        String routeAddress = naming.nameOf(Option.ROUTE_ADDRESS);
        if (kind == RunResult.Kind.WAITING) {
            // The only boot that reaches its wait for connections and still fails: not on the route address.
            return new FailureAnalysis(failure.getMessage() + output, "Set " + routeAddress + " to the address the"
                    + " program listens on (its arguments or configuration decide it), or let the program listen on "
                    + routeAddress + ".", cause);
        }
        if (failure.getMessage().contains(" during warmup request ")) {
            return new FailureAnalysis(failure.getMessage() + output,
                    "The program listened and failed on a warmup request: check that it answers a GET of "
                            + naming.property("warmup.path") + " (its output above may say why not), raise "
                            + naming.nameOf(Option.MAX_BOOT_TIME) + " if it needs longer, or set "
                            + naming.nameOf(Option.WARMUP) + " to 0 to start without a warmup.",
                    cause);
        }
        if (kind == RunResult.Kind.TIMED_OUT) {
            return new FailureAnalysis(failure.getMessage() + output,
                    "Raise " + naming.nameOf(Option.MAX_BOOT_TIME) + " if the program needs longer to start. A server"
                            + " that never waits for connections on a listening socket (for example one that waits for"
                            + " something else first) cannot be served by kvmserver.",
                    cause);
        }
        List<Denials.Denial> listens = denied(failure, Denials.Kind.LISTEN);
        if (!listens.isEmpty()) {
            String address = listens.get(0).target();
            if (!cause.getRouteAddress().isEmpty()) {
                return new FailureAnalysis("The kvmserver program listens on " + address + ", not on its route address "
                        + cause.getRouteAddress() + " (" + routeAddress + "): " + failure.getMessage() + output,
                        "Set " + routeAddress + " to '" + address + "', or configure the program (through "
                                + naming.nameOf(Option.ARGS) + ") to listen on " + cause.getRouteAddress() + ".",
                        cause);
            }
            return new FailureAnalysis("The kvmserver program was denied listening on " + address + ": "
                    + failure.getMessage() + output,
                    "Add '" + address + "' to " + allowListen + " (or the address the program should listen on).",
                    cause);
        }
        String text = String.join("\n", cause.getGuestOutput()).toLowerCase(Locale.ROOT);
        if (text.contains("address already in use") || text.contains("eaddrinuse")) {
            return new FailureAnalysis("The kvmserver program could not listen: its address is already in use. "
                    + failure.getMessage() + output,
                    "Stop the process that uses the address (ss -ltnp shows it), or configure the program (through"
                            + " " + naming.nameOf(Option.ARGS) + ") to listen on another port, and allow that port in "
                            + allowListen
                            + ".",
                    cause);
        }
        String library = missingLibrary(cause.getGuestOutput());
        if (library != null) {
            return new FailureAnalysis("The kvmserver program could not start: its dynamic loader did not find the"
                    + " shared library " + library + ". " + failure.getMessage() + output,
                    "Install " + library + " on this host; if it is there, outside the system library directories"
                            + " and the program's own directory (a RUNPATH of /opt/..., for example), add its"
                            + " directory to " + allowRead + ".",
                    cause);
        }
        if (!denied(failure, Denials.Kind.READ).isEmpty()) {
            return new FailureAnalysis("The kvmserver program stopped before it served, after it was denied reading"
                    + " files: " + failure.getMessage() + output,
                    "Allow the program to read what it needs: add the directories of the files listed above to "
                            + allowRead + " (for python3, '/usr'; a dynamically linked program's own libraries are"
                            + " readable without it).",
                    cause);
        }
        if (text.contains("out of memory") || text.contains("cannot allocate memory") || text.contains("memoryerror")
                || text.contains("bad_alloc")) {
            return new FailureAnalysis("The kvmserver program ran out of memory while it started: " + failure.getMessage()
                    + output, "Raise " + naming.nameOf(Option.MAX_MAIN_MEMORY) + ", the memory the program may map.",
                    cause);
        }
        String check = cause.getGuestOutput().isEmpty()
                ? "The program wrote nothing: run it with " + naming.nameOf(Option.VERBOSE) + "=true to see its system"
                        + " calls, or natively, to see why it stops."
                : "Check the program's output above.";
        String listening = cause.getRouteAddress().isEmpty()
                ? " A server needs " + allowListen + " for its address"
                : " A server listens on its route address " + cause.getRouteAddress() + " (" + routeAddress
                        + "), which needs no " + allowListen;
        return new FailureAnalysis(failure.getMessage() + output,
                "kvmserver serves programs that listen and wait for connections. " + check + listening
                        + ", and a program that reads files needs " + allowRead + " for them.",
                cause);
    }

    /** The library named by ld.so's "error while loading shared libraries: NAME: ..." in the output, or null. */
    private static String missingLibrary(List<String> guestOutput) {
        String marker = "error while loading shared libraries: ";
        for (String line : guestOutput) {
            int at = line.indexOf(marker);
            if (at >= 0) {
                int start = at + marker.length();
                int end = line.indexOf(':', start);
                return line.substring(start, end < 0 ? line.length() : end).strip();
            }
        }
        return null;
    }

    private static List<Denials.Denial> denied(KvmServerException failure, Denials.Kind kind) {
        return failure.denials().stream().filter((denial) -> denial.kind() == kind && !denial.expectedProbe()).toList();
    }

    private static String guestOutput(List<String> lines) {
        if (lines.isEmpty()) {
            return "";
        }
        return "\n\nLast output of the program:\n    " + String.join("\n    ", lines);
    }

}
