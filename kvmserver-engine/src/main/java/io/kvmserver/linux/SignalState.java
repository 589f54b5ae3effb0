package io.kvmserver.linux;

/**
 * Signal dispositions and the blocked mask. The engine does not deliver signals into the guest
 * (a fault ends the request); it keeps what the program set so that {@code rt_sigaction} and
 * {@code rt_sigprocmask} answer truthfully, and so that a reset restores them like everything
 * else.
 */
public final class SignalState {

    public static final int NSIG = 64;
    public static final long SIG_DFL = 0;
    public static final long SIG_IGN = 1;

    private final long[] handler = new long[NSIG + 1];
    private final long[] flags = new long[NSIG + 1];
    private final long[] restorer = new long[NSIG + 1];
    private final long[] mask = new long[NSIG + 1];
    private long blocked;
    private long altStack;
    private long altStackSize;
    private int altStackFlags = 2; // SS_DISABLE

    public long handler(int sig) {
        return handler[sig];
    }

    public void get(int sig, long[] out) {
        out[0] = handler[sig];
        out[1] = flags[sig];
        out[2] = restorer[sig];
        out[3] = mask[sig];
    }

    public void set(int sig, long newHandler, long newFlags, long newRestorer, long newMask) {
        handler[sig] = newHandler;
        flags[sig] = newFlags;
        restorer[sig] = newRestorer;
        mask[sig] = newMask;
    }

    public long blocked() {
        return blocked;
    }

    public void setBlocked(long value) {
        // SIGKILL and SIGSTOP cannot be blocked.
        blocked = value & ~((1L << 8) | (1L << 18));
    }

    public long altStack() {
        return altStack;
    }

    public long altStackSize() {
        return altStackSize;
    }

    public int altStackFlags() {
        return altStackFlags;
    }

    public void setAltStack(long sp, long size, int flagsValue) {
        altStack = sp;
        altStackSize = size;
        altStackFlags = flagsValue;
    }

    public SignalState copy() {
        SignalState c = new SignalState();
        System.arraycopy(handler, 0, c.handler, 0, handler.length);
        System.arraycopy(flags, 0, c.flags, 0, flags.length);
        System.arraycopy(restorer, 0, c.restorer, 0, restorer.length);
        System.arraycopy(mask, 0, c.mask, 0, mask.length);
        c.blocked = blocked;
        c.altStack = altStack;
        c.altStackSize = altStackSize;
        c.altStackFlags = altStackFlags;
        return c;
    }
}
