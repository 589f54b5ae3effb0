package io.kvmserver.elf;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.List;

/**
 * Writes the stack a Linux program finds at its entry point: argc, argv, envp and the
 * auxiliary vector, then the strings and {@code AT_RANDOM}'s 16 random bytes above them.
 */
public final class InitialStack {

    private static final int AT_NULL = 0;
    private static final int AT_PHDR = 3;
    private static final int AT_PHENT = 4;
    private static final int AT_PHNUM = 5;
    private static final int AT_PAGESZ = 6;
    private static final int AT_BASE = 7;
    private static final int AT_FLAGS = 8;
    private static final int AT_ENTRY = 9;
    private static final int AT_UID = 11;
    private static final int AT_EUID = 12;
    private static final int AT_GID = 13;
    private static final int AT_EGID = 14;
    private static final int AT_PLATFORM = 15;
    private static final int AT_HWCAP = 16;
    private static final int AT_CLKTCK = 17;
    private static final int AT_SECURE = 23;
    private static final int AT_RANDOM = 25;
    private static final int AT_HWCAP2 = 26;
    private static final int AT_EXECFN = 31;
    private static final int AT_SYSINFO_EHDR = 33;
    private static final int UID = 1000;

    private static final SecureRandom RANDOM = new SecureRandom();

    private InitialStack() {
    }

    /**
     * Builds the stack below {@code top} and returns the initial stack pointer (16-byte aligned,
     * pointing at argc). {@code vdso} is the vDSO's address ({@code AT_SYSINFO_EHDR}).
     */
    public static long write(LoadTarget memory, long top, LoadedProgram program, String execPath, List<String> argv,
            List<String> envp, long hwcap, long vdso) {
        long sp = top;
        byte[] random = new byte[16];
        RANDOM.nextBytes(random);
        sp -= 16;
        long randomAddress = sp;
        write(memory, randomAddress, random);
        long platform = sp = pushString(memory, sp, "x86_64");
        long execfn = sp = pushString(memory, sp, execPath);
        long[] argvAddresses = new long[argv.size()];
        for (int i = argv.size() - 1; i >= 0; i--) {
            argvAddresses[i] = sp = pushString(memory, sp, argv.get(i));
        }
        long[] envAddresses = new long[envp.size()];
        for (int i = envp.size() - 1; i >= 0; i--) {
            envAddresses[i] = sp = pushString(memory, sp, envp.get(i));
        }
        long[][] auxv = {
            {AT_SYSINFO_EHDR, vdso},
            {AT_PHDR, program.phdr()}, {AT_PHENT, 56}, {AT_PHNUM, program.phnum()}, {AT_PAGESZ, 4096},
            {AT_BASE, program.interpreterBase()}, {AT_FLAGS, 0}, {AT_ENTRY, program.programEntry()},
            {AT_UID, UID}, {AT_EUID, UID}, {AT_GID, UID}, {AT_EGID, UID}, {AT_SECURE, 0},
            {AT_HWCAP, hwcap}, {AT_HWCAP2, 0}, {AT_CLKTCK, 100}, {AT_RANDOM, randomAddress},
            {AT_PLATFORM, platform}, {AT_EXECFN, execfn}, {AT_NULL, 0},
        };
        int words = 1 + argv.size() + 1 + envp.size() + 1 + auxv.length * 2;
        sp &= ~0xfL;
        if (words % 2 != 0) {
            sp -= 8; // keep argc 16-byte aligned
        }
        sp -= words * 8L;
        ByteBuffer b = ByteBuffer.allocate(words * 8).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(argv.size());
        for (long a : argvAddresses) {
            b.putLong(a);
        }
        b.putLong(0);
        for (long e : envAddresses) {
            b.putLong(e);
        }
        b.putLong(0);
        for (long[] pair : auxv) {
            b.putLong(pair[0]).putLong(pair[1]);
        }
        write(memory, sp, b.array());
        return sp;
    }

    private static void write(LoadTarget memory, long address, byte[] bytes) {
        memory.load(address, bytes, 0, bytes.length);
    }

    private static long pushString(LoadTarget memory, long sp, String s) {
        byte[] bytes = (s + "\0").getBytes(StandardCharsets.UTF_8);
        long at = sp - bytes.length;
        write(memory, at, bytes);
        return at;
    }
}
