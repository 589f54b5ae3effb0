package io.kvmserver.vm;

import com.sun.jna.LastErrorException;
import com.sun.jna.Memory;
import com.sun.jna.Pointer;
import io.kvmserver.host.LibC;
import io.kvmserver.host.SyscallNumbers;
import io.kvmserver.kvm.KvmException;

/**
 * The tick that ends a guest thread's time slice: a host POSIX timer that sends
 * {@link VcpuInterrupter#SIGNAL} to the thread running the vCPU every {@code period}, so that
 * {@code KVM_RUN} returns and the vCPU loop can switch threads, fire the program's timers and
 * deliver its signals even while the guest computes without making a system call.
 *
 * <p>It runs only while it is needed (more than one guest thread, or an armed guest timer) and
 * only while the vCPU runs; a signal that arrives while the host handles an exit is harmless, and
 * the next period makes up for it. It allocates nothing once created.
 */
final class TimeSlice implements AutoCloseable {

    private static final int CLOCK_MONOTONIC = 1;
    private static final int SIGEV_THREAD_ID = 4;

    private final Memory sigevent = new Memory(64);
    private final Memory timerId = new Memory(8);
    private final Memory spec = new Memory(32);
    private int timer = -1;
    private int boundTid;
    private boolean armed;

    /** Whether the tick is running. */
    boolean armed() {
        return armed;
    }

    /** Starts ticking every {@code periodNanos} at the calling (vCPU) thread. */
    void arm(long periodNanos) {
        int tid = (int) LibC.syscall(SyscallNumbers.GETTID, 0, 0, 0, 0, 0, 0);
        if (timer >= 0 && tid != boundTid) {
            delete();
        }
        if (timer < 0) {
            create(tid);
        }
        set(periodNanos);
        armed = true;
    }

    void disarm() {
        if (armed) {
            set(0);
            armed = false;
        }
    }

    private void create(int tid) {
        sigevent.clear();
        sigevent.setInt(8, VcpuInterrupter.SIGNAL);
        sigevent.setInt(12, SIGEV_THREAD_ID);
        sigevent.setInt(16, tid);
        try {
            LibC.syscall(SyscallNumbers.TIMER_CREATE, CLOCK_MONOTONIC, Pointer.nativeValue(sigevent),
                    Pointer.nativeValue(timerId), 0, 0, 0);
        } catch (LastErrorException e) {
            throw new KvmException("cannot create the time-slice timer", e.getErrorCode());
        }
        timer = timerId.getInt(0);
        boundTid = tid;
    }

    private void set(long periodNanos) {
        spec.setLong(0, periodNanos / 1_000_000_000L);
        spec.setLong(8, periodNanos % 1_000_000_000L);
        spec.setLong(16, periodNanos / 1_000_000_000L);
        spec.setLong(24, periodNanos % 1_000_000_000L);
        try {
            LibC.syscall(SyscallNumbers.TIMER_SETTIME, timer, 0, Pointer.nativeValue(spec), 0, 0, 0);
        } catch (LastErrorException e) {
            throw new KvmException("cannot set the time-slice timer", e.getErrorCode());
        }
    }

    private void delete() {
        try {
            LibC.syscall(SyscallNumbers.TIMER_DELETE, timer, 0, 0, 0, 0, 0);
        } catch (LastErrorException ignored) {
            // already gone
        }
        timer = -1;
        armed = false;
    }

    @Override
    public void close() {
        if (timer >= 0) {
            delete();
        }
        sigevent.close();
        timerId.close();
        spec.close();
    }
}
