package io.kvmserver.linux;

/** Resource limits the guest sees: those of a typical Linux login, NOFILE capped at the fd table. */
final class Rlimits {

    static final int RLIMIT_STACK = 3;
    static final int RLIMIT_NOFILE = 7;
    static final int RLIMIT_AS = 9;
    static final int COUNT = 16;
    static final long INFINITY = -1L;

    private Rlimits() {
    }

    static long[] defaults(boolean hard) {
        long[] v = new long[COUNT];
        java.util.Arrays.fill(v, INFINITY);
        v[RLIMIT_STACK] = hard ? INFINITY : 8L << 20;
        v[RLIMIT_NOFILE] = FdTable.LIMIT;
        v[4] = 0; // RLIMIT_CORE
        v[6] = hard ? 4096 : 4096; // RLIMIT_NPROC
        v[8] = 8L << 20; // RLIMIT_MEMLOCK
        v[11] = 0; // RLIMIT_SIGPENDING: none are queued
        v[12] = 819200; // RLIMIT_MSGQUEUE
        v[13] = 0; // RLIMIT_NICE
        v[14] = 0; // RLIMIT_RTPRIO
        return v;
    }
}
