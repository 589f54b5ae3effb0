package io.kvmserver.server;

import io.kvmserver.kvm.Kvm;
import io.kvmserver.vm.GuestVm;
import io.kvmserver.vm.RunResult;
import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * Runs a program to completion in one VM, stopping it when it runs past a time limit: what the
 * command-line runner does with a program that is not a server, and what tests use.
 */
public final class ProgramRunner {

    private static final ScheduledExecutorService WATCHDOG = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "kvmserver-watchdog");
        t.setDaemon(true);
        return t;
    });

    private ProgramRunner() {
    }

    /**
     * Boots {@code program} and runs it until it exits, crashes or exceeds {@code limit}; returns
     * once all it wrote has reached the console.
     */
    public static RunResult run(Kvm kvm, Program program, Duration limit) {
        try (GuestVm vm = program.boot(kvm)) {
            return run(vm, limit);
        } finally {
            program.kernel().console().endOfOutput();
            program.kernel().console().flush(-1, TimeUnit.SECONDS);
        }
    }

    /** Runs an already booted VM under a time limit enforced from the watchdog thread. */
    public static RunResult run(GuestVm vm, Duration limit) {
        ScheduledFuture<?> stop = WATCHDOG.schedule((Runnable) vm::interrupt, limit.toNanos(), TimeUnit.NANOSECONDS);
        try {
            return vm.run();
        } finally {
            stop.cancel(false);
        }
    }
}
