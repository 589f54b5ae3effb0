package io.kvmserver.testing;

import com.sun.jna.Pointer;
import io.kvmserver.config.KvmServerOptions;
import io.kvmserver.kvm.Kvm;
import io.kvmserver.linux.Denials;
import io.kvmserver.linux.GuestConsole;
import io.kvmserver.host.SyscallNumbers;
import io.kvmserver.server.Program;
import io.kvmserver.server.ProgramRunner;
import io.kvmserver.vm.GuestVm;
import io.kvmserver.vm.RunResult;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;

/** Runs a guest program to completion in a real VM and captures what it printed. */
public final class GuestRun {

    /** What a run produced, and the VM exits and system calls (by number) it took. */
    public record Outcome(RunResult result, String stdout, String stderr, long exits, long[] syscallCounts,
            List<Denials.Denial> denials) {
        public int status() {
            return result.shellStatus();
        }

        /** Calls of the system call {@code number} the engine emulated. */
        public long syscalls(int number) {
            return syscallCounts[number];
        }

        @Override
        public String toString() {
            return result + "\n--- stdout ---\n" + stdout + "\n--- stderr ---\n" + stderr;
        }
    }

    private GuestRun() {
    }

    public static Outcome run(Path program, List<String> args) {
        return run(program, args, b -> b);
    }

    public static Outcome run(Path program, List<String> args, UnaryOperator<KvmServerOptions.Builder> options) {
        return run(program, args, options, Map.of());
    }

    public static Outcome run(Path program, List<String> args, UnaryOperator<KvmServerOptions.Builder> options,
            Map<String, String> hostEnv) {
        KvmServerOptions built = options.apply(KvmServerOptions.builder()
                .program(program.toString())
                .args(args)
                .cwd(Path.of("").toAbsolutePath().toString())
                .maxBootTime(Duration.ofSeconds(60))
                .maxMainMemory(1L << 30)).build();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        GuestConsole console = (stream, address, length) -> {
            byte[] bytes = new Pointer(address).getByteArray(0, (int) length);
            (stream == 1 ? out : err).write(bytes, 0, bytes.length);
            return length;
        };
        try (Kvm kvm = Kvm.open(); Program p = Program.prepare(built, console, hostEnv)) {
            try (GuestVm vm = p.boot(kvm)) {
                RunResult result = ProgramRunner.run(vm, built.maxBootTime());
                p.kernel().console().flush(-1, java.util.concurrent.TimeUnit.SECONDS);
                long[] counts = new long[SyscallNumbers.COUNT + 1];
                vm.addSyscallCounts(counts);
                return new Outcome(result, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8),
                        vm.exits(), counts, p.kernel().denials().first());
            }
        }
    }
}
