package io.kvmserver.cli;

import io.kvmserver.config.Option;
import io.kvmserver.config.OptionType;
import java.util.Arrays;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * A flag of the command line: one per non-positional setting of the catalog ({@link Option}),
 * plus the two flags that only make sense on the command line, {@code -h/--help} and
 * {@code -c/--config}.
 *
 * @param name the long flag without {@code --}
 * @param shortName the one-letter flag, or {@code '\0'}
 * @param type how the value is written
 * @param option the setting the flag sets, or null for {@link #HELP} and {@link #CONFIG}
 */
record CommandLineFlag(String name, char shortName, OptionType type, Option option) {

    static final CommandLineFlag HELP = new CommandLineFlag("help", 'h', OptionType.FLAG, null);

    static final CommandLineFlag CONFIG = new CommandLineFlag("config", 'c', OptionType.STRING, null);

    /** The flag whose long form is {@code --name}. */
    static Optional<CommandLineFlag> byLongName(String name) {
        return all().filter(f -> f.name.equals(name)).findFirst();
    }

    /** The flag whose short form is {@code -c}. */
    static Optional<CommandLineFlag> byShortName(char name) {
        return all().filter(f -> f.shortName != '\0' && f.shortName == name).findFirst();
    }

    /** How messages write the flag. */
    String display() {
        return "--" + name;
    }

    /** What the flag means without a value: for a permission list, its implicit value. */
    String implicitValue() {
        return option == null ? null : option.implicitValue();
    }

    private static Stream<CommandLineFlag> all() {
        return Stream.concat(Stream.of(HELP, CONFIG), Arrays.stream(Option.values())
                .filter(o -> !o.isPositional())
                .map(o -> new CommandLineFlag(o.key(), o.shortFlag(), o.type(), o)));
    }
}
