package io.kvmserver.cli;

import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;

/**
 * Reads the arguments in order, the way the C++ kvmserver's CLI11 parser does:
 *
 * <ul>
 *   <li>valued flags take {@code --flag value}, {@code --flag=value}, {@code -t 4} or {@code -t4};</li>
 *   <li>the optional value of a permission list is only taken with {@code =}, so in
 *       {@code --allow-read /usr/bin/python3 -c x} the flag means {@code /} and
 *       {@code /usr/bin/python3} is the program;</li>
 *   <li>short switches can be grouped ({@code -ev});</li>
 *   <li>the first argument that is not an option is the program, and every argument after it
 *       belongs to the program, flags and {@code --} included; a {@code --} before the program
 *       ends the options;</li>
 *   <li>list flags accumulate when repeated; any other valued flag may be given only once,
 *       because silently keeping one of two conflicting values hides a mistake.</li>
 * </ul>
 */
final class CommandLineScanner {

    private final List<String> argv;
    private final Map<CommandLineOption, CommandLineSetting> values = new EnumMap<>(CommandLineOption.class);
    private int next;

    private CommandLineScanner(List<String> argv) {
        this.argv = argv;
    }

    /**
     * Scans all arguments.
     *
     * @return the converted value of every option given, {@link CommandLineOption#CONFIG}
     *     included, and {@link CommandLineOption#PROGRAM} with {@link CommandLineOption#ARGS} when a
     *     program was given
     * @throws UsageException at {@code -h}/{@code --help}, wherever it stands before the program
     * @throws IllegalArgumentException for unknown flags and malformed values
     */
    static Map<CommandLineOption, CommandLineSetting> scan(List<String> argv) throws UsageException {
        CommandLineScanner scanner = new CommandLineScanner(argv);
        scanner.scanAll();
        return scanner.values;
    }

    private void scanAll() throws UsageException {
        while (next < argv.size()) {
            String arg = argv.get(next++);
            if (arg.equals("--")) {
                break;
            }
            if (arg.startsWith("--")) {
                longOption(arg.substring(2));
            } else if (arg.startsWith("-") && arg.length() > 1) {
                shortOptions(arg.substring(1));
            } else {
                next--;
                break;
            }
        }
        if (next < argv.size()) {
            values.put(CommandLineOption.PROGRAM, new CommandLineSetting(argv.get(next), "program"));
            values.put(CommandLineOption.ARGS,
                    new CommandLineSetting(List.copyOf(argv.subList(next + 1, argv.size())), "args"));
        }
    }

    private void longOption(String text) throws UsageException {
        int equals = text.indexOf('=');
        String name = equals < 0 ? text : text.substring(0, equals);
        CommandLineOption option = CommandLineOption.byLongFlag(name)
                .orElseThrow(() -> new IllegalArgumentException("unknown option '--" + name + "'"));
        String value = equals < 0 ? null : text.substring(equals + 1);
        if (value == null && option.type.valueRequired()) {
            value = requiredNext(option);
        }
        set(option, value);
    }

    private void shortOptions(String cluster) throws UsageException {
        for (int i = 0; i < cluster.length(); i++) {
            char name = cluster.charAt(i);
            CommandLineOption option = CommandLineOption.byShortFlag(name)
                    .orElseThrow(() -> new IllegalArgumentException("unknown option '-" + name + "'"));
            if (option.type.valueRequired()) {
                String rest = cluster.substring(i + 1);
                set(option, rest.isEmpty() ? requiredNext(option) : rest);
                return;
            }
            set(option, null);
        }
    }

    private String requiredNext(CommandLineOption option) {
        if (next >= argv.size()) {
            throw new IllegalArgumentException(option.flag() + " needs a value");
        }
        return argv.get(next++);
    }

    private void set(CommandLineOption option, String text) throws UsageException {
        if (option == CommandLineOption.HELP) {
            throw UsageException.helpRequest();
        }
        Object value = option.type.fromArgument(option.flag(), text, option.implicitValue);
        CommandLineSetting previous = values.get(option);
        if (previous == null || option.type == CommandLineType.FLAG) {
            values.put(option, new CommandLineSetting(value, option.flag()));
        } else if (option.type.accumulates()) {
            List<Object> all = new ArrayList<>((List<?>) previous.value());
            all.addAll((List<?>) value);
            values.put(option, new CommandLineSetting(List.copyOf(all), option.flag()));
        } else {
            throw new IllegalArgumentException(option.flag() + " is given more than once");
        }
    }
}
