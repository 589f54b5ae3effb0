package io.kvmserver.vm;

import io.kvmserver.linux.Siginfo;

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
    static final int DEBUG = 1;
    static final int GENERAL_PROTECTION = 13;
    static final int PAGE_FAULT = 14;

    private static final long PF_PRESENT = 1;
    private static final long PF_WRITE = 2;
    private static final long PF_INSTRUCTION = 16;

    private static final int SEGV_MAPERR = 1;
    private static final int SEGV_ACCERR = 2;
    private static final int ILL_ILLOPN = 2;
    private static final int FPE_INTDIV = 1;
    private static final int FPE_FLTDIV = 3;
    private static final int FPE_FLTOVF = 4;
    private static final int FPE_FLTUND = 5;
    private static final int FPE_FLTRES = 6;
    private static final int FPE_FLTINV = 7;
    private static final int BUS_ADRALN = 1;
    private static final int TRAP_BRKPT = 1;

    private Faults() {
    }

    /**
     * The signal Linux sends for CPU exception {@code vector} in user mode, with the
     * {@code siginfo} it fills (arch/x86/kernel/traps.c): SIGSEGV with the faulting address for a
     * page fault ({@code SEGV_ACCERR} when the address is mapped, if without the access, as a
     * {@code PROT_NONE} guard page), SIGFPE with the floating-point cause read from {@code fpu} (an
     * XSAVE image), and so on; null for a vector a user program cannot raise.
     */
    static Siginfo signal(int vector, long rip, long cr2, boolean mapped, byte[] fpu) {
        return switch (vector) {
            case PAGE_FAULT -> Siginfo.fault(SIGSEGV, mapped ? SEGV_ACCERR : SEGV_MAPERR, cr2);
            case 0 -> Siginfo.fault(SIGFPE, FPE_INTDIV, rip);
            case 1 -> Siginfo.fault(SIGTRAP, TRAP_BRKPT, rip);
            case 3 -> Siginfo.fault(SIGTRAP, Siginfo.SI_KERNEL, 0);
            case 4, 5, 13 -> Siginfo.fault(SIGSEGV, Siginfo.SI_KERNEL, 0);
            case 6 -> Siginfo.fault(SIGILL, ILL_ILLOPN, rip);
            case 11, 12 -> Siginfo.fault(SIGBUS, Siginfo.SI_KERNEL, 0);
            case 16, 19 -> Siginfo.fault(SIGFPE, floatingPointCode(vector, fpu), rip);
            case 17 -> Siginfo.fault(SIGBUS, BUS_ADRALN, 0);
            default -> null;
        };
    }

    /** Why an x87 (#MF) or SSE (#XM) exception was raised: the unmasked status bit that is set. */
    private static int floatingPointCode(int vector, byte[] fpu) {
        if (fpu == null) {
            return 0;
        }
        int control;
        int status;
        if (vector == 16) {
            control = (fpu[0] & 0xff) | (fpu[1] & 0xff) << 8;
            status = (fpu[2] & 0xff) | (fpu[3] & 0xff) << 8;
        } else {
            int mxcsr = (fpu[24] & 0xff) | (fpu[25] & 0xff) << 8;
            control = mxcsr >> 7;
            status = mxcsr;
        }
        int cause = status & ~control;
        if ((cause & 0x001) != 0) {
            return FPE_FLTINV;
        } else if ((cause & 0x004) != 0) {
            return FPE_FLTDIV;
        } else if ((cause & 0x008) != 0) {
            return FPE_FLTOVF;
        } else if ((cause & 0x012) != 0) {
            return FPE_FLTUND;
        } else if ((cause & 0x020) != 0) {
            return FPE_FLTRES;
        }
        return 0;
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
