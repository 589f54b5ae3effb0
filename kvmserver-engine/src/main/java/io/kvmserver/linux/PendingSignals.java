package io.kvmserver.linux;

import java.util.ArrayDeque;

/**
 * Signals sent but not yet delivered, to a thread or to the process. A standard signal is pending
 * once at most (a second one merges with it, as on Linux); a real-time signal queues each time,
 * up to a bound ({@code RLIMIT_SIGPENDING} in spirit), past which sending it fails with
 * {@code EAGAIN}.
 */
final class PendingSignals {

    /** Queued real-time signals, at most. */
    static final int QUEUE_LIMIT = 128;

    private long set;
    private final Siginfo[] standard = new Siginfo[SignalState.SIGRTMIN];
    private final ArrayDeque<Siginfo> realtime = new ArrayDeque<>();

    PendingSignals copy() {
        PendingSignals c = new PendingSignals();
        c.copyFrom(this);
        return c;
    }

    void copyFrom(PendingSignals other) {
        set = other.set;
        System.arraycopy(other.standard, 0, standard, 0, standard.length);
        realtime.clear();
        realtime.addAll(other.realtime);
    }

    long set() {
        return set;
    }

    /** Adds a signal; false when a real-time signal's queue is full. */
    boolean add(Siginfo info) {
        int sig = info.signo();
        if (sig < SignalState.SIGRTMIN) {
            if ((set & SignalState.bit(sig)) == 0) {
                standard[sig] = info;
            }
        } else {
            if (realtime.size() >= QUEUE_LIMIT) {
                return false;
            }
            realtime.addLast(info);
        }
        set |= SignalState.bit(sig);
        return true;
    }

    /** Takes the lowest-numbered pending signal in {@code allowed} (standard ones first), or null. */
    Siginfo take(long allowed) {
        long candidates = set & allowed;
        if (candidates == 0) {
            return null;
        }
        int sig = Long.numberOfTrailingZeros(candidates) + 1;
        if (sig < SignalState.SIGRTMIN) {
            Siginfo info = standard[sig];
            standard[sig] = null;
            set &= ~SignalState.bit(sig);
            return info;
        }
        Siginfo found = null;
        boolean more = false;
        for (Siginfo i : realtime) {
            if (i.signo() == sig) {
                if (found == null) {
                    found = i;
                } else {
                    more = true;
                    break;
                }
            }
        }
        realtime.remove(found);
        if (!more) {
            set &= ~SignalState.bit(sig);
        }
        return found;
    }

    /** Forgets a signal (its disposition became SIG_IGN). */
    void discard(int sig) {
        set &= ~SignalState.bit(sig);
        if (sig < SignalState.SIGRTMIN) {
            standard[sig] = null;
        } else {
            realtime.removeIf(i -> i.signo() == sig);
        }
    }
}
