package io.kvmserver.linux;

import com.sun.jna.LastErrorException;
import com.sun.jna.Memory;
import com.sun.jna.Pointer;
import io.kvmserver.host.LibC;

/**
 * The host's clocks, for turning a guest's absolute times ({@code TIMER_ABSTIME}, a futex's
 * {@code FUTEX_CLOCK_REALTIME} deadline) into a wait from now. The guest's clocks are the host's
 * (the vDSO reads them too), so an absolute time means the same on both sides.
 */
final class HostClock {

    static final int CLOCK_REALTIME = 0;
    static final int CLOCK_MONOTONIC = 1;

    private HostClock() {
    }

    /** {@code clock}'s current time in nanoseconds; the monotonic clock for one the host lacks. */
    static long now(int clock) {
        if (clock == CLOCK_MONOTONIC) {
            return System.nanoTime(); // HotSpot's nanoTime is CLOCK_MONOTONIC on Linux
        }
        try (Memory ts = new Memory(16)) {
            return now(clock, ts);
        }
    }

    /** {@link #now(int)}, reading the clock into {@code scratch} (16 bytes or more) instead of memory of its own. */
    static long now(int clock, Memory scratch) {
        if (clock == CLOCK_MONOTONIC) {
            return System.nanoTime();
        }
        try {
            LibC.clock_gettime(clock, Pointer.nativeValue(scratch));
            return Deadline.nanos(scratch.getLong(0), scratch.getLong(8), 1_000_000_000L);
        } catch (LastErrorException e) {
            return System.nanoTime();
        }
    }

    /** The monotonic deadline ({@link System#nanoTime()}) of the absolute time {@code at} on {@code clock}. */
    static long deadlineOf(int clock, long at) {
        return Deadline.after(Math.max(0, at - now(clock)));
    }
}
