package io.kvmserver.linux;

import io.kvmserver.memory.GuestMemory;
import io.kvmserver.x86.PageTables;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Everything the emulated kernel keeps for one VM's program, in one object: memory bookkeeping,
 * fds, current directory, umask, signal dispositions, threads (with their registers, masks and
 * TLS bases, see {@link Scheduler}), interval timers, rlimits.
 *
 * <p>Keeping it in one place is what makes a reset complete: a request VM starts from
 * {@link #fork} of the template's process and is reset by taking a fresh fork, so a new piece of
 * state cannot be forgotten by the reset as long as it lives here.
 */
public final class LinuxProcess {

    /** The template's process id, and its main thread's id in every VM. */
    public static final int TEMPLATE_PID = 1;
    /** The range request VMs' process ids are drawn from, in turn: above any thread id, below Linux's pid_max. */
    private static final int FIRST_FORK_PID = 100_000;
    private static final int PID_LIMIT = 4_194_304;
    private static final AtomicInteger forks = new AtomicInteger();
    /** The unprivileged user the program runs as, in every id call. */
    public static final int UID = 1000;

    /**
     * This process's id: {@link #TEMPLATE_PID} for the template, a new one for every fork (a
     * request VM's start and every reset), as a forked child gets its own. Libraries that keep
     * state they must not share with a child notice a fork by this alone: OpenSSL 3's random
     * generator reseeds when {@code getpid()} changes, Python's {@code tempfile} too; with the
     * template's id every request VM would draw the same "random" bytes (TLS randoms and key
     * shares, tokens) from the state the template froze.
     */
    private final int pid;
    private final AddressSpace addressSpace;
    private final FdTable files;
    private final SignalState signals;
    private final Scheduler scheduler;
    private final Timers timers;
    private String cwd;
    private int umask = 0022;
    private final long[] rlimitCur;
    private final long[] rlimitMax;
    /** The template's, until its freeze: told about code the program maps from files. Never forked. */
    private CodeObserver codeObserver;

    /** Told about each file mapping the program makes executable, once its bytes are in place. */
    public interface CodeObserver {
        /**
         * {@code length} bytes of {@code file} from {@code offset} now lie at {@code start}, executable.
         * It may rewrite them (they are the process's own copy) but not the mappings.
         */
        void mapped(AddressSpace space, FileDescription file, long offset, long start, long length);
    }

    public LinuxProcess(AddressSpace addressSpace, FdTable files, String cwd) {
        this.pid = TEMPLATE_PID;
        this.addressSpace = addressSpace;
        this.files = files;
        this.signals = new SignalState();
        this.scheduler = new Scheduler();
        this.timers = new Timers();
        this.cwd = cwd;
        this.rlimitCur = Rlimits.defaults(false);
        this.rlimitMax = Rlimits.defaults(true);
    }

    private LinuxProcess(LinuxProcess o, AddressSpace addressSpace, FdTable files, LinuxProcess spent) {
        this.pid = FIRST_FORK_PID + Math.floorMod(forks.getAndIncrement(), PID_LIMIT - FIRST_FORK_PID);
        this.addressSpace = addressSpace;
        this.files = files;
        this.signals = o.signals.copyInto(spent != null ? spent.signals : new SignalState());
        this.scheduler = o.scheduler.copy(spent != null ? spent.scheduler : null);
        this.timers = o.timers.copyInto(spent != null ? spent.timers : new Timers());
        this.cwd = o.cwd;
        this.umask = o.umask;
        this.rlimitCur = copy(o.rlimitCur, spent != null ? spent.rlimitCur : null);
        this.rlimitMax = copy(o.rlimitMax, spent != null ? spent.rlimitMax : null);
        files.forEach(f -> {
            if (f instanceof SignalFdFile s) {
                s.attach(this); // the copy reads this process's signals, never the template's
            }
        });
    }

    /**
     * A copy for a VM with other memory: the same state, and nothing mutable shared with this
     * process (host objects it made are replicated, see {@link FileDescription#fork}).
     */
    public LinuxProcess fork(GuestMemory memory, PageTables tables) {
        return fork(memory, tables, null);
    }

    /**
     * {@link #fork(GuestMemory, PageTables)} for a reset: {@code spent} is the process the VM ran
     * until now, whose fds are all closed and which nobody uses again. Its largest parts (the fd
     * table, the signal dispositions, the threads' FPU areas) are overwritten with this process's
     * state instead of allocated anew; everything else is new, as in a first fork.
     */
    public LinuxProcess fork(GuestMemory memory, PageTables tables, LinuxProcess spent) {
        AddressSpace space = addressSpace.copy(memory, tables);
        FdTable forkedFiles;
        try {
            forkedFiles = files.fork(new ForkContext(space), spent != null ? spent.files : new FdTable());
        } catch (RuntimeException e) {
            throw new IllegalStateException("cannot fork the template's open files: " + e.getMessage(), e);
        }
        return new LinuxProcess(this, space, forkedFiles, spent);
    }

    private static long[] copy(long[] from, long[] into) {
        if (into == null) {
            return from.clone();
        }
        System.arraycopy(from, 0, into, 0, from.length);
        return into;
    }

    /** Tells {@code observer} about the code the program maps from now on; null to stop. */
    public void observeCode(CodeObserver observer) {
        this.codeObserver = observer;
    }

    /** The executable file mapping {@code [start, start + length)} from {@code file} at {@code offset} is filled. */
    void codeMapped(FileDescription file, long offset, long start, long length) {
        if (codeObserver != null) {
            codeObserver.mapped(addressSpace, file, offset, start, length);
        }
    }

    public AddressSpace memory() {
        return addressSpace;
    }

    public FdTable files() {
        return files;
    }

    public SignalState signals() {
        return signals;
    }

    /** The threads, and whose turn it is on the vCPU. */
    public Scheduler scheduler() {
        return scheduler;
    }

    /** {@code setitimer}, {@code alarm} and {@code timer_create} timers. */
    public Timers timers() {
        return timers;
    }

    /**
     * When something of the process's is next due besides {@code thread}'s own wait: another
     * thread's timed wait (a futex, a sleep, a poll with a timeout) ending, or a timer firing;
     * {@link Deadline#NEVER} when nothing is.
     */
    long nextDeadlineBesides(GuestThread thread) {
        return Math.min(timers.nextDeadline(), scheduler.nextDeadlineBesides(thread));
    }

    /** This process's id ({@code getpid}); its main thread's id stays {@link Scheduler#MAIN_TID}. */
    public int pid() {
        return pid;
    }

    /**
     * Whether {@code id} names this process: its own id, or the template's, which a program may
     * have kept from its start (a runtime's cached pid) to signal itself; natively that would be
     * the parent, or init, which it could not signal at all.
     */
    public boolean isSelf(long id) {
        return id == pid || id == TEMPLATE_PID;
    }

    public String cwd() {
        return cwd;
    }

    public void setCwd(String cwd) {
        this.cwd = cwd;
    }

    public int umask() {
        return umask;
    }

    public void setUmask(int umask) {
        this.umask = umask & 0777;
    }

    public long[] rlimitCur() {
        return rlimitCur;
    }

    public long[] rlimitMax() {
        return rlimitMax;
    }
}
