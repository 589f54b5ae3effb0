package io.kvmserver.x86;

/**
 * What {@link SyscallSiteScan} needs to know of an instruction whose start and length
 * {@link InstructionLength} proved: whether it jumps to a fixed place (a direct branch, and where
 * to), whether execution never goes on after it (an unconditional jump, a return, {@code ud2}),
 * and whether it is padding (a {@code nop} of any length, {@code int3}). Everything else is
 * "other": never a branch, never padding.
 */
public final class InstructionKind {

    private InstructionKind() {
    }

    /** {@link #branchTarget} of an instruction that is no direct branch. */
    public static final long NO_TARGET = Long.MIN_VALUE;
    /**
     * {@link #branchTarget} of a jump whose target is not in its bytes: through a register or
     * memory (a switch's jump table, which may go anywhere in the function), or a direct branch
     * with an operand-size prefix, whose displacement CPUs read differently (Intel ignores the
     * prefix in 64-bit mode, AMD takes a rel16).
     */
    public static final long UNKNOWN_TARGET = Long.MAX_VALUE;

    /**
     * Where the direct branch of {@code length} bytes at {@code code[at]} goes, relative to
     * {@code at} ({@code jcc}, {@code jmp}, {@code call}, {@code loop}, {@code jrcxz}, rel8 or rel32);
     * {@link #UNKNOWN_TARGET} for an indirect jump; {@link #NO_TARGET} for any other instruction
     * (an indirect call returns after itself).
     */
    public static long branchTarget(byte[] code, int at, int length) {
        int op = opcode(code, at, length);
        if (op < 0) {
            return NO_TARGET;
        }
        int b = code[op] & 0xff;
        int end = at + length;
        boolean near = b == 0xe8 || b == 0xe9 || (b == 0x0f && op + 1 < end && (code[op + 1] & 0xf0) == 0x80);
        if (near && hasOperandSizePrefix(code, at, op)) {
            return UNKNOWN_TARGET;
        }
        if (b == 0xff && op + 1 < end && (((code[op + 1] >> 3) & 7) == 4 || ((code[op + 1] >> 3) & 7) == 5)) {
            return UNKNOWN_TARGET; // jmp r/m, jmp far m
        }
        if ((b >= 0x70 && b <= 0x7f) || b == 0xeb || (b >= 0xe0 && b <= 0xe3)) {
            return length + (long) code[end - 1]; // rel8, the instruction's last byte
        }
        if (near) {
            return length + (long) int32(code, end - 4); // rel32, its last four bytes
        }
        return NO_TARGET;
    }

    /**
     * Whether execution never falls through the instruction: {@code ret}, {@code ret imm16},
     * {@code jmp} (rel8, rel32, or through a register or memory), {@code ud2}.
     */
    public static boolean endsFlow(byte[] code, int at, int length) {
        int op = opcode(code, at, length);
        if (op < 0) {
            return false;
        }
        int b = code[op] & 0xff;
        if (b == 0xc3 || b == 0xc2 || b == 0xe9 || b == 0xeb) {
            return true;
        }
        if (b == 0xff && op + 1 < at + length) {
            int reg = (code[op + 1] >> 3) & 7;
            return reg == 4 || reg == 5; // jmp r/m, jmp far m
        }
        return b == 0x0f && op + 1 < at + length && (code[op + 1] & 0xff) == 0x0b; // ud2
    }

    /**
     * Whether the instruction is padding a compiler puts between code it never falls into:
     * {@code nop} ({@code 90}, or {@code 0F 1F /0} with any operand), with only operand-size and
     * segment prefixes, or {@code int3}.
     */
    public static boolean isPadding(byte[] code, int at, int length) {
        int p = at;
        int end = at + length;
        while (p < end && ((code[p] & 0xff) == 0x66 || (code[p] & 0xff) == 0x2e || (code[p] & 0xff) == 0x3e)) {
            p++;
        }
        if (p == end) {
            return false;
        }
        int b = code[p] & 0xff;
        if (b == 0x90) {
            return p + 1 == end; // with no REX before it: 41 90 is xchg %eax, %r8d
        }
        if (b == 0xcc) {
            return length == 1;
        }
        return b == 0x0f && p + 2 < end && (code[p + 1] & 0xff) == 0x1f && ((code[p + 2] >> 3) & 7) == 0;
    }

    /** Whether {@code code[at..end)} is whole padding instructions ({@link #isPadding}) and nothing else. */
    public static boolean isPaddingRun(byte[] code, int at, int end) {
        while (at < end) {
            int length = InstructionLength.of(code, at, end);
            if (length == InstructionLength.UNKNOWN || !isPadding(code, at, length)) {
                return false;
            }
            at += length;
        }
        return at == end;
    }

    /**
     * The index of the opcode byte of the instruction at {@code code[at]}, past its legacy and REX
     * prefixes; -1 if there is none within its length.
     */
    private static int opcode(byte[] code, int at, int length) {
        int end = at + length;
        int p = at;
        while (p < end) {
            int b = code[p] & 0xff;
            boolean legacy = b == 0x66 || b == 0x67 || b == 0xf2 || b == 0xf3 || b == 0x2e || b == 0x3e
                    || b == 0x26 || b == 0x36 || b == 0x64 || b == 0x65 || b == 0xf0;
            if (!legacy && (b & 0xf0) != 0x40) {
                return p;
            }
            p++;
        }
        return -1;
    }

    private static boolean hasOperandSizePrefix(byte[] code, int at, int op) {
        for (int p = at; p < op; p++) {
            if ((code[p] & 0xff) == 0x66) {
                return true;
            }
        }
        return false;
    }

    /** The little-endian 32-bit value at {@code b[at..at + 4)}: an instruction's rel32 or imm32. */
    static int int32(byte[] b, int at) {
        return (b[at] & 0xff) | (b[at + 1] & 0xff) << 8 | (b[at + 2] & 0xff) << 16 | (b[at + 3] & 0xff) << 24;
    }
}
