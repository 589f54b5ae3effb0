package io.kvmserver.elf;

/**
 * The guest address space a program is loaded into, as the loader needs it. The Linux
 * personality's address space implements it; the loader knows nothing more of it.
 */
public interface LoadTarget {

    /** Protection bits, as {@code mmap(2)} has them. */
    int PROT_READ = 1;
    int PROT_WRITE = 2;
    int PROT_EXEC = 4;
    /**
     * Beside the protection bits: the range is a private mapping of a file (a segment of the
     * program or its loader), which {@code madvise} treats otherwise than anonymous memory.
     */
    int FILE_BACKED = 1 << 28;

    /** One past the highest address a program may use. */
    long limit();

    /** Whether {@code [start, start + length)} is a valid, page-aligned user range with nothing mapped. */
    boolean isFree(long start, long length);

    /** A free range of {@code length} bytes, chosen as {@code mmap} without an address would; -1 if none. */
    long findFree(long length);

    /** Maps a page-aligned range with {@code prot}, replacing what was there; false when there is no room. */
    boolean tryMap(long start, long length, int prot, String name);

    /** Writes bytes into mapped memory, whatever its protection: the loader fills code pages too. */
    void load(long address, byte[] bytes, int offset, int length);
}
