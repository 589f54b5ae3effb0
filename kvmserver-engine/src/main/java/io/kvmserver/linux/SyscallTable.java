package io.kvmserver.linux;

import io.kvmserver.host.SyscallNumbers;

import io.kvmserver.host.Errno;

import io.kvmserver.memory.GuestMemory;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * System call dispatch: a table indexed by number, filled by one class per family. A handler
 * returns the value for RAX ({@code -errno} on failure) or throws {@link SyscallError}. An
 * unknown number returns {@code ENOSYS} and is logged once per number; a handler bug returns
 * {@code EINVAL}... never an exception into the vCPU loop, because the guest is hostile and a
 * host exception would be a way to take the server down.
 */
public final class SyscallTable {

    private static final Logger log = LoggerFactory.getLogger(SyscallTable.class);

    /** One system call's implementation. */
    @FunctionalInterface
    public interface Handler {
        long handle(Syscall call);
    }

    /**
     * Handler bugs caught in this JVM ({@link #emulationBugs()}): each one is a guest-triggered
     * host exception, so tests that attack the engine assert that this count does not move.
     */
    private static final AtomicLong EMULATION_BUGS = new AtomicLong();

    private final Handler[] handlers = new Handler[SyscallNumbers.COUNT];
    private final AtomicIntegerArray reported = new AtomicIntegerArray(SyscallNumbers.COUNT + 1);

    /** The full Linux table the engine implements. */
    public static SyscallTable standard() {
        SyscallTable t = new SyscallTable();
        MemorySyscalls.register(t);
        FileSyscalls.register(t);
        PathSyscalls.register(t);
        ProcessSyscalls.register(t);
        ThreadSyscalls.register(t);
        FutexSyscalls.register(t);
        CapabilitySyscalls.register(t);
        TimeSyscalls.register(t);
        SignalSyscalls.register(t);
        TimerSyscalls.register(t);
        NetSyscalls.register(t);
        PollSyscalls.register(t);
        EpollSyscalls.register(t);
        EventFdSyscalls.register(t);
        return t;
    }

    /** How many handler bugs ("bug in the emulation" log lines) this JVM has seen so far. */
    public static long emulationBugs() {
        return EMULATION_BUGS.get();
    }

    public void register(int number, Handler handler) {
        if (handlers[number] != null) {
            throw new IllegalStateException("system call " + SyscallNumbers.name(number) + " registered twice");
        }
        handlers[number] = handler;
    }

    public boolean isImplemented(int number) {
        return number >= 0 && number < handlers.length && handlers[number] != null;
    }

    public long dispatch(Syscall call) {
        long nr = call.number();
        Handler h = nr >= 0 && nr < handlers.length ? handlers[(int) nr] : null;
        if (h == null) {
            int slot = nr >= 0 && nr < handlers.length ? (int) nr : handlers.length;
            if (reported.compareAndSet(slot, 0, 1)) {
                log.warn("guest called unimplemented system call {} ({}): returning ENOSYS",
                        SyscallNumbers.name(nr), nr);
            }
            return -Errno.ENOSYS;
        }
        call.countHostCall();
        try {
            long result = h.handle(call);
            if (result == -Errno.EPIPE) {
                Signals.brokenPipe(call);
            }
            return result;
        } catch (SyscallError e) {
            return -e.errno();
        } catch (GuestMemory.LimitExceeded e) {
            throw e; // not a failure of the call: the request is over, the vCPU loop stops it
        } catch (RuntimeException e) {
            EMULATION_BUGS.incrementAndGet();
            log.error("bug in the emulation of {}: returning EINVAL to the guest", SyscallNumbers.name(nr), e);
            return -Errno.EINVAL;
        }
    }
}
