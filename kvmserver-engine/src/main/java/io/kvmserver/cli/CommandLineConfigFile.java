package io.kvmserver.cli;

import io.kvmserver.config.Option;
import io.kvmserver.config.TomlSubset;
import java.io.IOException;
import java.nio.charset.CharacterCodingException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumMap;
import java.util.Map;

/**
 * Reads {@code kvmserver.toml}: the keys are the catalog's keys ({@link Option#key()}), the long
 * flag names plus {@code program} and {@code args}, and every value means what the flag of the
 * same name means (see {@link io.kvmserver.config.OptionType}). Unknown keys are errors, not
 * warnings, because a misspelt {@code alow-read} silently running a program without its intended permissions (or with
 * permissions the user thought they had removed) is worse than refusing to start.
 */
final class CommandLineConfigFile {

    static final String DEFAULT_NAME = "kvmserver.toml";

    private CommandLineConfigFile() {
    }

    /**
     * Reads the file chosen by {@code -c}, or {@code kvmserver.toml} in the working directory if
     * that exists.
     *
     * @param named the value of {@code -c}/{@code --config}, or null; relative to {@code wd}
     * @return the converted values, empty when no file applies
     */
    static Map<Option, CommandLineSetting> load(String named, Path wd) {
        Path file = wd.resolve(named == null ? DEFAULT_NAME : named);
        if (named == null && !Files.isRegularFile(file)) {
            return Map.of();
        }
        if (!Files.isRegularFile(file)) {
            throw new IllegalArgumentException("--config: " + file + " does not exist or is not a file");
        }
        Map<Option, CommandLineSetting> values = new EnumMap<>(Option.class);
        read(file).forEach((key, entry) -> {
            String where = file + ":" + entry.line() + ": " + key;
            Option option = Option.byKey(key)
                    .orElseThrow(() -> new IllegalArgumentException(file + ":" + entry.line() + ": unknown key '"
                            + key + "'" + (CommandLineFlag.byLongName(key).isPresent()
                                    ? " (it can only be given on the command line)" : "")));
            Object value = option.type().fromToml(where, entry.value(), option.implicitValue());
            values.put(option, new CommandLineSetting(value, where));
        });
        return values;
    }

    private static Map<String, TomlSubset.Entry> read(Path file) {
        try {
            return TomlSubset.parse(Files.readString(file), file.toString());
        } catch (CharacterCodingException e) {
            throw new IllegalArgumentException(file + " is not valid UTF-8", e);
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read " + file + ": " + e.getMessage(), e);
        }
    }
}
