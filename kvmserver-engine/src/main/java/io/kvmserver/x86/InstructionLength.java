package io.kvmserver.x86;

/**
 * The length of one x86-64 instruction, for the encodings compiled code uses: legacy prefixes,
 * REX, the one-byte opcode map, the two-byte ({@code 0F}) map and the three-byte {@code 0F 38} and
 * {@code 0F 3A} maps, each with its ModRM, SIB, displacement and immediate. Anything else (VEX and
 * EVEX, opcodes invalid in 64-bit mode, rare forms such as 64-bit absolute moves) is unknown, and
 * a caller sweeping code stops there: this is used to prove where instructions start
 * ({@link SyscallSiteScan}), so a wrong length must never be guessed.
 */
public final class InstructionLength {

    private InstructionLength() {
    }

    /** Not an encoding this class knows. */
    public static final int UNKNOWN = -1;

    private static final int MAX_LENGTH = 15;

    // One-byte map: what follows the opcode.
    private static final byte X = 0; // unknown: stop
    private static final byte N = 1; // nothing
    private static final byte M = 2; // ModRM
    private static final byte MB = 3; // ModRM, imm8
    private static final byte MZ = 4; // ModRM, imm16/32
    private static final byte B = 5; // imm8 (or rel8)
    private static final byte Z = 6; // imm16/32 (or rel32)
    private static final byte P = 7; // a prefix
    private static final byte MOV = 8; // B8+r: imm16/32/64
    private static final byte W = 9; // imm16 (ret iw)
    private static final byte ENTER = 10; // imm16, imm8
    private static final byte GROUP3 = 11; // F6/F7: ModRM, an immediate for /0 and /1
    private static final byte TWO = 12; // the 0F map

    private static final byte[] ONE_BYTE = new byte[256];
    private static final byte[] TWO_BYTE = new byte[256];

    static {
        for (int base = 0x00; base <= 0x38; base += 8) {
            set(ONE_BYTE, base, base + 3, M); // ALU r/m forms
            ONE_BYTE[base + 4] = B; // ALU al, imm8
            ONE_BYTE[base + 5] = Z; // ALU eax, imm32
        }
        ONE_BYTE[0x0f] = TWO;
        ONE_BYTE[0x26] = P;
        ONE_BYTE[0x2e] = P;
        ONE_BYTE[0x36] = P;
        ONE_BYTE[0x3e] = P;
        set(ONE_BYTE, 0x50, 0x5f, N); // push, pop
        ONE_BYTE[0x63] = M; // movsxd
        set(ONE_BYTE, 0x64, 0x67, P);
        ONE_BYTE[0x68] = Z;
        ONE_BYTE[0x69] = MZ;
        ONE_BYTE[0x6a] = B;
        ONE_BYTE[0x6b] = MB;
        set(ONE_BYTE, 0x70, 0x7f, B); // jcc rel8
        ONE_BYTE[0x80] = MB;
        ONE_BYTE[0x81] = MZ;
        ONE_BYTE[0x83] = MB;
        set(ONE_BYTE, 0x84, 0x8f, M); // test, xchg, mov, lea, mov sreg, pop r/m
        set(ONE_BYTE, 0x90, 0x99, N); // xchg, nop, cwde, cdq
        set(ONE_BYTE, 0x9b, 0x9f, N); // fwait, pushf, popf, sahf, lahf
        set(ONE_BYTE, 0xa4, 0xa7, N); // movs, cmps
        ONE_BYTE[0xa8] = B;
        ONE_BYTE[0xa9] = Z;
        set(ONE_BYTE, 0xaa, 0xaf, N); // stos, lods, scas
        set(ONE_BYTE, 0xb0, 0xb7, B);
        set(ONE_BYTE, 0xb8, 0xbf, MOV);
        ONE_BYTE[0xc0] = MB;
        ONE_BYTE[0xc1] = MB;
        ONE_BYTE[0xc2] = W;
        ONE_BYTE[0xc3] = N;
        ONE_BYTE[0xc6] = MB;
        ONE_BYTE[0xc7] = MZ;
        ONE_BYTE[0xc8] = ENTER;
        ONE_BYTE[0xc9] = N;
        ONE_BYTE[0xca] = W;
        ONE_BYTE[0xcb] = N;
        ONE_BYTE[0xcc] = N;
        ONE_BYTE[0xcd] = B;
        ONE_BYTE[0xcf] = N;
        set(ONE_BYTE, 0xd0, 0xd3, M); // shifts
        ONE_BYTE[0xd7] = N; // xlat
        set(ONE_BYTE, 0xd8, 0xdf, M); // x87
        set(ONE_BYTE, 0xe0, 0xe7, B); // loop, jrcxz, in/out imm8
        ONE_BYTE[0xe8] = Z;
        ONE_BYTE[0xe9] = Z;
        ONE_BYTE[0xeb] = B;
        set(ONE_BYTE, 0xec, 0xef, N);
        ONE_BYTE[0xf0] = P;
        ONE_BYTE[0xf1] = N;
        ONE_BYTE[0xf2] = P;
        ONE_BYTE[0xf3] = P;
        ONE_BYTE[0xf4] = N;
        ONE_BYTE[0xf5] = N;
        ONE_BYTE[0xf6] = GROUP3;
        ONE_BYTE[0xf7] = GROUP3;
        set(ONE_BYTE, 0xf8, 0xfd, N);
        ONE_BYTE[0xfe] = M;
        ONE_BYTE[0xff] = M;

        int[] plain = {0x05, 0x06, 0x07, 0x08, 0x09, 0x0b, 0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x77, 0xa0, 0xa1,
            0xa2, 0xa8, 0xa9, 0xaa};
        for (int op : plain) {
            TWO_BYTE[op] = N;
        }
        set(TWO_BYTE, 0xc8, 0xcf, N); // bswap
        set(TWO_BYTE, 0x00, 0x03, M);
        TWO_BYTE[0x0d] = M;
        set(TWO_BYTE, 0x10, 0x1f, M); // SSE moves, prefetch, hint nops, endbr
        set(TWO_BYTE, 0x28, 0x2f, M);
        set(TWO_BYTE, 0x40, 0x4f, M); // cmovcc
        set(TWO_BYTE, 0x50, 0x6f, M);
        set(TWO_BYTE, 0x70, 0x73, MB); // pshuf, shifts by imm8
        set(TWO_BYTE, 0x74, 0x76, M);
        set(TWO_BYTE, 0x7c, 0x7f, M);
        set(TWO_BYTE, 0x80, 0x8f, Z); // jcc rel32
        set(TWO_BYTE, 0x90, 0x9f, M); // setcc
        TWO_BYTE[0xa3] = M;
        TWO_BYTE[0xa4] = MB;
        TWO_BYTE[0xa5] = M;
        TWO_BYTE[0xab] = M;
        TWO_BYTE[0xac] = MB;
        TWO_BYTE[0xad] = M;
        set(TWO_BYTE, 0xae, 0xb1, M); // fences and xsave group, imul, cmpxchg
        TWO_BYTE[0xb3] = M;
        set(TWO_BYTE, 0xb6, 0xb9, M); // movzx, popcnt, ud1
        TWO_BYTE[0xba] = MB;
        set(TWO_BYTE, 0xbb, 0xc1, M); // btc, bsf, bsr, movsx, xadd
        TWO_BYTE[0xc2] = MB;
        TWO_BYTE[0xc3] = M;
        set(TWO_BYTE, 0xc4, 0xc6, MB); // pinsrw, pextrw, shufps
        TWO_BYTE[0xc7] = M;
        set(TWO_BYTE, 0xd0, 0xff, M); // SSE
    }

    private static void set(byte[] table, int from, int to, byte kind) {
        for (int op = from; op <= to; op++) {
            table[op] = kind;
        }
    }

    /**
     * The length of the instruction at {@code code[at]}, none of whose bytes lie at or past
     * {@code end}; {@link #UNKNOWN} for an encoding this class does not know, or one cut off.
     */
    public static int of(byte[] code, int at, int end) {
        int limit = Math.min(end, at + MAX_LENGTH);
        int p = at;
        boolean operandSize16 = false;
        while (p < limit && ONE_BYTE[code[p] & 0xff] == P) {
            operandSize16 |= (code[p] & 0xff) == 0x66;
            p++;
        }
        boolean rexW = false;
        if (p < limit && (code[p] & 0xf0) == 0x40) {
            rexW = (code[p] & 0x08) != 0;
            p++;
        }
        if (p >= limit) {
            return UNKNOWN;
        }
        int op = code[p++] & 0xff;
        if (operandSize16 && (op == 0xe8 || op == 0xe9)) {
            return UNKNOWN; // a 16-bit branch: processors disagree on its length
        }
        int immediate = operandSize16 ? 2 : 4;
        int kind = ONE_BYTE[op];
        if (kind == TWO) {
            if (p >= limit) {
                return UNKNOWN;
            }
            int second = code[p++] & 0xff;
            if (second == 0x38) {
                kind = M;
                p++;
            } else if (second == 0x3a) {
                kind = MB;
                p++;
            } else {
                kind = TWO_BYTE[second];
                if (kind == Z && operandSize16) {
                    return UNKNOWN; // a 16-bit jcc, as above; elsewhere in this map 66 is an SSE
                }                   // prefix, and no instruction of it has an imm16/32 it would shrink
            }
        }
        int length;
        switch (kind) {
            case N -> length = 0;
            case B -> length = 1;
            case W -> length = 2;
            case ENTER -> length = 3;
            case Z -> length = immediate;
            case MOV -> length = rexW ? 8 : immediate;
            case M, MB, MZ, GROUP3 -> {
                if (p >= limit) {
                    return UNKNOWN;
                }
                int modrm = code[p] & 0xff;
                int operand = modRmLength(code, p, limit);
                if (operand < 0) {
                    return UNKNOWN;
                }
                p += operand;
                int reg = (modrm >> 3) & 7;
                length = kind == MB ? 1 : kind == MZ ? immediate
                        : kind == GROUP3 && reg <= 1 ? (op == 0xf6 ? 1 : immediate) : 0;
            }
            default -> {
                return UNKNOWN;
            }
        }
        p += length;
        return p <= limit ? p - at : UNKNOWN;
    }

    /** Bytes of the ModRM at {@code code[p]} with its SIB and displacement; -1 when cut off. */
    private static int modRmLength(byte[] code, int p, int limit) {
        int modrm = code[p] & 0xff;
        int mod = modrm >> 6;
        int rm = modrm & 7;
        if (mod == 3) {
            return 1;
        }
        int length = 1;
        if (rm == 4) {
            if (p + 1 >= limit) {
                return -1;
            }
            int base = code[p + 1] & 7;
            length++;
            if (mod == 0 && base == 5) {
                length += 4;
            }
        } else if (mod == 0 && rm == 5) {
            length += 4; // RIP-relative (EIP-relative with 0x67)
        }
        length += mod == 1 ? 1 : mod == 2 ? 4 : 0;
        return length;
    }
}
