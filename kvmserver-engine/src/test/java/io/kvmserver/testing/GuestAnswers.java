package io.kvmserver.testing;

import io.kvmserver.kvm.Kvm;
import io.kvmserver.server.ServerStats;
import io.kvmserver.vm.TrapPathCheck;
import java.util.Arrays;
import java.util.function.LongPredicate;
import java.util.function.Predicate;

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

    /** The most rounds, and the longest time, {@link #fewestExits} spends looking for a floor. */
    private static final int MAX_ROUNDS = 40;
    private static final long MAX_NANOS = 60_000_000_000L;

    /**
     * The fewest exits to the engine of each of {@code requests} on the first request VM of
     * {@code s}, each run between two resets, in rounds: at least {@code rounds}, then more until
     * {@code reached} holds of the fewest seen (at most {@value #MAX_ROUNDS} rounds or a minute).
     * A request whose bytes reach the server after the host looked reads them through the host,
     * one exit more, and on a loaded machine most requests may lose that race: what a test can
     * assert is the floor the engine reaches, not what a fixed number of samples happened to
     * show. An engine that never reaches the floor makes the caller's assertion fail on the fewest
     * seen, after the last round.
     */
    public static long[] fewestExits(TestServer s, int rounds, Predicate<long[]> reached, Runnable... requests) {
        long[] fewest = new long[requests.length];
        Arrays.fill(fewest, Long.MAX_VALUE);
        long deadline = System.nanoTime() + MAX_NANOS;
        for (int round = 0; round < rounds
                || (!reached.test(fewest) && round < MAX_ROUNDS && System.nanoTime() < deadline); round++) {
            for (int i = 0; i < requests.length; i++) {
                fewest[i] = Math.min(fewest[i], exitsOf(s, requests[i]));
            }
        }
        return fewest;
    }

    /** {@link #fewestExits(TestServer, int, Predicate, Runnable...)} of one request. */
    public static long fewestExits(TestServer s, int rounds, LongPredicate reached, Runnable request) {
        return fewestExits(s, rounds, f -> reached.test(f[0]), new Runnable[] {request})[0];
    }

    /** The exits of one run of {@code request} on the first request VM, between two resets. */
    private static long exitsOf(TestServer s, Runnable request) {
        ServerStats stats = s.server().stats();
        Eventually.reaches(stats::resets, stats.requests());
        long served = stats.requests();
        long before = s.server().vms().get(0).exits();
        request.run();
        // The client may see the end of its stream before the request ends (a shutdown the host
        // made at an exit before the close's): the request's count, then its reset.
        Eventually.reaches(stats::requests, served + 1);
        Eventually.reaches(stats::resets, stats.requests());
        return s.server().vms().get(0).exits() - before;
    }

    /**
     * Checks the fewest exits {@code request} makes: {@code inGuest} where calls are answered in
     * the guest (run until a request reaches it, {@link #fewestExits}), more elsewhere, where each
     * of those calls is an exit (the fewest of three).
     */
    public static void expectExits(TestServer s, long inGuest, String description, Runnable request) {
        boolean guest = onThisHost();
        long fewest = fewestExits(s, 3, f -> !guest || f <= inGuest, request);
        if (guest) {
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
