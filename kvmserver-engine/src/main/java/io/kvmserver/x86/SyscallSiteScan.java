package io.kvmserver.x86;

/**
 * Finds the {@code mov $nr, %eax; syscall} sites ({@link SyscallTrampoline}) in the functions of a
 * code segment without running it: from each function's start (where an instruction starts, as its
 * symbol says) it decodes instruction after instruction ({@link InstructionLength}) to the
 * function's end, and stops at the first encoding it does not know. Every site found so starts
 * where an instruction does; bytes that only look like one, inside another instruction or in data,
 * are never reached. Sites after an unknown encoding are missed, never guessed.
 */
public final class SyscallSiteScan {

    private SyscallSiteScan() {
    }

    /** Told about each site: the address of the instruction before its {@code syscall}. */
    public interface Sink {
        void site(long address);
    }

    /**
     * Scans the functions ({start, size} pairs, as {@code ElfSymbols.functions} gives them) that
     * lie in the segment whose {@code fileSize} bytes at {@code fileOffset} of {@code file} are
     * loaded at {@code vaddr}; reports the sites {@link SyscallTrampoline#isRelocatableSite} takes
     * ({@code mov $nr, %eax} with {@code nr} below {@code numbers}) by their {@code vaddr}-based
     * address. Returns how many it reported.
     */
    public static int scan(byte[] file, long fileOffset, long vaddr, long fileSize, long[] functions, int numbers,
            Sink sink) {
        if (fileOffset < 0 || fileSize < 0 || fileOffset > file.length || fileSize > file.length - fileOffset) {
            return 0;
        }
        int found = 0;
        for (int f = 0; f + 1 < functions.length; f += 2) {
            long start = functions[f];
            long size = functions[f + 1];
            if (start < vaddr || start - vaddr >= fileSize) {
                continue;
            }
            int at = (int) (fileOffset + (start - vaddr));
            int end = (int) Math.min(fileOffset + fileSize, at + Math.min(size, fileSize));
            while (at < end) {
                int length = InstructionLength.of(file, at, end);
                if (length == InstructionLength.UNKNOWN) {
                    break;
                }
                if (length == SyscallTrampoline.JUMP_LENGTH && at + SyscallTrampoline.SITE_LENGTH <= end
                        && file[at + 5] == 0x0f && file[at + 6] == 0x05) {
                    byte[] site = java.util.Arrays.copyOfRange(file, at, at + SyscallTrampoline.SITE_LENGTH);
                    int nr = (site[1] & 0xff) | (site[2] & 0xff) << 8 | (site[3] & 0xff) << 16 | (site[4] & 0xff) << 24;
                    if (SyscallTrampoline.isRelocatableSite(site) && (site[0] != (byte) 0xb8 || nr >= 0 && nr < numbers)) {
                        sink.site(vaddr + (at - fileOffset));
                        found++;
                    }
                }
                at += length;
            }
        }
        return found;
    }
}
