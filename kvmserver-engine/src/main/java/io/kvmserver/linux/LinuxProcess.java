package io.kvmserver.linux;

import io.kvmserver.memory.GuestMemory;
import io.kvmserver.x86.PageTables;

/**
 * Everything the emulated kernel keeps for one VM's program, in one object: memory bookkeeping,
 * fds, current directory, umask, signals, thread records, FS base, rlimits.
 *
 * <p>Keeping it in one place is what makes a reset complete: a request VM starts from
 * {@link #fork} of the template's process and is reset by taking a fresh fork, so a new piece of
 * state cannot be forgotten by the reset as long as it lives here.
 */
public final class LinuxProcess {

    public static final int PID = 1;

    private final AddressSpace addressSpace;
    private final FdTable files;
    private final SignalState signals;
    private String cwd;
    private int umask = 0022;
    private long fsBase;
    private long gsBase;
    private long clearChildTid;
    private long robustList;
    private long rseqArea;
    private final long[] rlimitCur;
    private final long[] rlimitMax;

    public LinuxProcess(AddressSpace addressSpace, FdTable files, String cwd) {
        this.addressSpace = addressSpace;
        this.files = files;
        this.signals = new SignalState();
        this.cwd = cwd;
        this.rlimitCur = Rlimits.defaults(false);
        this.rlimitMax = Rlimits.defaults(true);
    }

    private LinuxProcess(LinuxProcess o, AddressSpace addressSpace, FdTable files) {
        this.addressSpace = addressSpace;
        this.files = files;
        this.signals = o.signals.copy();
        this.cwd = o.cwd;
        this.umask = o.umask;
        this.fsBase = o.fsBase;
        this.gsBase = o.gsBase;
        this.clearChildTid = o.clearChildTid;
        this.robustList = o.robustList;
        this.rseqArea = o.rseqArea;
        this.rlimitCur = o.rlimitCur.clone();
        this.rlimitMax = o.rlimitMax.clone();
    }

    /**
     * A copy for a VM with other memory: the same state, and nothing mutable shared with this
     * process (host objects it made are replicated, see {@link FileDescription#fork}).
     */
    public LinuxProcess fork(GuestMemory memory, PageTables tables) {
        AddressSpace space = addressSpace.copy(memory, tables);
        FdTable forkedFiles;
        try {
            forkedFiles = files.fork(new ForkContext(space));
        } catch (RuntimeException e) {
            throw new IllegalStateException("cannot fork the template's open files: " + e.getMessage(), e);
        }
        return new LinuxProcess(this, space, forkedFiles);
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

    public long fsBase() {
        return fsBase;
    }

    public void setFsBase(long fsBase) {
        this.fsBase = fsBase;
    }

    public long gsBase() {
        return gsBase;
    }

    public void setGsBase(long gsBase) {
        this.gsBase = gsBase;
    }

    public long clearChildTid() {
        return clearChildTid;
    }

    public void setClearChildTid(long address) {
        this.clearChildTid = address;
    }

    public long robustList() {
        return robustList;
    }

    public void setRobustList(long head) {
        this.robustList = head;
    }

    public long rseqArea() {
        return rseqArea;
    }

    public void setRseqArea(long area) {
        this.rseqArea = area;
    }

    public long[] rlimitCur() {
        return rlimitCur;
    }

    public long[] rlimitMax() {
        return rlimitMax;
    }
}
