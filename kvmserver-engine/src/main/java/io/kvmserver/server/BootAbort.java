package io.kvmserver.server;

import io.kvmserver.vm.GuestVm;
import io.kvmserver.vm.RunResult;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Ends the boot of every template of the JVM when the JVM shuts down (SIGTERM, Ctrl-C): a boot
 * runs on the thread that starts the server, and may take up to {@code max-boot-time}, while a
 * platform gives a terminated application seconds (Kubernetes: 30) before it kills it. Spring
 * Boot's own shutdown waits for the context's start, and the start for the boot. Found by the
 * review of 2026-12-05 (later): a SIGTERM two seconds into a boot of 40 s was acted on 38.9 s later.
 */
final class BootAbort {

    private static final Set<GuestVm> BOOTING = ConcurrentHashMap.newKeySet();

    private static volatile boolean shuttingDown;

    static {
        try {
            Runtime.getRuntime().addShutdownHook(new Thread(BootAbort::abortAll, "kvmserver-boot-abort"));
        } catch (IllegalStateException alreadyShuttingDown) {
            shuttingDown = true;
        }
    }

    private BootAbort() {
    }

    /** {@code template} boots from now on: the JVM's shutdown ends its run (at once if it has begun). */
    static void watch(GuestVm template) {
        BOOTING.add(template);
        if (shuttingDown) {
            abort(template);
        }
    }

    static void forget(GuestVm template) {
        BOOTING.remove(template);
    }

    private static void abortAll() {
        shuttingDown = true;
        BOOTING.forEach(BootAbort::abort);
    }

    private static void abort(GuestVm template) {
        template.interrupt(RunResult.Kind.STOPPED, "the JVM is shutting down");
    }
}
