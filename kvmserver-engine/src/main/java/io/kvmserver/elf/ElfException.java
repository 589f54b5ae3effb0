package io.kvmserver.elf;

/** The program file cannot be run; the message names the file and what is wrong with it. */
public final class ElfException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    public ElfException(String message) {
        super(message);
    }
}
