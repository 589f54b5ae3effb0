package io.kvmserver.testing;

import io.kvmserver.kvm.Kvm;
import io.kvmserver.server.ServerStats;
import io.kvmserver.vm.TrapPathCheck;

/**
 * Whether this host's KVM leaves {@code syscall} at CPL 3 (nested PVM), so that the engine's
 * syscall entry answers some calls in the guest: the tests of those calls expect fewer exits
 * there, and the same answers from the host elsewhere.
 */
public final class GuestAnswers {

    private static Boolean onThisHost;

    private GuestAnswers() {
    }

    /** Whether calls are answered in the guest on this host (asked of KVM once). */
    public static synchronized boolean onThisHost() {
        if (onThisHost == null) {
            try (Kvm kvm = Kvm.open()) {
                onThisHost = TrapPathCheck.syscallStaysInUserMode(kvm);
            }
        }
        return onThisHost;
    }

    /**
     * The fewest exits to the engine of {@code requests} runs of {@code request} on the first
     * request VM of {@code s}, each between two resets: a request whose bytes reach the server
     * after the host looked reads them through the host, one exit more.
     */
    public static long fewestExits(TestServer s, int requests, Runnable request) {
        ServerStats stats = s.server().stats();
        long fewest = Long.MAX_VALUE;
        for (int i = 0; i < requests; i++) {
            Eventually.reaches(stats::resets, stats.requests());
            long served = stats.requests();
            long before = s.server().vms().get(0).exits();
            request.run();
            // The client may see the end of its stream before the request ends (a shutdown the host
            // made at an exit before the close's): the request's count, then its reset.
            Eventually.reaches(stats::requests, served + 1);
            Eventually.reaches(stats::resets, stats.requests());
            fewest = Math.min(fewest, s.server().vms().get(0).exits() - before);
        }
        return fewest;
    }

    /**
     * Checks the fewest exits a request made ({@link #fewestExits}): {@code inGuest} where calls
     * are answered in the guest, more elsewhere (there each of those calls is an exit).
     */
    public static void expectExits(long fewest, long inGuest, String description) {
        if (onThisHost()) {
            org.assertj.core.api.Assertions.assertThat(fewest).as(description).isEqualTo(inGuest);
        } else {
            org.assertj.core.api.Assertions.assertThat(fewest).as(description).isGreaterThan(inGuest);
        }
    }

    /**
     * The calls named {@code name} that one run of {@code request} makes, as {@code s} counts
     * them (wherever each was answered), once the VM is back at the template: the count of the
     * exit that ends the request included.
     */
    public static long calls(TestServer s, String name, Runnable request) {
        ServerStats stats = s.server().stats();
        Eventually.reaches(stats::resets, stats.requests());
        long before = s.server().syscallCounts(Integer.MAX_VALUE).getOrDefault(name, 0L);
        request.run();
        Eventually.reaches(stats::resets, stats.requests());
        return s.server().syscallCounts(Integer.MAX_VALUE).getOrDefault(name, 0L) - before;
    }
}
