package io.kvmserver.linux;

import io.kvmserver.host.Errno;

/**
 * The signal mask {@code ppoll}, {@code pselect6}, {@code epoll_pwait} and {@code epoll_pwait2}
 * wait with. As on Linux, the thread's mask is replaced for the wait and the caller's is kept
 * aside (the thread's saved mask, as {@code rt_sigsuspend} keeps it): when the wait ends with a
 * result the caller's mask is back at once; when a signal interrupts it ({@code EINTR}) the
 * handler's frame carries the caller's mask, which {@code rt_sigreturn} restores. While parked,
 * the wait's mask is the thread's, so exactly the signals it lets through interrupt it.
 *
 * <p>{@link #wait} runs a wait with its mask; the parts are used on their own by nothing else.
 */
final class WaitMask {

    private static final long SIGSET_SIZE = 8;
    private static final long UNBLOCKABLE = SignalState.bit(SignalState.SIGKILL) | SignalState.bit(SignalState.SIGSTOP);

    private WaitMask() {
    }

    /** A wait of the poll family, given the timeout to wait with (-1: forever). */
    interface Wait {
        long run(Syscall c, long timeoutNanos);
    }

    /**
     * Runs {@code wait} with the mask at {@code address} (none when 0) in place of the thread's.
     * A signal the mask lets through that is pending already makes the wait a poll: what is ready
     * is reported, and if nothing is the call is {@code EINTR}, as on Linux.
     */
    static long wait(Syscall c, long address, long size, long timeoutNanos, Wait wait) {
        boolean masked = apply(c, address, size);
        boolean signalWaiting = masked && Signals.hasDeliverable(c.process(), c.thread());
        long result;
        try {
            result = wait.run(c, signalWaiting ? 0 : timeoutNanos);
        } catch (SyscallError e) {
            finish(c, masked, -e.errno());
            throw e;
        }
        return finish(c, masked, signalWaiting && result == 0 ? -Errno.EINTR : result);
    }

    /**
     * Puts the mask at {@code address} (none when 0) in place for the call: {@code EINVAL} for a
     * size other than 8, {@code EFAULT} for a bad pointer, before anything changes. Returns
     * whether a mask was put in place. A parked call tried again finds its mask already in place
     * and the caller's still aside.
     */
    private static boolean apply(Syscall c, long address, long size) {
        if (address == 0) {
            return false;
        }
        if (size != SIGSET_SIZE) {
            throw new SyscallError(Errno.EINVAL);
        }
        long mask = c.memory().readLong(address) & ~UNBLOCKABLE;
        GuestThread t = c.thread();
        if (t.savedMask() < 0) {
            t.setSavedMask(t.blocked());
        }
        t.setBlocked(mask);
        return true;
    }

    /**
     * The wait's {@code result}: the caller's mask is back unless the call parks ({@link
     * Syscall#RESTART}) or a signal interrupted it ({@code EINTR}: the handler's frame takes the
     * caller's mask, see {@link Signals#deliver}).
     */
    private static long finish(Syscall c, boolean masked, long result) {
        if (masked && result != Syscall.RESTART && result != -Errno.EINTR) {
            restore(c.thread());
        }
        return result;
    }

    /** Puts the caller's mask back, if a wait (or {@code rt_sigsuspend}) set it aside. */
    static void restore(GuestThread t) {
        if (t.savedMask() >= 0) {
            t.setBlocked(t.savedMask());
            t.setSavedMask(-1);
        }
    }
}
