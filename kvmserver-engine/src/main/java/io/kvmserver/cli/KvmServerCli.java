package io.kvmserver.cli;

import io.kvmserver.config.KvmServerOptions;
import io.kvmserver.elf.ElfException;
import io.kvmserver.host.HostCallException;
import io.kvmserver.linux.GuestConsole;
import io.kvmserver.linux.SyscallTrace;
import io.kvmserver.server.KvmServer;
import io.kvmserver.server.KvmServerException;
import io.kvmserver.vm.RunResult;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.CountDownLatch;

/**
 * {@code java -jar kvmserver-cli.jar [OPTIONS] program [args...]}: the C++ kvmserver's command
 * line. A server program is served until this process is stopped (SIGINT or SIGTERM shut it down
 * gracefully); a program that is not a server runs to completion: its stdout and stderr are this
 * process's, its exit status is ours, a crash is one line on stderr and status 128 + signal, as a
 * shell reports it.
 */
public final class KvmServerCli {

    private KvmServerCli() {
    }

    public static void main(String[] args) {
        System.exit(run(args));
    }

    /** Runs the command line and returns the process exit status. */
    public static int run(String[] args) {
        KvmServerOptions options;
        try {
            options = CommandLine.parse(Arrays.asList(args), Path.of("").toAbsolutePath(), System.getenv());
        } catch (UsageException e) {
            if (e.helpRequested()) {
                System.out.print(CommandLine.help());
                return 0;
            }
            System.err.println("kvmserver: " + e.getMessage());
            return 2;
        }
        if (options.printConfig()) {
            System.out.print(options.describe());
            return 0;
        }
        if (options.verbose()) {
            System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", "debug");
        }
        if (options.trace() || options.traceHostCalls()) {
            // The trace is what the user asked to see, whatever the level of the other loggers.
            System.setProperty("org.slf4j.simpleLogger.log." + SyscallTrace.LOGGER_NAME, "info");
        }
        KvmServer server;
        try {
            server = KvmServer.start(options, GuestConsole.inherit(), System.getenv());
        } catch (KvmServerException e) {
            if (e.result() != null && e.result().kind() == RunResult.Kind.EXITED) {
                return e.result().exitStatus(); // not a server: a program that ran to completion
            }
            System.err.println("kvmserver: " + e.getMessage());
            return e.result() != null ? e.result().shellStatus() : 1;
        } catch (ElfException | HostCallException e) {
            System.err.println("kvmserver: " + e.getMessage());
            return 1;
        } catch (io.kvmserver.config.InvalidOptionException e) {
            // A setting only the start can check (the working directory): a usage error, as at parsing.
            System.err.println("kvmserver: " + e.getMessage());
            return 2;
        }
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            server.close();
            stopped.countDown();
        }, "kvmserver-shutdown"));
        try {
            stopped.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return 0;
    }
}
