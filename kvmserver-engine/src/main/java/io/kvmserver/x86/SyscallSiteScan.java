package io.kvmserver.x86;

/**
 * Finds the {@code mov $nr, %eax; syscall} sites ({@link SyscallTrampoline}) in the functions of a
 * code segment without running it: from each function's start (where an instruction starts, as its
 * symbol says) it decodes instruction after instruction ({@link InstructionLength}) to the
 * function's end, and stops at the first encoding it does not know. Every site found so starts
 * where an instruction does; bytes that only look like one, inside another instruction or in data,
 * are never reached. Sites after an unknown encoding are missed, never guessed.
 *
 * <p>The C library's {@code read} clears EAX with a two-byte {@code xor} before its {@code syscall},
 * and Go's generic call moves a register into RDI with a three-byte {@code mov}: too short for a
 * jump to a trampoline. For a function decoded to its end, the scan also reports such a site with
 * padding within a {@code jmp rel8} of it that no path of the function executes
 * ({@link Sink#shortSite}): inside the function, or {@code int3}s right after its last instruction
 * when that never falls through, before the next function's symbol (Go pads between functions
 * with {@code int3}, outside their symbols' sizes). Only direct branches name their
 * targets, so a function with a jump through a register (a switch's table) offers no padding.
 */
public final class SyscallSiteScan {

    private SyscallSiteScan() {
    }

    /** Told about each site. */
    public interface Sink {
        /** A relocatable site: the address of the five-byte instruction before its {@code syscall}. */
        void site(long address);

        /**
         * A short site at {@code address} ({@link SyscallTrampoline#shortSiteLength}), whose
         * instruction before the {@code syscall} is too short for a jump to a trampoline, and padding at
         * {@code pad} within a {@code jmp rel8} of it, which the function never executes: its
         * whole instructions that cover the jump's five bytes, {@code padLength} bytes
         * ({@link SyscallTrampoline#encodeShortTrampoline}).
         */
        default void shortSite(long address, long pad, int padLength) {
        }
    }

    /** Bytes of padding a short site's jump to its trampoline takes: a {@code jmp rel32}. */
    static final int PAD_LENGTH = SyscallTrampoline.JUMP_LENGTH;
    /** The most padding decoded after a function's end: a {@code jmp rel8} reaches no further anyway. */
    static final int MAX_TAIL = 128;
    /** Decoding a scan may do beyond twice its segment's size (see {@link #scan}). */
    static final long DECODE_ALLOWANCE = 1 << 20;

    /**
     * Scans the functions ({start, size} pairs, as {@code ElfSymbols.functions} gives them) that
     * lie in the segment whose {@code fileSize} bytes at {@code fileOffset} of {@code file} are
     * loaded at {@code vaddr}; reports the sites {@link SyscallTrampoline#isRelocatableSite} takes
     * ({@code mov $nr, %eax} with {@code nr} below {@code numbers}) by their {@code vaddr}-based
     * address, and the short sites of functions it decoded to their end. Returns how many it
     * reported.
     */
    public static int scan(byte[] file, long fileOffset, long vaddr, long fileSize, long[] functions, int numbers,
            Sink sink) {
        if (fileOffset < 0 || fileSize < 0 || fileOffset > file.length || fileSize > file.length - fileOffset) {
            return 0;
        }
        Function f = new Function(file, vaddr - fileOffset);
        long[] starts = new long[functions.length / 2];
        for (int i = 0; i < starts.length; i++) {
            starts[i] = functions[2 * i];
        }
        java.util.Arrays.sort(starts);
        int found = 0;
        // The symbols are the program's: thousands of them, each spanning the whole segment, made
        // one scan decode the segment thousands of times (hours of a host thread, at boot or in
        // an mmap, where no time limit reaches). Real code decodes about once: aliases of one
        // function (glibc's weak symbols) are scanned once, and all of it is bounded.
        long budget = 2 * fileSize + DECODE_ALLOWANCE;
        java.util.Set<Long> scanned = new java.util.HashSet<>();
        for (int i = 0; i + 1 < functions.length; i += 2) {
            long start = functions[i];
            long size = functions[i + 1];
            if (start < vaddr || start - vaddr >= fileSize || !scanned.add(start)) {
                continue;
            }
            int at = (int) (fileOffset + (start - vaddr));
            int end = (int) Math.min(fileOffset + fileSize, at + Math.min(size, fileSize));
            // Padding after the function may be taken up to the next function's start, no further.
            long next = nextStart(starts, start + Math.max(size, 1));
            int tailLimit = (int) Math.min(fileOffset + fileSize, Math.min(end + (long) MAX_TAIL,
                    next == Long.MAX_VALUE ? Long.MAX_VALUE : fileOffset + (next - vaddr)));
            budget -= Math.max(end, tailLimit) - at;
            if (budget < 0) {
                break; // the sites left are missed: their calls take the trap, as unscanned code's do
            }
            f.decode(at, end, Math.max(end, tailLimit));
            found += f.reportSites(numbers, sink);
            if (f.complete) {
                found += f.reportShortSites(sink);
            }
        }
        return found;
    }

    /** The first of the sorted {@code starts} at or after {@code address}; {@code Long.MAX_VALUE} if none. */
    private static long nextStart(long[] starts, long address) {
        int i = java.util.Arrays.binarySearch(starts, address);
        int first = i >= 0 ? i : -i - 1;
        while (first > 0 && starts[first - 1] >= address) {
            first--;
        }
        return first < starts.length ? starts[first] : Long.MAX_VALUE;
    }

    /** One function's instructions, decoded from its start; reused from function to function. */
    private static final class Function {
        private final byte[] code;
        /** Guest address minus index into {@link #code}. */
        private final long base;
        private int[] starts = new int[256];
        private int[] targets = new int[64];
        private int count;
        private int targetCount;
        private int end;
        /**
         * Whether every instruction to the function's end was decoded and every jump's target is
         * known (no jump through a register or memory): then the only ways into a padding run
         * after an instruction that never falls through are the function's direct branches.
         */
        private boolean complete;
        /** The padding runs given to short sites so far, by start: one site each. */
        private int[] padsUsed = new int[8];
        private int padsUsedCount;

        Function(byte[] code, long base) {
            this.code = code;
            this.base = base;
        }

        /**
         * Decodes {@code [at, end)}, and when that is complete and its last instruction never falls
         * through, the {@code int3} padding right after it, below {@code tailLimit}: counted as the
         * function's own (only its branches can reach it; nothing runs {@code int3} padding on
         * purpose, where a {@code nop} might start code that has no symbol).
         */
        void decode(int at, int end, int tailLimit) {
            this.end = end;
            count = 0;
            targetCount = 0;
            padsUsedCount = 0;
            boolean targetsKnown = true;
            while (at < end) {
                int length = InstructionLength.of(code, at, end);
                if (length == InstructionLength.UNKNOWN) {
                    break;
                }
                starts = add(starts, count++, at);
                long target = InstructionKind.branchTarget(code, at, length);
                if (target == InstructionKind.UNKNOWN_TARGET) {
                    targetsKnown = false;
                } else if (target != InstructionKind.NO_TARGET) {
                    long to = at + target;
                    if (to >= Integer.MIN_VALUE && to <= Integer.MAX_VALUE) {
                        targets = add(targets, targetCount++, (int) to);
                    }
                }
                at += length;
            }
            complete = at >= end && targetsKnown;
            if (complete && count > 0 && InstructionKind.endsFlow(code, starts[count - 1], at - starts[count - 1])) {
                // int3 only: a nop there could be the first instruction of code without a symbol
                while (at < tailLimit && (code[at] & 0xff) == 0xcc) {
                    starts = add(starts, count++, at);
                    at++;
                }
            }
            starts = add(starts, count, at); // where the last one ends: length(i) for every i < count
            java.util.Arrays.sort(targets, 0, targetCount);
        }

        private int length(int i) {
            return starts[i + 1] - starts[i];
        }

        int reportSites(int numbers, Sink sink) {
            int found = 0;
            for (int i = 0; i < count; i++) {
                int at = starts[i];
                if (length(i) == SyscallTrampoline.JUMP_LENGTH && at + SyscallTrampoline.SITE_LENGTH <= end
                        && SyscallTrampoline.isRelocatableSite(code, at)
                        && (code[at] != (byte) 0xb8 || Integer.compareUnsigned(InstructionKind.int32(code, at + 1), numbers) < 0)) {
                    sink.site(base + at);
                    found++;
                }
            }
            return found;
        }

        /**
         * Reports each short site ({@link SyscallTrampoline#shortSiteLength}) with a padding run of
         * its own: at least {@link #PAD_LENGTH} bytes of padding instructions right after one that
         * never falls through, no direct branch of the function into any of it, its start within a
         * {@code jmp rel8} from the site.
         */
        int reportShortSites(Sink sink) {
            int found = 0;
            for (int i = 0; i + 1 < count; i++) {
                int at = starts[i];
                int length = length(i);
                if ((length == 2 || length == 3) && length(i + 1) == 2 && starts[i + 1] + 2 <= end
                        && SyscallTrampoline.shortSiteLength(code, at) == length + 2) {
                    int pad = padNear(at + SyscallTrampoline.SHORT_JUMP_LENGTH);
                    if (pad >= 0) {
                        sink.shortSite(base + at, base + starts[pad], jumpCover(pad) - starts[pad]);
                        padsUsed = add(padsUsed, padsUsedCount++, starts[pad]);
                        found++;
                    }
                }
            }
            return found;
        }

        /** The first unused padding run whose start a {@code jmp rel8} ending at {@code from} reaches; -1 if none. */
        private int padNear(int from) {
            for (int k = 1; k < count; k++) {
                int distance = starts[k] - from;
                if (distance < -128 || distance > 127 || !InstructionKind.isPadding(code, starts[k], length(k))
                        || !InstructionKind.endsFlow(code, starts[k - 1], length(k - 1))) {
                    continue;
                }
                int last = runEnd(k);
                if (starts[last] - starts[k] >= PAD_LENGTH && !targeted(starts[k], starts[last]) && !used(starts[k])) {
                    return k;
                }
            }
            return -1;
        }

        /**
         * Where the padding instructions from instruction {@code k} on first cover the
         * {@link #PAD_LENGTH} bytes the jump takes: what the rewriter checks again and overwrites
         * (at most a few instructions, whatever the run's length in the file).
         */
        private int jumpCover(int k) {
            int j = k;
            while (starts[j] - starts[k] < PAD_LENGTH) {
                j++;
            }
            return starts[j];
        }

        /** The index of the first instruction after the padding run that starts at instruction {@code k}. */
        private int runEnd(int k) {
            int j = k;
            while (j < count && InstructionKind.isPadding(code, starts[j], length(j))) {
                j++;
            }
            return j;
        }

        /** Whether a direct branch of the function goes into {@code [from, to)}. */
        private boolean targeted(int from, int to) {
            int i = java.util.Arrays.binarySearch(targets, 0, targetCount, from);
            int first = i >= 0 ? i : -i - 1;
            // binarySearch finds any of equal keys: step back to the first not below from
            while (first > 0 && targets[first - 1] >= from) {
                first--;
            }
            return first < targetCount && targets[first] < to;
        }

        private boolean used(int padStart) {
            for (int i = 0; i < padsUsedCount; i++) {
                if (padsUsed[i] == padStart) {
                    return true;
                }
            }
            return false;
        }

        private static int[] add(int[] array, int index, int value) {
            int[] a = index < array.length ? array : java.util.Arrays.copyOf(array, array.length * 2);
            a[index] = value;
            return a;
        }
    }
}
