package io.kvmserver.elf;

import io.kvmserver.config.Option;
import io.kvmserver.config.OptionNaming;
import java.util.List;
import java.util.stream.Collectors;

/**
 * The program file cannot be run; the message names the file and what is wrong with it. When a
 * larger limit would help, the exception carries the settings to raise, and {@link #named}
 * writes the advice in the words of the configuration.
 */
public final class ElfException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    private final String problem;
    private final transient List<Option> raise;

    public ElfException(String message) {
        this(message, List.of());
    }

    /**
     * @param problem what is wrong, without advice
     * @param raise the limits whose increase would let the program load
     */
    public ElfException(String problem, List<Option> raise) {
        super(problem + advice(raise, OptionNaming.COMMAND_LINE));
        this.problem = problem;
        this.raise = List.copyOf(raise);
    }

    private ElfException(String problem, List<Option> raise, OptionNaming naming) {
        super(problem + advice(raise, naming));
        this.problem = problem;
        this.raise = List.copyOf(raise);
    }

    /** The limits whose increase would let the program load; empty when that would not help. */
    public List<Option> limitsToRaise() {
        return raise;
    }

    /** The same failure, with its advice in {@code naming}. */
    public ElfException named(OptionNaming naming) {
        return raise.isEmpty() ? this : new ElfException(problem, raise, naming);
    }

    private static String advice(List<Option> raise, OptionNaming naming) {
        return raise.isEmpty() ? ""
                : "; raise " + raise.stream().map(naming::nameOf).collect(Collectors.joining(" or "));
    }
}
