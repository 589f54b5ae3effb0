package io.kvmserver.elf;

/**
 * Where a program landed in guest memory: what the initial stack's auxiliary vector and the
 * first instruction need.
 *
 * @param entry       the first instruction: the dynamic loader's entry, or the program's
 * @param programEntry the program's own entry ({@code AT_ENTRY})
 * @param phdr        guest address of the program headers ({@code AT_PHDR})
 * @param phnum       number of program headers ({@code AT_PHNUM})
 * @param interpreterBase where the dynamic loader was loaded ({@code AT_BASE}), 0 for static
 * @param programEnd  one past the program's highest segment: the initial program break
 */
public record LoadedProgram(long entry, long programEntry, long phdr, int phnum, long interpreterBase,
        long programEnd) {
}
