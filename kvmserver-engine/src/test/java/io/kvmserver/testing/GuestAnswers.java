package io.kvmserver.testing;

import io.kvmserver.kvm.Kvm;
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
}
