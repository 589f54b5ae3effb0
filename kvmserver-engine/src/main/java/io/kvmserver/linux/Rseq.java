package io.kvmserver.linux;

/**
 * Restartable sequences ({@code rseq(2)}): a thread registers a {@code struct rseq} area, and
 * while its {@code rseq_cs} field points at a critical section's descriptor that holds the
 * thread's instruction pointer, a preemption or a signal must not let it resume inside: the
 * thread goes to the section's abort handler instead, which retries (tcmalloc's and librseq's
 * per-CPU data, glibc's registration of every thread). Linux does this on the way back to user
 * mode after either; here a thread is preempted only at a time slice ({@code VcpuLoop}, when
 * another thread runs) and signals are delivered by {@link Signals}, so those two places call
 * {@link #abortIfInside}. System calls inside a section are not allowed, so a thread parked in
 * one is never inside.
 */
public final class Rseq {

    /** {@code sizeof(struct rseq)} of the original ABI; the area is aligned to it. */
    static final int AREA_SIZE = 32;

    /** {@code struct rseq}'s {@code rseq_cs} field: the descriptor of the section, or 0. */
    private static final int RSEQ_CS = 8;

    /** {@code struct rseq_cs}: version, flags, start_ip, post_commit_offset, abort_ip. */
    private static final int CS_SIZE = 32;
    private static final int CS_START_IP = 8;
    private static final int CS_POST_COMMIT_OFFSET = 16;
    private static final int CS_ABORT_IP = 24;

    private Rseq() {
    }

    /**
     * Moves {@code ctx} (the thread's registers, off the vCPU) to the abort handler of the
     * critical section it is in, if any, and clears {@code rseq_cs}, as Linux's
     * {@code rseq_ip_fixup}; a descriptor that no longer holds the instruction pointer is cleared
     * too. False when the area or the descriptor is unusable (unmapped, a version or an abort
     * handler Linux refuses, or the signature before the handler is not the registered one): the
     * thread must die of SIGSEGV, as on Linux.
     */
    public static boolean abortIfInside(AddressSpace memory, GuestThread t, UserContext ctx) {
        long area = t.rseqArea();
        if (area == 0) {
            return true;
        }
        try {
            long cs = memory.readLong(area + RSEQ_CS);
            if (cs == 0) {
                return true;
            }
            memory.check(cs, CS_SIZE, AddressSpace.PROT_READ);
            int version = memory.readInt(cs);
            long start = memory.readLong(cs + CS_START_IP);
            long length = memory.readLong(cs + CS_POST_COMMIT_OFFSET);
            long abort = memory.readLong(cs + CS_ABORT_IP);
            // As Linux checks a descriptor: in user space, and the abort handler outside the section.
            if (version != 0 || Long.compareUnsigned(start, AddressSpace.TASK_SIZE_MAX) >= 0
                    || Long.compareUnsigned(start + length, AddressSpace.TASK_SIZE_MAX) >= 0
                    || Long.compareUnsigned(length, AddressSpace.TASK_SIZE_MAX) >= 0
                    || Long.compareUnsigned(abort, AddressSpace.TASK_SIZE_MAX) >= 0
                    || Long.compareUnsigned(abort - start, length) < 0) {
                return false;
            }
            long ip = ctx.regs[UserContext.RIP];
            if (Long.compareUnsigned(ip - start, length) >= 0) {
                memory.writeLong(area + RSEQ_CS, 0); // outside: Linux clears it on its way back too
                return true;
            }
            if (memory.readInt(abort - 4) != t.rseqSignature()) {
                return false;
            }
            memory.writeLong(area + RSEQ_CS, 0);
            ctx.regs[UserContext.RIP] = abort;
            return true;
        } catch (SyscallError e) {
            return false;
        }
    }
}
