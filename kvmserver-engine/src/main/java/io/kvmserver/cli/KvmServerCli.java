package io.kvmserver.cli;

import io.kvmserver.config.KvmServerOptions;
import io.kvmserver.elf.ElfException;
import io.kvmserver.kvm.Kvm;
import io.kvmserver.kvm.KvmException;
import io.kvmserver.linux.GuestConsole;
import io.kvmserver.server.Program;
import io.kvmserver.server.ProgramRunner;
import io.kvmserver.vm.RunResult;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * {@code java -jar kvmserver-cli.jar [OPTIONS] program [args...]}: the C++ kvmserver's command
 * line. The guest's stdout and stderr are this process's; its exit status is ours; a crash is one
 * line on stderr and status 128 + signal, as a shell reports it.
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
        try (Kvm kvm = Kvm.open()) {
            Program program = Program.prepare(options, GuestConsole.inherit(), System.getenv());
            return report(options, ProgramRunner.run(kvm, program, options.maxBootTime()));
        } catch (ElfException | KvmException e) {
            System.err.println("kvmserver: " + e.getMessage());
            return 1;
        }
    }

    private static int report(KvmServerOptions options, RunResult result) {
        switch (result.kind()) {
            case EXITED:
                return result.exitStatus();
            case CRASHED:
                System.err.println("kvmserver: program " + options.program() + " crashed: " + result.detail());
                return result.shellStatus();
            case TIMED_OUT:
                System.err.println("kvmserver: program " + options.program() + " did not finish within --max-boot-time "
                        + options.maxBootTime().toMillis() / 1000.0 + " s; stopped (" + result.detail() + ")");
                return result.shellStatus();
            default:
                return 1;
        }
    }
}
