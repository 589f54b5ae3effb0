package io.kvmserver.vm;

/**
 * Turns a CPU exception of the guest program into what Linux would have done: the signal the
 * program dies of, and a one-line description a user can act on (what was accessed, where, and
 * from which instruction).
 */
final class Faults {

    static final int SIGILL = 4;
    static final int SIGTRAP = 5;
    static final int SIGBUS = 7;
    static final int SIGFPE = 8;
    static final int SIGSEGV = 11;
    static final int PAGE_FAULT = 14;

    private static final long PF_PRESENT = 1;
    private static final long PF_WRITE = 2;
    private static final long PF_INSTRUCTION = 16;

    private Faults() {
    }

    /** {@code cr2} is the faulting address, read only for page faults. */
    static RunResult describe(int vector, long errorCode, long rip, long cr2) {
        String where = " at RIP 0x" + Long.toHexString(rip);
        return switch (vector) {
            case PAGE_FAULT -> {
                String access = (errorCode & PF_INSTRUCTION) != 0 ? "executing"
                        : (errorCode & PF_WRITE) != 0 ? "writing" : "reading";
                String why = (errorCode & PF_PRESENT) != 0 ? "protection violation" : "unmapped address";
                yield RunResult.crashed(SIGSEGV, "segmentation fault " + access + " 0x" + Long.toHexString(cr2)
                        + " (" + why + ")" + where);
            }
            case 0 -> RunResult.crashed(SIGFPE, "division error" + where);
            case 16, 19 -> RunResult.crashed(SIGFPE, "floating-point exception" + where);
            case 6 -> RunResult.crashed(SIGILL, "illegal instruction" + where);
            case 1, 3 -> RunResult.crashed(SIGTRAP, "breakpoint or trap" + where);
            case 17 -> RunResult.crashed(SIGBUS, "alignment check" + where);
            case 13 -> RunResult.crashed(SIGSEGV, "general protection fault (privileged instruction or bad segment)"
                    + where);
            default -> RunResult.crashed(SIGSEGV, "CPU exception " + vector + " (error code 0x"
                    + Long.toHexString(errorCode) + ")" + where);
        };
    }
}
