package io.kvmserver.linux;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * A {@code siginfo_t}: why a signal was sent. Laid out as Linux x86-64 does (128 bytes): signo,
 * errno and code, then a union whose meaning the code chooses.
 *
 * @param signo the signal
 * @param code {@code si_code}: {@link #SI_USER} for kill, {@link #SI_TKILL} for tgkill,
 *     {@link #SI_KERNEL}, a fault code (such as {@code SEGV_ACCERR}), {@link #SI_TIMER}
 * @param address {@code si_addr} for faults
 * @param pid {@code si_pid} (kill, tgkill); for timers {@code si_tid}
 * @param uid {@code si_uid}; for timers {@code si_overrun}
 * @param value {@code si_value} (timers, sigqueue)
 */
public record Siginfo(int signo, int code, long address, int pid, int uid, long value) {

    public static final int SIZE = 128;
    public static final int SI_USER = 0;
    public static final int SI_KERNEL = 0x80;
    public static final int SI_QUEUE = -1;
    public static final int SI_TIMER = -2;
    public static final int SI_TKILL = -6;

    /** A signal sent by the program to itself ({@code kill}: SI_USER, {@code tgkill}: SI_TKILL), from {@code pid}. */
    public static Siginfo sent(int signo, int code, int pid) {
        return new Siginfo(signo, code, 0, pid, LinuxProcess.UID, 0);
    }

    /** A signal the kernel raises (SIGPIPE, SIGALRM of alarm and setitimer). */
    public static Siginfo kernel(int signo) {
        return new Siginfo(signo, SI_KERNEL, 0, 0, 0, 0);
    }

    /** A CPU fault: the faulting address (or the instruction) and the fault's code. */
    public static Siginfo fault(int signo, int code, long address) {
        return new Siginfo(signo, code, address, 0, 0, 0);
    }

    /** Writes the 128 bytes of {@code siginfo_t}. */
    public byte[] bytes() {
        ByteBuffer b = ByteBuffer.allocate(SIZE).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(0, signo);
        b.putInt(8, code);
        boolean fault = code > 0 && code < SI_KERNEL && isFaultSignal(signo);
        if (fault) {
            b.putLong(16, address);
        } else {
            b.putInt(16, pid);
            b.putInt(20, uid);
            b.putLong(24, value);
        }
        return b.array();
    }

    private static boolean isFaultSignal(int signo) {
        return signo == SignalState.SIGSEGV || signo == SignalState.SIGBUS || signo == SignalState.SIGILL
                || signo == SignalState.SIGFPE || signo == SignalState.SIGTRAP;
    }
}
