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

    /** Bytes of the longest short site: a register-to-register {@code mov} (3) and {@code syscall} (2). */
    public static final int MAX_SHORT_SITE_LENGTH = 5;
    /** Bytes of a short site that change: its first instruction's first two, which become {@code jmp rel8}. */
    public static final int SHORT_JUMP_LENGTH = 2;

    /**
     * The length of the short site at {@code code[at..]}, its instruction and the {@code syscall},
     * or 0 if there is none: {@code xor %eax, %eax; syscall} (4 bytes: the C library's {@code read},
     * whose number is 0), or a 64-bit {@code mov} from register to register and {@code syscall} (5
     * bytes: Go's one generic call, {@code runtime/internal/syscall.Syscall6}, moves its first
     * argument into RDI last, with the number already in RAX). Neither instruction can hold a
     * jump to a trampoline, so its first two bytes become a {@code jmp rel8} to padding that no
     * path executes ({@link SyscallSiteScan}), where a {@code jmp rel32} goes on to the
     * trampoline, which does what the instruction did: both touch registers only, so they run
     * the same anywhere. The {@code syscall} stays where it was.
     */
    public static int shortSiteLength(byte[] code, int at) {
        if (at + 4 <= code.length && (code[at] & 0xff) == 0x31 && (code[at + 1] & 0xff) == 0xc0
                && isSyscall(code, at + 2)) {
            return 4;
        }
        if (at + MAX_SHORT_SITE_LENGTH > code.length || !isSyscall(code, at + 3)) {
            return 0;
        }
        int rex = code[at] & 0xff;
        int opcode = code[at + 1] & 0xff;
        boolean registers = ((code[at + 2] & 0xff) >> 6) == 3; // ModRM mod 11: no memory operand
        return (rex & 0xf8) == 0x48 && (rex & 0x02) == 0 && (opcode == 0x89 || opcode == 0x8b) && registers
                ? MAX_SHORT_SITE_LENGTH : 0;
    }

    private static boolean isSyscall(byte[] code, int at) {
        return (code[at] & 0xff) == 0x0f && (code[at + 1] & 0xff) == 0x05;
    }

    /**
     * The trampoline at {@code slot} for the short site at {@code site}, whose bytes are at
     * {@code code[at..]}, into {@code into[0..SIZE)}: the site's instruction, then {@code lea
     * returnTo(%rip), %rcx; jmp *entry(%rip)} and the entry's address, where {@code returnTo} is
     * the address after the site's {@code syscall}.
     */
    public static void encodeShortTrampoline(byte[] into, long slot, byte[] code, int at, long site) {
        int length = shortSiteLength(code, at);
        if (length == 0) {
            throw new IllegalArgumentException("no short site at 0x" + Long.toHexString(site));
        }
        java.util.Arrays.fill(into, 0, SIZE, (byte) INT3);
        System.arraycopy(code, at, into, 0, length - 2);
        encodeEntry(into, length - 2, slot, site + length);
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
