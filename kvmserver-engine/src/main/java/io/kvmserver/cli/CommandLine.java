package io.kvmserver.cli;

import io.kvmserver.config.KvmServerOptions;
import io.kvmserver.config.Option;
import io.kvmserver.config.OptionType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * The {@code kvmserver} command line, compatible with the C++ kvmserver's flags:
 * {@code kvmserver [OPTIONS] program [args...]}.
 *
 * <p>Settings come from two sources. First {@code kvmserver.toml} in the working directory (if
 * it exists) or the file named by {@code -c FILE} (which must exist); then the command line,
 * whose options replace the file's value of the same key entirely (a list flag on the command
 * line replaces the file's list, it does not extend it). A program on the command line replaces
 * both {@code program} and {@code args} of the file, since arguments belong to their program.
 *
 * <p>Relative host paths ({@code --allow-read}, {@code --allow-write}, the host side of
 * {@code --volume}, {@code --cwd}, {@code -c} and a program containing {@code /}) are resolved
 * against the working directory, in the file as on the command line. A program without
 * {@code /} is looked up in the host's {@code PATH}, like {@code execvp}; the resulting
 * {@link KvmServerOptions#program()} is always an absolute host path.
 */
public final class CommandLine {

    private static final int HELP_COLUMN = 34;
    private static final int HELP_WIDTH = 92;

    private CommandLine() {
    }

    /**
     * Builds the configuration from the arguments and the configuration file.
     *
     * @param argv the arguments after the command name
     * @param workingDirectory the host directory relative paths and {@code kvmserver.toml} are
     *     found in; also the default guest working directory
     * @param hostEnv the host's environment, for the {@code PATH} lookup of the program
     * @throws UsageException with a message for the user, or the help text for {@code --help}
     */
    public static KvmServerOptions parse(List<String> argv, Path workingDirectory, Map<String, String> hostEnv)
            throws UsageException {
        Path wd = workingDirectory.toAbsolutePath().normalize();
        try {
            CommandLineScanner.Scan scan = CommandLineScanner.scan(argv);
            Map<Option, CommandLineSetting> settings = new EnumMap<>(Option.class);
            settings.putAll(CommandLineConfigFile.load(scan.configFile(), wd));
            settings.putAll(scan.settings());
            if (!settings.containsKey(Option.PROGRAM)) {
                throw new IllegalArgumentException("program is required: kvmserver [OPTIONS] program [args...]");
            }
            KvmServerOptions.Builder builder = KvmServerOptions.builder().cwd(wd.toString());
            settings.forEach((option, setting) -> apply(builder, option, setting, wd));
            CommandLineSetting program = settings.get(Option.PROGRAM);
            builder.program(findProgram((String) program.value(), wd, hostEnv));
            return builder.build();
        } catch (IllegalArgumentException e) {
            throw UsageException.of(e.getMessage());
        }
    }

    private static void apply(KvmServerOptions.Builder builder, Option option, CommandLineSetting setting, Path wd) {
        try {
            option.apply(builder, setting.value(), wd);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(setting.where() + ": " + e.getMessage(), e);
        }
    }

    /** The usage text: every flag of the catalog by section, with its default and an example. */
    public static String help() {
        StringBuilder out = new StringBuilder("kvmserver [OPTIONS] program [args...]\n");
        for (Option.Section section : Option.Section.values()) {
            out.append('\n').append(section.title()).append(":\n");
            if (section == Option.Section.GENERAL) {
                appendHelpLine(out, syntax(CommandLineFlag.HELP), HELP_TEXT);
                appendHelpLine(out, syntax(CommandLineFlag.CONFIG), CONFIG_TEXT + " [default: " + CONFIG_DEFAULT + "]");
            }
            for (Option option : Option.values()) {
                if (option.section() == section) {
                    appendHelpLine(out, syntax(option), helpText(option));
                }
            }
        }
        return out.toString();
    }

    /** What {@code -h} does, in the help text and the README. */
    static final String HELP_TEXT = "Print this help and exit.";

    /** What {@code -c} does, in the help text and the README. */
    static final String CONFIG_TEXT = "Read settings from a TOML file whose keys are the long flag names;"
            + " flags on the command line win.";

    /** Which file {@code -c} reads when it is not given. */
    static final String CONFIG_DEFAULT = CommandLineConfigFile.DEFAULT_NAME + " if present";

    /** How a setting is written on the command line: {@code -t, --threads N}, {@code --allow-read[=PATHS]}. */
    static String syntax(Option option) {
        if (option.isPositional()) {
            return option.type().accumulates() ? option.key() + "..." : option.key();
        }
        return syntax(CommandLineFlag.byLongName(option.key()).orElseThrow());
    }

    private static String syntax(CommandLineFlag flag) {
        String names = (flag.shortName() != '\0' ? "-" + flag.shortName() + ", " : "") + "--" + flag.name();
        String valueName = flag.option() != null ? flag.option().valueName() : "FILE";
        return switch (flag.type()) {
            case FLAG -> names;
            case LIST -> names + "[=" + valueName + "]";
            default -> names + " " + valueName;
        };
    }

    /** What a flag does, with what it means alone and its unit: the README's "meaning". */
    static String meaning(Option option) {
        StringBuilder text = new StringBuilder(option.flagDescription());
        if (option.implicitValue() != null) {
            text.append(" Alone: ").append(option.implicitValue()).append('.');
        }
        if (option.type().unit() != null) {
            text.append(" In ").append(option.type().unit()).append('.');
        }
        return text.toString();
    }

    /** The help text of a setting: its {@link #meaning}, its default and an example. */
    static String helpText(Option option) {
        StringBuilder text = new StringBuilder(meaning(option));
        if (option.type() != OptionType.FLAG && !option.defaultText().equals("none")) {
            text.append(" [default: ").append(option.defaultText()).append(']');
        }
        if (option.example() != null) {
            text.append(" (e.g. ").append(option.flag()).append(option.type() == OptionType.LIST ? "=" : " ")
                    .append(option.example()).append(')');
        }
        return text.toString();
    }

    private static void appendHelpLine(StringBuilder out, String syntax, String text) {
        String head = (syntax.startsWith("-") && !syntax.startsWith("--") || !syntax.startsWith("-") ? "  " : "      ")
                + syntax;
        out.append(head);
        if (head.length() + 2 > HELP_COLUMN) {
            out.append('\n').append(" ".repeat(HELP_COLUMN));
        } else {
            out.append(" ".repeat(HELP_COLUMN - head.length()));
        }
        out.append(wrap(text)).append('\n');
    }

    /** Breaks a description into lines of at most {@link #HELP_WIDTH} columns, indented to the help column. */
    private static String wrap(String text) {
        StringBuilder out = new StringBuilder();
        int column = HELP_COLUMN;
        for (String word : text.split(" ")) {
            if (column > HELP_COLUMN && column + 1 + word.length() > HELP_WIDTH) {
                out.append('\n').append(" ".repeat(HELP_COLUMN));
                column = HELP_COLUMN;
            } else if (column > HELP_COLUMN) {
                out.append(' ');
                column++;
            }
            out.append(word);
            column += word.length();
        }
        return out.toString();
    }

    private static String findProgram(String program, Path wd, Map<String, String> hostEnv) {
        if (program.contains("/")) {
            Path path = wd.resolve(program).normalize();
            if (!Files.isRegularFile(path)) {
                throw new IllegalArgumentException("program " + path + " does not exist or is not a file");
            }
            return path.toString();
        }
        String searchPath = Objects.requireNonNullElse(hostEnv.get("PATH"), "");
        Optional<Path> found = Stream.of(searchPath.split(":"))
                .filter(dir -> !dir.isEmpty())
                .map(dir -> wd.resolve(dir).resolve(program).normalize())
                .filter(p -> Files.isRegularFile(p) && Files.isExecutable(p))
                .findFirst();
        return found.orElseThrow(() -> new IllegalArgumentException("program '" + program
                + "' was not found in PATH (" + searchPath + "); give its path, as in ./" + program)).toString();
    }
}
