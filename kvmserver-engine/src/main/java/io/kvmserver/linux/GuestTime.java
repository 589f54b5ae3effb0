package io.kvmserver.linux;

/**
 * A {@code struct timespec} or {@code struct timeval} in guest memory, {seconds, fraction}, read
 * the one way Linux reads them for timeouts and timers: a negative second or a fraction outside
 * one second is invalid (each caller answers EINVAL), an unreadable one is EFAULT (thrown), and a
 * huge one saturates rather than wrapping into the past.
 */
final class GuestTime {

    /** What the readers return for an invalid value; no valid one is negative. */
    static final long INVALID = Long.MIN_VALUE;

    private static final long NANOS_PER_SECOND = 1_000_000_000L;
    private static final long MICROS_PER_SECOND = 1_000_000L;

    private GuestTime() {
    }

    /** The {@code struct timespec} at {@code address} as nanoseconds, or {@link #INVALID}. */
    /** Writes {@code nanos} (not negative) as a {@code struct timespec} at {@code address}. */
    static void writeTimespec(AddressSpace m, long address, long nanos) {
        m.writeLong(address, nanos / 1_000_000_000L);
        m.writeLong(address + 8, nanos % 1_000_000_000L);
    }

    static long timespec(AddressSpace m, long address) {
        return read(m, address, NANOS_PER_SECOND);
    }

    /** The {@code struct timeval} at {@code address} as nanoseconds, or {@link #INVALID}. */
    static long timeval(AddressSpace m, long address) {
        return read(m, address, MICROS_PER_SECOND);
    }

    private static long read(AddressSpace m, long address, long perSecond) {
        long seconds = m.readLong(address);
        long fraction = m.readLong(address + 8);
        if (seconds < 0 || fraction < 0 || fraction >= perSecond) {
            return INVALID;
        }
        return Deadline.nanos(seconds, fraction, perSecond);
    }
}
