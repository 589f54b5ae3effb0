package io.kvmserver.cli;

import io.kvmserver.config.KvmServerOptions;
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

    private static final int HELP_COLUMN = 30;
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
            Map<CommandLineOption, CommandLineSetting> fromArgs = CommandLineScanner.scan(argv);
            CommandLineSetting config = fromArgs.remove(CommandLineOption.CONFIG);
            Map<CommandLineOption, CommandLineSetting> settings = new EnumMap<>(CommandLineOption.class);
            settings.putAll(CommandLineConfigFile.load(config == null ? null : (String) config.value(), wd));
            settings.putAll(fromArgs);
            if (!settings.containsKey(CommandLineOption.PROGRAM)) {
                throw new IllegalArgumentException("program is required: kvmserver [OPTIONS] program [args...]");
            }
            KvmServerOptions.Builder builder = KvmServerOptions.builder().cwd(wd.toString());
            settings.forEach((option, setting) -> apply(builder, option, setting, wd));
            CommandLineSetting program = settings.get(CommandLineOption.PROGRAM);
            builder.program(findProgram((String) program.value(), wd, hostEnv));
            return builder.build();
        } catch (IllegalArgumentException e) {
            throw UsageException.of(e.getMessage());
        }
    }

    private static void apply(KvmServerOptions.Builder builder, CommandLineOption option, CommandLineSetting setting,
            Path wd) {
        try {
            option.apply(builder, setting.value(), wd);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(setting.where() + ": " + e.getMessage(), e);
        }
    }

    /** The usage text, in the layout of the C++ kvmserver's {@code --help}. */
    public static String help() {
        StringBuilder out = new StringBuilder("kvmserver [OPTIONS] program [args...]\n");
        for (CommandLineOption.Section section : CommandLineOption.Section.values()) {
            out.append('\n').append(section.title).append(":\n");
            for (CommandLineOption option : CommandLineOption.values()) {
                if (option.section == section) {
                    appendHelpLine(out, option);
                }
            }
        }
        return out.toString();
    }

    private static void appendHelpLine(StringBuilder out, CommandLineOption option) {
        String names = !option.isFlag() ? "  " + option.key
                : option.shortName != '\0' ? "  -" + option.shortName + ",     --" + option.key
                : "          --" + option.key;
        String head = names + (option.signature.isEmpty() ? "" : " " + option.signature);
        out.append(head);
        if (head.length() + 2 > HELP_COLUMN) {
            out.append('\n').append(" ".repeat(HELP_COLUMN));
        } else {
            out.append(" ".repeat(HELP_COLUMN - head.length()));
        }
        out.append(wrap(option.description)).append('\n');
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
