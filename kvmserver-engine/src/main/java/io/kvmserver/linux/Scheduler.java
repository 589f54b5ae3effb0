package io.kvmserver.linux;

import io.kvmserver.host.SyscallNumbers;

import com.sun.jna.Memory;
import io.kvmserver.host.Errno;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * The process's threads and whose turn it is on the VM's one vCPU.
 *
 * <p>A thread whose system call must wait is parked ({@link #park}) and another runnable thread
 * takes the vCPU. Futex waits are queued by address and woken by {@link #wakeFutex}; every other
 * wait is a system call to try again: when nothing is runnable, {@link #awaitRunnable} waits on
 * the host for whatever the parked calls wait for (their host fds, their deadlines, the process's
 * timers) and tries those calls again, so each one finds out afresh whether it can go on.
 *
 * <p>All of it is per-process state: a fork copies it whole, so a request VM starts with every
 * thread of the template where it was.
 */
public final class Scheduler {

    /** Tid of the first thread: the process id. */
    /**
     * The main thread's id: the template's pid, in every VM. Forked processes get ids of their
     * own (see {@link LinuxProcess#pid}) but keep their threads' ids, which libc caches in each
     * thread's descriptor (a changed one would make {@code raise} signal a thread that is gone).
     */
    public static final int MAIN_TID = LinuxProcess.TEMPLATE_PID;

    private final List<GuestThread> threads = new ArrayList<>();
    private final ArrayDeque<GuestThread> runnable = new ArrayDeque<>();
    private final Map<Long, ArrayDeque<GuestThread>> futexQueues = new HashMap<>();
    private GuestThread current;
    private int nextTid = MAIN_TID + 1;

    /** The process's first thread, running. */
    Scheduler() {
        GuestThread main = new GuestThread(MAIN_TID, new UserContext());
        main.setState(GuestThread.State.RUNNING);
        threads.add(main);
        current = main;
    }

    private Scheduler(Scheduler o, Scheduler spent) {
        Map<GuestThread, GuestThread> copies = new IdentityHashMap<>(o.threads.size());
        int spare = 0;
        for (GuestThread t : o.threads) {
            byte[] fpu = null;
            while (fpu == null && spent != null && spare < spent.threads.size()) {
                fpu = spent.threads.get(spare++).context().fpu;
            }
            GuestThread c = t.copy(fpu);
            copies.put(t, c);
            threads.add(c);
        }
        o.runnable.forEach(t -> runnable.add(copies.get(t)));
        o.futexQueues.forEach((address, queue) -> {
            ArrayDeque<GuestThread> copy = new ArrayDeque<>();
            queue.forEach(t -> copy.add(copies.get(t)));
            futexQueues.put(address, copy);
        });
        current = copies.get(o.current);
        nextTid = o.nextTid;
        if (spent != null) {
            takePollArrays(spent);
        }
        // The parked calls' host fds are the other VM's: each finds out afresh in this one.
        for (GuestThread t : threads) {
            GuestThread.Parked p = t.parked();
            if (p != null && p.futexAddress < 0 && (p.count > 0 || p.deadline != Deadline.NEVER)) {
                p.retry = true; // (Parked.copy marks those that watched edge-triggered files)
            }
        }
    }

    /**
     * A copy for a forked process. {@code spent}, when not null, is the scheduler of a process
     * nobody runs any more (a reset VM's last request): its threads' FPU areas are reused for the
     * copies, so that a reset does not allocate them again.
     */
    Scheduler copy(Scheduler spent) {
        return new Scheduler(this, spent);
    }

    /** The thread on the vCPU. */
    public GuestThread current() {
        return current;
    }

    /**
     * Makes {@code t} the caller of a system call run on its behalf ({@link Syscall#retry}), or
     * puts back the thread that was current; no state changes.
     */
    void setCurrentForCall(GuestThread t) {
        current = t;
    }

    /** Live threads, in the order they were made. */
    public List<GuestThread> threads() {
        return threads;
    }

    public int liveCount() {
        return threads.size();
    }

    /** The live thread with {@code tid}, or null. */
    public GuestThread find(long tid) {
        for (GuestThread t : threads) {
            if (t.tid() == tid) {
                return t;
            }
        }
        return null;
    }

    /** A new thread with a copy of {@code context}, runnable; null when {@code limit} threads live already. */
    GuestThread create(int limit, UserContext context) {
        if (threads.size() >= limit) {
            return null;
        }
        GuestThread t = new GuestThread(nextTid++, context);
        threads.add(t);
        t.setState(GuestThread.State.RUNNABLE);
        runnable.addLast(t);
        return t;
    }

    /** The running thread must wait: it leaves the vCPU, parked. */
    public void park(GuestThread t, GuestThread.Parked why) {
        t.setState(GuestThread.State.PARKED);
        t.setParked(why);
        if (why.futexAddress >= 0) {
            futexQueues.computeIfAbsent(why.futexAddress, a -> new ArrayDeque<>()).addLast(t);
        }
        if (current == t) {
            current = null;
        }
    }

    /** A parked (or running) thread may go on, its system call returning {@code result}. */
    public void makeRunnable(GuestThread t, long result) {
        unqueueFutex(t);
        t.setParked(null);
        t.context().set(UserContext.RAX, result);
        if (t.state() != GuestThread.State.RUNNABLE) {
            t.setState(GuestThread.State.RUNNABLE);
            runnable.addLast(t);
        }
        if (current == t) {
            current = null;
        }
    }

    /** The running thread gives up the vCPU but may go on at once (a time slice ended, sched_yield). */
    public void yieldCurrent() {
        GuestThread t = current;
        if (t != null) {
            t.setState(GuestThread.State.RUNNABLE);
            runnable.addLast(t);
            current = null;
        }
    }

    /**
     * A parked thread makes its call again from the start (its context goes back to the
     * {@code syscall} instruction): for a wait whose outcome changed in a way only the call can
     * tell, such as {@code rt_sigtimedwait} when a signal it waits for arrives.
     */
    void restartParked(GuestThread t) {
        long nr = t.parked().number;
        makeRunnable(t, 0);
        Signals.rewind(t.context(), nr);
    }

    /**
     * A signal interrupts a parked thread's call: it fails with {@code result} ({@code EINTR},
     * or the error its interruption met), or starts over after the handler.
     */
    void interrupt(GuestThread t, long result) {
        long nr = t.parked().number;
        makeRunnable(t, result);
        t.setInterruptedCall(nr);
    }

    /**
     * The template freezes with {@code t} waiting for connections: it becomes the running thread,
     * its context back at the {@code syscall} instruction, so that every request VM makes the wait
     * again, in its own world.
     */
    public void beginFreeze(GuestThread t) {
        long nr = t.parked().number;
        unqueueFutex(t);
        runnable.remove(t);
        t.setParked(null);
        t.setState(GuestThread.State.RUNNING);
        Signals.rewind(t.context(), nr);
        current = t;
    }

    /** The next thread to run, made current; null when none is runnable. */
    public GuestThread next() {
        GuestThread t = runnable.pollFirst();
        if (t != null) {
            t.setState(GuestThread.State.RUNNING);
            current = t;
        }
        return t;
    }

    /** Whether a thread other than the running one could run now. */
    public boolean othersRunnable() {
        return !runnable.isEmpty();
    }

    /** The earliest deadline of a parked call of a thread other than {@code t}; {@link Deadline#NEVER} for none. */
    long nextDeadlineBesides(GuestThread t) {
        long deadline = Deadline.NEVER;
        for (int i = 0; i < threads.size(); i++) {
            GuestThread other = threads.get(i);
            GuestThread.Parked p = other.parked();
            if (other != t && other.state() == GuestThread.State.PARKED && p != null) {
                deadline = Math.min(deadline, p.deadline);
            }
        }
        return deadline;
    }

    /** Whether every thread but {@code t} is parked. */
    public boolean othersAllParked(GuestThread t) {
        for (GuestThread other : threads) {
            if (other != t && other.state() != GuestThread.State.PARKED) {
                return false;
            }
        }
        return true;
    }

    /** The thread leaves the process for good. */
    void exit(GuestThread t) {
        unqueueFutex(t);
        runnable.remove(t);
        threads.remove(t);
        t.setState(GuestThread.State.EXITED);
        t.setParked(null);
        if (current == t) {
            current = null;
        }
    }

    // ---- futexes ----

    /** Wakes up to {@code count} waiters on {@code address} whose bitset meets {@code bitset}; how many woke. */
    public int wakeFutex(long address, int count, int bitset) {
        ArrayDeque<GuestThread> queue = futexQueues.get(address);
        if (queue == null) {
            return 0;
        }
        int woken = 0;
        for (Iterator<GuestThread> it = queue.iterator(); it.hasNext() && woken < count;) {
            GuestThread t = it.next();
            if ((t.parked().futexBitset & bitset) != 0) {
                it.remove();
                t.setParked(null);
                makeRunnable(t, 0);
                woken++;
            }
        }
        if (queue.isEmpty()) {
            futexQueues.remove(address);
        }
        return woken;
    }

    /**
     * Wakes up to {@code wake} waiters on {@code from} and moves up to {@code move} more to
     * {@code to}; how many woke plus how many moved.
     */
    public int requeueFutex(long from, int wake, long to, int move) {
        int woken = wakeFutex(from, wake, -1);
        ArrayDeque<GuestThread> queue = futexQueues.get(from);
        if (queue == null) {
            return woken;
        }
        // At most the waiters there are: a queue moved onto itself would otherwise cycle for ever.
        int moving = Math.min(move, queue.size());
        if (from == to) {
            return woken + moving; // requeued where they already wait, as Linux does
        }
        ArrayDeque<GuestThread> target = futexQueues.computeIfAbsent(to, a -> new ArrayDeque<>());
        for (int i = 0; i < moving; i++) {
            GuestThread t = queue.pollFirst();
            GuestThread.Parked p = t.parked();
            t.setParked(new GuestThread.Parked(p.number, p.args, p.fds, p.events, p.count, p.deadline, to,
                    p.futexBitset, p.signalSet));
            target.addLast(t);
        }
        if (queue.isEmpty()) {
            futexQueues.remove(from);
        }
        return woken + moving;
    }

    private void unqueueFutex(GuestThread t) {
        GuestThread.Parked p = t.parked();
        if (p != null && p.futexAddress >= 0) {
            ArrayDeque<GuestThread> queue = futexQueues.get(p.futexAddress);
            if (queue != null) {
                queue.remove(t);
                if (queue.isEmpty()) {
                    futexQueues.remove(p.futexAddress);
                }
            }
        }
    }

    // ---- waiting for a thread to become runnable ----

    /** {@link #awaitRunnable}: a thread is runnable. */
    public static final int RUNNABLE = 0;
    /** {@link #awaitRunnable}: the VM was kicked (a time limit, shutdown, a client hang-up). */
    public static final int KICKED = -1;
    /**
     * {@link #awaitRunnable}: the template is to freeze, every thread waiting and one of them
     * waiting for connections: that thread is {@link #freezing()}.
     */
    public static final int FREEZE = -2;

    private GuestThread freezing;

    /** The thread found waiting for connections when {@link #awaitRunnable} returned {@link #FREEZE}. */
    public GuestThread freezing() {
        return freezing;
    }

    /**
     * Waits until some thread is runnable: tries again the parked calls that asked to be, expires
     * deadlines, fires the process's timers, and otherwise waits on the host for every host fd a
     * parked call waits for, tries those calls again, and repeats. A one-shot wake
     * ({@link HostWaiter#wake}) makes it look again, which is how the warmup gets a template that
     * waits in parked threads to its freeze point.
     */
    public int awaitRunnable(Syscall c) {
        HostWaiter waiter = c.waiter();
        while (true) {
            int found = pollOnce(c, 0);
            if (found == KICKED) {
                if (waiter.isKicked() || waiter.connections().finished()) {
                    return KICKED;
                }
                continue; // a one-shot wake: look again, the freeze point may be here now
            }
            if (found == RUNNABLE) {
                return RUNNABLE;
            }
            if (c.freezeOnListenerWait()) {
                // Every thread waits: a wait on the listening socket freezes the template now. A
                // settling one (Readiness#awaitOrFreeze) may wait on no host fd at all.
                for (GuestThread t : threads) {
                    GuestThread.Parked p = t.parked();
                    if (t.state() == GuestThread.State.PARKED && p != null && (p.count > 0 || mayWaitOnListener(p.number()))) {
                        p.retry = true;
                    }
                }
                if (retryMarked(c)) {
                    return FREEZE;
                }
                if (!runnable.isEmpty()) {
                    return RUNNABLE;
                }
            }
            found = pollOnce(c, -1);
            if (found == KICKED && (waiter.isKicked() || waiter.connections().finished())) {
                return KICKED;
            }
            if (found == RUNNABLE) {
                return RUNNABLE;
            }
        }
    }

    /**
     * Between two exits of a thread that keeps the vCPU (a time slice ended): fires due timers,
     * expires deadlines and looks, without waiting, whether a parked call may go on. Returns
     * whether another thread is runnable now.
     */
    public boolean poll(Syscall c) {
        pollOnce(c, 0);
        return !runnable.isEmpty();
    }

    /**
     * One round: retries marked calls, fires timers, expires deadlines; then, if no thread is
     * runnable, polls every parked call's host fds for up to {@code timeoutNanos} (0: just look,
     * -1: until the earliest deadline) and marks the calls whose fds are ready. Returns
     * {@link #RUNNABLE} when a thread is runnable, {@link #KICKED}, or 1 when none is.
     */
    private int pollOnce(Syscall c, long timeoutNanos) {
        for (int i = 0; i < threads.size(); i++) {
            GuestThread.Parked p = threads.get(i).parked();
            if (p != null && p.edgeRearmed()) {
                p.retry = true;
            }
        }
        retryMarked(c);
        long now = System.nanoTime();
        c.process().timers().fireDue(c.process(), now);
        expireDeadlines(c, now);
        retryMarked(c);
        if (!runnable.isEmpty() && timeoutNanos != 0) {
            return RUNNABLE;
        }
        Memory pollfds = c.waiter().pollfds();
        long deadline = c.process().timers().nextDeadline();
        owners.clear();
        if (entryFd == null) {
            entryFd = new int[64];
            entryEvents = new short[64];
            slotOf = new int[64];
        }
        int entries = 0;
        for (GuestThread t : threads) {
            GuestThread.Parked p = t.parked();
            if (t.state() != GuestThread.State.PARKED || p == null) {
                continue;
            }
            deadline = Math.min(deadline, p.deadline);
            for (int i = 0; i < p.count; i++) {
                entries = addEntry(entries, p.fds[i], p.events[i], t);
            }
        }
        boolean folded = entries > FdTable.LIMIT;
        int count = folded ? fold(entries) : entries;
        for (int slot = 0; slot < count; slot++) {
            if (folded) {
                HostWaiter.setPollfd(pollfds, slot, slotFd[slot], slotEvents[slot]);
            } else {
                slotOf[slot] = slot; // each entry its own slot: the usual case
                HostWaiter.setPollfd(pollfds, slot, entryFd[slot], entryEvents[slot]);
            }
        }
        if (count == 0 && timeoutNanos == 0) {
            return runnable.isEmpty() ? 1 : RUNNABLE;
        }
        long n = c.waiter().pollAll(count, timeoutNanos == 0 ? 0 : Deadline.remaining(deadline));
        if (n == HostWaiter.KICKED) {
            return KICKED;
        }
        for (int k = 0; k < entries && n > 0; k++) {
            GuestThread.Parked p = owners.get(k).parked();
            // What the entry asked for, or what poll reports unasked: a shared slot's other
            // events (another thread's) do not wake this one.
            if (slotOf[k] >= 0 && p != null
                    && (HostWaiter.revents(pollfds, slotOf[k]) & (entryEvents[k] | ALWAYS_REPORTED)) != 0) {
                p.retry = true;
            }
        }
        retryMarked(c);
        return runnable.isEmpty() ? 1 : RUNNABLE;
    }

    // The host poll's entries: each parked call's (fd, events), its thread, and the poll slot it
    // went to. Kept between polls (a scheduler polls on every wait of a multi-threaded program)
    // and handed from a reset VM's spent scheduler to its next, as the FPU areas are.
    private final List<GuestThread> owners = new ArrayList<>();
    private int[] entryFd;
    private short[] entryEvents;
    private int[] slotOf;
    private int[] slotFd;
    private short[] slotEvents;

    /** The spent scheduler's arrays (null where it never polled or folded), as the FPU areas are taken. */
    private void takePollArrays(Scheduler spent) {
        entryFd = spent.entryFd;
        entryEvents = spent.entryEvents;
        slotOf = spent.slotOf;
        slotFd = spent.slotFd;
        slotEvents = spent.slotEvents;
        slotByFd = spent.slotByFd;
    }

    private int addEntry(int entries, int fd, short events, GuestThread t) {
        if (entries == entryFd.length) {
            entryFd = java.util.Arrays.copyOf(entryFd, entries * 2);
            entryEvents = java.util.Arrays.copyOf(entryEvents, entries * 2);
            slotOf = java.util.Arrays.copyOf(slotOf, entries * 2);
        }
        entryFd[entries] = fd;
        entryEvents[entries] = events;
        owners.add(t);
        return entries + 1;
    }

    /**
     * More entries than the host poll takes (threads' waits add up: three threads each polling
     * the same 500 sockets): entries of one host fd share a slot, their events added, so that
     * every fd is watched, a later thread's listener too. The entries past the limit were
     * dropped, and a server's clients went unanswered until a time limit (the eighth review).
     * One slot per fd, whatever the events: the distinct fds are bounded by the fd table, the
     * pairs of fd and events are not (a third wave: three threads asking different events of
     * the same 400 sockets dropped the listener again). A thread is woken only by the events it
     * asked for ({@link #pollOnce}). There are never more distinct host fds than the table holds,
     * but for the engine's own: an entry without a slot is left out, as before.
     */
    private int fold(int entries) {
        if (slotByFd == null) {
            slotByFd = new int[FOLD_TABLE];
            slotFd = new int[FdTable.LIMIT];
            slotEvents = new short[FdTable.LIMIT];
        }
        java.util.Arrays.fill(slotByFd, -1);
        int count = 0;
        for (int k = 0; k < entries; k++) {
            int fd = entryFd[k];
            int at = fd & (FOLD_TABLE - 1);
            // Open addressing, keyed by the fd (slotFd holds it): no boxing, no allocation per
            // poll, which a multi-threaded program's every blocking call makes.
            while (slotByFd[at] >= 0 && slotFd[slotByFd[at]] != fd) {
                at = (at + 1) & (FOLD_TABLE - 1);
            }
            int slot = slotByFd[at];
            if (slot < 0 && count < FdTable.LIMIT) {
                slot = count++;
                slotByFd[at] = slot;
                slotFd[slot] = fd;
                slotEvents[slot] = 0;
            }
            slotOf[k] = slot;
            if (slot >= 0) {
                slotEvents[slot] |= entryEvents[k];
            }
        }
        return count;
    }

    /** What poll reports whatever was asked: POLLERR, POLLHUP, POLLNVAL. */
    private static final short ALWAYS_REPORTED = HostWaiter.POLLERR | HostWaiter.POLLHUP | HostWaiter.POLLNVAL;

    /** Slots of the fold's table: a power of two, four times the slots it may hold. */
    private static final int FOLD_TABLE = 4 * FdTable.LIMIT;
    private int[] slotByFd;

    /**
     * epoll_ctl changed what {@code epoll} watches: every thread parked in an epoll wait on it
     * (through any fd of the description) tries again, so that its host poll covers the new list.
     * Without this, a runtime whose I/O thread waits before the listener is added (tokio) never
     * hears of a connection.
     */
    public void epollInterestsChanged(FdTable files, FileDescription epoll) {
        for (int i = 0; i < threads.size(); i++) {
            GuestThread t = threads.get(i);
            GuestThread.Parked p = t.parked();
            if (t.state() == GuestThread.State.PARKED && p != null && isEpollWait(p.number())
                    && files.isOpen(p.args[0]) && files.get(p.args[0]) == epoll) {
                p.retry = true;
            }
        }
    }

    /** Whether a call of {@code number} may be a wait for connections (a poll of a listening socket, or accept). */
    private static boolean mayWaitOnListener(long number) {
        return isEpollWait(number) || number == SyscallNumbers.POLL || number == SyscallNumbers.PPOLL
                || number == SyscallNumbers.SELECT || number == SyscallNumbers.PSELECT6
                || number == SyscallNumbers.ACCEPT || number == SyscallNumbers.ACCEPT4;
    }

    private static boolean isEpollWait(long number) {
        return number == SyscallNumbers.EPOLL_WAIT || number == SyscallNumbers.EPOLL_PWAIT
                || number == SyscallNumbers.EPOLL_PWAIT2;
    }

    /**
     * Tries again every parked call marked for it (fd readiness, a fork, a freeze probe); true
     * when one of them asked the template to freeze (that thread is then {@link #freezing()}).
     */
    private boolean retryMarked(Syscall c) {
        for (int i = 0; i < threads.size(); i++) {
            GuestThread t = threads.get(i);
            GuestThread.Parked p = t.parked();
            if (t.state() == GuestThread.State.PARKED && p != null && p.retry) {
                p.retry = false;
                if (retry(c, t)) {
                    freezing = t;
                    return true;
                }
            }
        }
        return false;
    }

    private void expireDeadlines(Syscall c, long now) {
        for (int i = 0; i < threads.size(); i++) {
            GuestThread t = threads.get(i);
            GuestThread.Parked p = t.parked();
            if (t.state() == GuestThread.State.PARKED && p != null && p.deadline <= now) {
                if (p.futexAddress >= 0) {
                    makeRunnable(t, -Errno.ETIMEDOUT);
                } else {
                    p.retry = true;
                }
            }
        }
    }

    /**
     * Runs a parked thread's call again on the host, on its behalf: it goes on, or parks again.
     * True when instead the call asked the template to freeze (the thread stays parked).
     */
    boolean retry(Syscall c, GuestThread t) {
        GuestThread.Parked p = t.parked();
        long result = c.retry(t, p.number, p.args, p.deadline);
        if (c.freezeRequested()) {
            return true;
        }
        if (result == Syscall.RESTART) {
            GuestThread.Parked again = c.waiter().takeRecorded(p.number, p.args);
            unqueueFutex(t);
            park(t, again);
        } else {
            makeRunnable(t, result);
        }
        return false;
    }

    /** What each thread is doing, for a user who needs to know why a program did not get anywhere. */
    public String describe() {
        StringBuilder sb = new StringBuilder();
        for (GuestThread t : threads) {
            if (sb.length() > 0) {
                sb.append("; ");
            }
            sb.append(t);
        }
        return sb.toString();
    }
}
