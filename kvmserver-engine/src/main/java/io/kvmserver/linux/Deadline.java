package io.kvmserver.linux;

/**
 * Deadlines on {@link System#nanoTime()} with saturating arithmetic. A guest can ask for any
 * timeout up to {@code LONG_MAX} seconds; adding that to the clock, or converting it to
 * milliseconds, must give "a very long time", never an overflow into the past (a
 * {@code ppoll} of {@code LONG_MAX / 2} seconds once returned at once).
 */
final class Deadline {

    /** No deadline: wait until something happens. */
    static final long NEVER = Long.MAX_VALUE;

    /**
     * The latest deadline of an armed timer, which never comes. Linux saturates a timer's expiry at
     * {@code KTIME_MAX} (the most nanoseconds of CLOCK_MONOTONIC, which {@link System#nanoTime()}
     * reads) and keeps it armed, reporting {@code KTIME_MAX - now} left; {@link #NEVER} means disarmed.
     */
    static final long LATEST = NEVER - 1;

    private Deadline() {
    }

    /** The deadline {@code nanos} from now; {@link #NEVER} for a negative {@code nanos} or past the clock's range. */
    static long after(long nanos) {
        if (nanos < 0) {
            return NEVER;
        }
        long now = System.nanoTime();
        long at = now + nanos;
        return ((now ^ at) & (nanos ^ at)) < 0 || at == NEVER ? NEVER : at;
    }

    /** The deadline of a timer armed to expire {@code nanos} (not negative) from now: saturates at {@link #LATEST}, never {@link #NEVER}. */
    static long armedAfter(long nanos) {
        return Math.min(after(nanos), LATEST);
    }

    /** Nanoseconds left until {@code deadline}: 0 once it passed, -1 for {@link #NEVER}. */
    static long remaining(long deadline) {
        if (deadline == NEVER) {
            return -1;
        }
        return Math.max(0, deadline - System.nanoTime());
    }

    /** {@code seconds} and {@code fraction} (in units of {@code perSecond}) as nanoseconds, saturating. */
    static long nanos(long seconds, long fraction, long perSecond) {
        long fractionNanos = fraction * (1_000_000_000L / perSecond);
        if (seconds > (Long.MAX_VALUE - fractionNanos) / 1_000_000_000L) {
            return Long.MAX_VALUE;
        }
        return seconds * 1_000_000_000L + fractionNanos;
    }
}
