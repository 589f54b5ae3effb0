package io.kvmserver.linux;

import io.kvmserver.memory.GuestMemory;
import io.kvmserver.x86.GuestCallPages;

/**
 * The process's signal actions as the PVM syscall entry reads them ({@link GuestCallPages#DISPOSITIONS}),
 * kept equal to its {@link SignalState} before every entry, and the running thread's blocked
 * signals, pending signals and id after them: php installs its signal handlers for every request
 * (a get and a set of each of eight signals), sixteen exits of ~100 µs each on a nested PVM host,
 * and threaded servers block and unblock every signal around each thread they start, which the
 * entry answers from this page and its queue instead.
 *
 * <p>Only what changed is written: the actions only after they changed ({@link SignalState#changes}),
 * so an entry that changed nothing costs five comparisons and dirties no page. After a fork or a
 * reset the page holds what the template's did when it froze, which need not be what the
 * template's state was by then (what the entry queued last was applied at the freezing exit): the
 * first look reads the page back once and writes what differs.
 */
final class SignalPage {

    /** Four longs per signal: handler, flags, restorer, mask. */
    private static final int LONGS = SignalState.NSIG * 4;

    private final GuestMemory memory;
    /** What the page holds, when {@link #known}. */
    private final long[] shown = new long[LONGS];
    private boolean known;
    /** The actions it was last made equal to, and after how many of their changes. */
    private SignalState shownOf;
    private long shownChanges;

    /** The running thread's fields as the page holds them, when {@link #known}. */
    private long shownBlocked;
    private long shownPending;
    private int shownTid;

    SignalPage(GuestMemory memory) {
        this.memory = memory;
    }

    /** A fork or a reset: the page is the template's now, whatever this one last wrote. */
    void forget() {
        known = false;
        shownOf = null;
    }

    /** Makes the page show {@code process}'s actions and its running thread ({@code t}). Allocates nothing. */
    void show(LinuxProcess process, GuestThread t) {
        if (!known) {
            memory.read(GuestCallPages.DISPOSITIONS, shown, 0, LONGS);
            shownBlocked = memory.getLong(GuestCallPages.THREAD_BLOCKED);
            shownPending = memory.getLong(GuestCallPages.THREAD_PENDING);
            shownTid = memory.getInt(GuestCallPages.THREAD_TID);
            known = true;
        }
        showActions(process.signals());
        long blocked = t.blocked();
        long pending = t.pending().set() | process.signals().pending().set();
        int tid = t.tid();
        if (blocked != shownBlocked || pending != shownPending || tid != shownTid) {
            memory.putLong(GuestCallPages.THREAD_BLOCKED, blocked);
            memory.putLong(GuestCallPages.THREAD_PENDING, pending);
            memory.putInt(GuestCallPages.THREAD_TID, tid);
            shownBlocked = blocked;
            shownPending = pending;
            shownTid = tid;
        }
    }

    /** Writes the signals whose action differs from what the page shows. */
    private void showActions(SignalState actions) {
        if (actions == shownOf && actions.changes() == shownChanges) {
            return;
        }
        for (int sig = 1; sig <= SignalState.NSIG; sig++) {
            int at = (sig - 1) * 4;
            long handler = actions.handler(sig);
            long flags = actions.flags(sig);
            long restorer = actions.restorer(sig);
            long mask = actions.mask(sig);
            if (shown[at] != handler || shown[at + 1] != flags || shown[at + 2] != restorer || shown[at + 3] != mask) {
                long address = GuestCallPages.DISPOSITIONS + (long) (sig - 1) * GuestCallPages.ACTION_SIZE;
                memory.putLong(address, handler);
                memory.putLong(address + 8, flags);
                memory.putLong(address + 16, restorer);
                memory.putLong(address + 24, mask);
                shown[at] = handler;
                shown[at + 1] = flags;
                shown[at + 2] = restorer;
                shown[at + 3] = mask;
            }
        }
        shownOf = actions;
        shownChanges = actions.changes();
    }
}
