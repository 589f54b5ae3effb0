package io.kvmserver.vdso;

/**
 * One guest clock as a time page entry describes it, {@code ns(tsc) = baseNs + ((tsc - tscBase) *
 * mult >> 32)} with a signed 128-bit product (exactly what {@code vdso.S} computes), and the rule
 * that moves it toward the host's clock at each publication without ever going backwards.
 *
 * <p>Why the rule is safe: a reader that used the previous entry read the TSC before the
 * publication became visible, and every reader of the new entry reads it after. So the new entry
 * only has to be at least the old one at every TSC value a reader can still hold:
 * <ul>
 * <li>speeding up ({@code mult} grows): the new line starts at the old one's value (+1 ns for
 * rounding) at a TSC sampled before the publication, and is above it from there on;</li>
 * <li>slowing down: the new line meets the old one at {@code lead} ticks in the future, and is
 * above it before that point; the host publishes well before that point
 * ({@link GuestClock} checks), so no reader of the old entry gets past it.</li>
 * </ul>
 * Errors are corrected within one period by a rate change of at most {@link #MAX_SLEW} (like
 * NTP's slew); a clock behind by more than {@link #STEP_NS} steps forward, one ahead never steps
 * back.
 */
final class Timeline {

    /** Errors larger than this are stepped rather than slewed. */
    static final long STEP_NS = 1_000_000;
    /** Largest rate correction, as a fraction of the rate: 500 ppm. */
    static final long MAX_SLEW = 2000;

    private long tscBase;
    private long baseNs;
    private long mult;

    Timeline() {
    }

    private Timeline(Timeline o) {
        this.tscBase = o.tscBase;
        this.baseNs = o.baseNs;
        this.mult = o.mult;
    }

    Timeline copy() {
        return new Timeline(this);
    }

    long tscBase() {
        return tscBase;
    }

    long baseNs() {
        return baseNs;
    }

    long mult() {
        return mult;
    }

    /** The clock's value at {@code tsc}, computed as the guest computes it. */
    long at(long tsc) {
        return baseNs + scale(tsc - tscBase, mult);
    }

    /** {@code (ticks * mult) >> 32} on the signed 128-bit product, as {@code imul; shrd $32}. */
    static long scale(long ticks, long mult) {
        long high = Math.multiplyHigh(ticks, mult);
        long low = ticks * mult;
        return (high << 32) | (low >>> 32);
    }

    /**
     * Moves this clock toward the host's: at TSC {@code now} the host's clock read {@code hostNs}
     * and runs at {@code rateMult} (nanoseconds per tick &lt;&lt; 32). The error left is corrected
     * over the next {@code periodTicks}; {@code lead} is how far ahead a slowing clock meets its
     * old line. Returns the TSC at which the new line starts.
     */
    long steer(long now, long hostNs, long rateMult, long periodTicks, long lead) {
        if (mult == 0) {
            set(now, hostNs, rateMult);
            return now;
        }
        long guestNs = at(now);
        long error = guestNs - hostNs;
        if (error < -STEP_NS) {
            set(now, hostNs, rateMult);
            return now;
        }
        long faster = corrected(rateMult, hostNs - (guestNs + 1), periodTicks);
        if (faster >= mult) {
            set(now, guestNs + 1, faster);
            return now;
        }
        long meet = now + lead;
        long base = at(meet) + 1;
        long hostAtMeet = hostNs + scale(lead, rateMult);
        set(meet, base, Math.min(mult, corrected(rateMult, hostAtMeet - base, periodTicks)));
        return meet;
    }

    /** The rate that closes {@code correctionNs} over {@code periodTicks}, within the slew limit. */
    private static long corrected(long rateMult, long correctionNs, long periodTicks) {
        long correction = Math.max(-2 * STEP_NS, Math.min(2 * STEP_NS, correctionNs));
        long m = rateMult + (correction << 32) / periodTicks;
        long limit = rateMult / MAX_SLEW;
        return Math.max(rateMult - limit, Math.min(rateMult + limit, m));
    }

    private void set(long tscBase, long baseNs, long mult) {
        this.tscBase = tscBase;
        this.baseNs = baseNs;
        this.mult = mult;
    }

    /** Writes {tsc base, ns + offset, mult} at {@code entry * 3} of {@code clocks}. */
    void writeTo(long[] clocks, int entry, long offsetNs) {
        clocks[entry * 3] = tscBase;
        clocks[entry * 3 + 1] = baseNs + offsetNs;
        clocks[entry * 3 + 2] = mult;
    }
}
