package io.kvmserver.cli;

import io.kvmserver.config.Option;
import io.kvmserver.config.OptionType;
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

    /**
     * What the arguments say.
     *
     * @param settings the converted value of every setting given, with {@link Option#PROGRAM}
     *     and {@link Option#ARGS} when a program was given
     * @param configFile the value of {@code -c}/{@code --config}, or null
     */
    record Scan(Map<Option, CommandLineSetting> settings, String configFile) {
    }

    private final List<String> argv;
    private final Map<Option, CommandLineSetting> values = new EnumMap<>(Option.class);
    private String configFile;
    private int next;

    private CommandLineScanner(List<String> argv) {
        this.argv = argv;
    }

    /**
     * Scans all arguments.
     *
     * @throws UsageException at {@code -h}/{@code --help}, wherever it stands before the program
     * @throws IllegalArgumentException for unknown flags and malformed values
     */
    static Scan scan(List<String> argv) throws UsageException {
        CommandLineScanner scanner = new CommandLineScanner(argv);
        scanner.scanAll();
        return new Scan(scanner.values, scanner.configFile);
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
            values.put(Option.PROGRAM, new CommandLineSetting(argv.get(next), Option.PROGRAM.flag()));
            values.put(Option.ARGS,
                    new CommandLineSetting(List.copyOf(argv.subList(next + 1, argv.size())), Option.ARGS.flag()));
        }
    }

    private void longOption(String text) throws UsageException {
        int equals = text.indexOf('=');
        String name = equals < 0 ? text : text.substring(0, equals);
        CommandLineFlag flag = CommandLineFlag.byLongName(name)
                .orElseThrow(() -> new IllegalArgumentException("unknown option '--" + name + "'"));
        String value = equals < 0 ? null : text.substring(equals + 1);
        if (value == null && flag.type().valueRequired()) {
            value = requiredNext(flag);
        }
        set(flag, value);
    }

    private void shortOptions(String cluster) throws UsageException {
        for (int i = 0; i < cluster.length(); i++) {
            char name = cluster.charAt(i);
            CommandLineFlag flag = CommandLineFlag.byShortName(name)
                    .orElseThrow(() -> new IllegalArgumentException("unknown option '-" + name + "'"));
            if (flag.type().valueRequired()) {
                String rest = cluster.substring(i + 1);
                set(flag, rest.isEmpty() ? requiredNext(flag) : rest);
                return;
            }
            set(flag, null);
        }
    }

    private String requiredNext(CommandLineFlag flag) {
        if (next >= argv.size()) {
            throw new IllegalArgumentException(flag.display() + " needs a value");
        }
        return argv.get(next++);
    }

    private void set(CommandLineFlag flag, String text) throws UsageException {
        if (flag == CommandLineFlag.HELP) {
            throw UsageException.helpRequest();
        }
        Object value = flag.type().fromArgument(flag.display(), text, flag.implicitValue());
        if (flag == CommandLineFlag.CONFIG) {
            if (configFile != null) {
                throw new IllegalArgumentException(flag.display() + " is given more than once");
            }
            configFile = (String) value;
            return;
        }
        Option option = flag.option();
        CommandLineSetting previous = values.get(option);
        if (previous == null || flag.type() == OptionType.FLAG) {
            values.put(option, new CommandLineSetting(value, flag.display()));
        } else if (flag.type().accumulates()) {
            List<Object> all = new ArrayList<>((List<?>) previous.value());
            all.addAll((List<?>) value);
            values.put(option, new CommandLineSetting(List.copyOf(all), flag.display()));
        } else {
            throw new IllegalArgumentException(flag.display() + " is given more than once");
        }
    }
}
