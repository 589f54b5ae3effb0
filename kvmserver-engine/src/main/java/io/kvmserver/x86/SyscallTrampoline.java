package io.kvmserver.x86;

/**
 * The machine code of a rewritten system call site: a program's {@code mov $nr, %eax; syscall}
 * whose {@code mov} becomes a jump to a trampoline that enters the syscall entry without the
 * {@code syscall} instruction (nested PVM, where that instruction alone costs ~25 µs and the entry
 * runs at CPL 3 anyway: {@link TrapStub#REWRITTEN_ENTRY}).
 *
 * <p>Only the five bytes of the {@code mov} change, into {@code jmp rel32} (and the C library's
 * {@code syscall()} function's {@code mov 0x8(%rsp), %r9}, the same way: {@link #isRelocatableSite});
 * the {@code syscall}
 * after it stays, so every way into the site's code that Linux allows still works: a jump to the
 * {@code syscall} itself (with RAX already set) makes the call as before, a thread stopped in the
 * call returns to the instruction after it, and one stopped at the {@code mov} finds an
 * instruction starting there. The trampoline sets what the two instructions would have set, RAX
 * to the number and RCX to the address after the {@code syscall}, and jumps to the entry, which
 * takes RFLAGS into R11; the entry's return to RCX lands after the {@code syscall}, as the
 * instruction's own return does.
 */
public final class SyscallTrampoline {

    private SyscallTrampoline() {
    }

    /** Bytes of a site: {@code mov $imm32, %eax} (5) and {@code syscall} (2). */
    public static final int SITE_LENGTH = 7;
    /** Bytes of the site that change: the {@code mov}, which becomes {@code jmp rel32}. */
    public static final int JUMP_LENGTH = 5;
    /** Bytes of one trampoline (its code, the entry's address and {@code int3} padding). */
    public static final int SIZE = 32;
    /** The furthest a {@code rel32} reaches, either way. */
    public static final long REACH = Integer.MAX_VALUE;

    private static final int MOV_EAX_IMM32 = 0xb8;
    private static final int JMP_REL32 = 0xe9;
    private static final int INT3 = 0xcc;

    /**
     * Whether the {@link #SITE_LENGTH} bytes at {@code code[0..]} are {@code mov $nr, %eax;
     * syscall}. A {@code syscall} at {@code code[5]} that the program executed with RAX {@code nr}
     * and these bytes before it: the {@code mov} set RAX (the five bytes decode as one instruction
     * that does just that, and a longer instruction ending in them would be a coincidence of
     * both the bytes and the number).
     */
    public static boolean isSite(byte[] code, long nr) {
        return (code[0] & 0xff) == MOV_EAX_IMM32 && InstructionKind.int32(code, 1) == nr && isRelocatableSite(code, 0);
    }

    /**
     * Whether the {@link #SITE_LENGTH} bytes at {@code code[at..]} are a five-byte instruction the
     * trampoline can run in the site's place, then {@code syscall}: {@code mov $imm32, %eax}, or
     * {@code mov 0x8(%rsp), %r9} (the C library's {@code syscall()} function: its sixth argument;
     * relative to RSP, which the jump keeps). Only for a site whose instruction starts there
     * provably ({@link SyscallSiteScan}): the bytes alone do not say so.
     */
    public static boolean isRelocatableSite(byte[] code, int at) {
        if ((code[at + 5] & 0xff) != 0x0f || (code[at + 6] & 0xff) != 0x05) {
            return false;
        }
        return (code[at] & 0xff) == MOV_EAX_IMM32
                || ((code[at] & 0xff) == 0x4c && (code[at + 1] & 0xff) == 0x8b && (code[at + 2] & 0xff) == 0x4c
                        && (code[at + 3] & 0xff) == 0x24 && (code[at + 4] & 0xff) == 0x08);
    }

    /** Whether a {@code rel32} at {@code from} (the address after its instruction) reaches {@code to}. */
    public static boolean reaches(long from, long to) {
        long distance = to - from;
        return distance >= Integer.MIN_VALUE && distance <= REACH;
    }

    /**
     * The trampoline at {@code slot} for the site at {@code site} whose first five bytes are
     * {@code code[0..5)}, into {@code into[0..SIZE)}: those five bytes (the {@code mov}), then
     * {@code lea site+7(%rip), %rcx; jmp *entry(%rip)} and the entry's address. {@code slot} must
     * reach {@code site + 7} with a {@code rel32}.
     */
    public static void encodeTrampoline(byte[] into, long slot, byte[] code, long site) {
        java.util.Arrays.fill(into, 0, SIZE, (byte) INT3);
        System.arraycopy(code, 0, into, 0, JUMP_LENGTH);
        encodeEntry(into, JUMP_LENGTH, slot, site + SITE_LENGTH);
    }

    /**
     * At {@code into[at..]} of the trampoline at {@code slot}: {@code lea returnTo(%rip), %rcx;
     * jmp *entry(%rip)} and the entry's address ({@link TrapStub#REWRITTEN_ENTRY}), 21 bytes.
     */
    private static void encodeEntry(byte[] into, int at, long slot, long returnTo) {
        into[at] = 0x48; // lea disp32(%rip), %rcx
        into[at + 1] = (byte) 0x8d;
        into[at + 2] = 0x0d;
        putInt(into, at + 3, relative(slot + at + 7, returnTo));
        into[at + 7] = (byte) 0xff; // jmp *0(%rip): the address after it
        into[at + 8] = 0x25;
        putInt(into, at + 9, 0);
        putLong(into, at + 13, TrapStub.REWRITTEN_ENTRY);
    }

    /** Bytes of a short site: {@code xor %eax, %eax} (2) and {@code syscall} (2). */
    public static final int SHORT_SITE_LENGTH = 4;
    /** Bytes of a short site that change: the {@code xor}, which becomes {@code jmp rel8}. */
    public static final int SHORT_JUMP_LENGTH = 2;

    /**
     * Whether the {@link #SHORT_SITE_LENGTH} bytes at {@code code[at..]} are {@code xor %eax, %eax;
     * syscall}: the C library's {@code read}, whose number is 0. Its two-byte {@code xor} cannot
     * hold a jump to a trampoline, so it becomes a {@code jmp rel8} to padding the function never
     * executes ({@link SyscallSiteScan}), where a {@code jmp rel32} goes on to the trampoline.
     */
    public static boolean isShortSite(byte[] code, int at) {
        return (code[at] & 0xff) == 0x31 && (code[at + 1] & 0xff) == 0xc0 && (code[at + 2] & 0xff) == 0x0f
                && (code[at + 3] & 0xff) == 0x05;
    }

    /**
     * The trampoline at {@code slot} for the short site at {@code site}, into {@code into[0..SIZE)}:
     * {@code xor %eax, %eax; lea site+4(%rip), %rcx; jmp *entry(%rip)} and the entry's address.
     */
    public static void encodeShortTrampoline(byte[] into, long slot, long site) {
        java.util.Arrays.fill(into, 0, SIZE, (byte) INT3);
        into[0] = 0x31; // xor %eax, %eax
        into[1] = (byte) 0xc0;
        encodeEntry(into, 2, slot, site + SHORT_SITE_LENGTH);
    }

    /** Whether a {@code jmp rel8} at {@code site} reaches {@code to}. */
    public static boolean reachesShort(long site, long to) {
        long distance = to - (site + SHORT_JUMP_LENGTH);
        return distance >= Byte.MIN_VALUE && distance <= Byte.MAX_VALUE;
    }

    /** The {@code jmp rel8} from a short site at {@code site} to {@code pad}, into {@code into[0..SHORT_JUMP_LENGTH)}. */
    public static void encodeShortJump(byte[] into, long site, long pad) {
        if (!reachesShort(site, pad)) {
            throw new IllegalArgumentException("0x" + Long.toHexString(pad) + " is out of a rel8's reach from 0x"
                    + Long.toHexString(site));
        }
        into[0] = (byte) 0xeb;
        into[1] = (byte) (pad - (site + SHORT_JUMP_LENGTH));
    }

    /** The {@code jmp rel32} that replaces the site's {@code mov}, into {@code into[0..JUMP_LENGTH)}. */
    public static void encodeJump(byte[] into, long site, long slot) {
        into[0] = (byte) JMP_REL32;
        putInt(into, 1, relative(site + JUMP_LENGTH, slot));
    }

    private static int relative(long from, long to) {
        if (!reaches(from, to)) {
            throw new IllegalArgumentException("0x" + Long.toHexString(to) + " is out of a rel32's reach from 0x"
                    + Long.toHexString(from));
        }
        return (int) (to - from);
    }

    private static void putInt(byte[] b, int at, int v) {
        for (int i = 0; i < 4; i++) {
            b[at + i] = (byte) (v >>> (8 * i));
        }
    }

    private static void putLong(byte[] b, int at, long v) {
        for (int i = 0; i < 8; i++) {
            b[at + i] = (byte) (v >>> (8 * i));
        }
    }
}
