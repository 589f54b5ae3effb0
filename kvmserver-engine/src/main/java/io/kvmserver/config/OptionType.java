package io.kvmserver.config;

import java.math.BigDecimal;
import java.math.RoundingMode;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;

/**
 * How the value of one {@link Option} is written, on the command line and in
 * {@code kvmserver.toml}, what Java value it becomes, and how {@link KvmServerOptions#describe()}
 * writes it back. Both sources convert here, so that a key means exactly the same in the file as
 * the flag of the same name.
 *
 * <p>{@code where} names the source in messages: {@code --threads} for the command line,
 * {@code kvmserver.toml:3: threads} for the file.
 */
public enum OptionType {

    /** A switch: present means true; {@code --flag=false} or {@code key = false} turns it off. */
    FLAG {
        @Override
        public Object fromArgument(String where, String text, String implicitValue) {
            if (text == null || text.equals("true")) {
                return Boolean.TRUE;
            }
            if (text.equals("false")) {
                return Boolean.FALSE;
            }
            throw new IllegalArgumentException(where + " takes no value (or =true/=false), got '" + text + "'");
        }

        @Override
        public Object fromToml(String where, Object value, String implicitValue) {
            if (value instanceof Boolean) {
                return value;
            }
            throw expected(where, "true or false", value);
        }
    },

    /** A non-negative int such as a thread count; becomes an {@link Integer}. */
    UINT {
        @Override
        public Object fromArgument(String where, String text, String implicitValue) {
            return toInt(where, digits(where, text, "a non-negative integer"), text);
        }

        @Override
        public Object fromToml(String where, Object value, String implicitValue) {
            if (value instanceof Long number && number >= 0) {
                return toInt(where, number, value);
            }
            throw expected(where, "a non-negative integer", value);
        }

        private Object toInt(String where, long value, Object shown) {
            if (value > Integer.MAX_VALUE) {
                throw new IllegalArgumentException(where + " is too large: " + shown);
            }
            return (int) value;
        }
    },

    /** A size in MiB; becomes a {@link Long} count of bytes. */
    MIB {
        @Override
        public Object fromArgument(String where, String text, String implicitValue) {
            return toBytes(where, digits(where, text, "a whole number of MiB"), text);
        }

        @Override
        public Object fromToml(String where, Object value, String implicitValue) {
            if (value instanceof Long number && number >= 0) {
                return toBytes(where, number, value);
            }
            throw expected(where, "a whole number of MiB", value);
        }

        private Object toBytes(String where, long mib, Object shown) {
            if (mib > Long.MAX_VALUE / KvmServerOptions.MIB) {
                throw new IllegalArgumentException(where + " is too large: " + shown + " MiB");
            }
            return mib * KvmServerOptions.MIB;
        }
    },

    /** Seconds, fractions allowed; becomes a {@link Duration} rounded to nanoseconds. */
    SECONDS {
        @Override
        public Object fromArgument(String where, String text, String implicitValue) {
            try {
                return toDuration(where, new BigDecimal(text), text);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException(where + " expects a number of seconds such as 2.5, got '" + text + "'");
            }
        }

        @Override
        public Object fromToml(String where, Object value, String implicitValue) {
            if (value instanceof Long number) {
                return toDuration(where, BigDecimal.valueOf(number), value);
            }
            if (value instanceof Double number) {
                return toDuration(where, BigDecimal.valueOf(number), value);
            }
            throw expected(where, "a number of seconds", value);
        }

        private Object toDuration(String where, BigDecimal seconds, Object shown) {
            if (seconds.abs().compareTo(MAX_SECONDS) > 0) {
                throw new IllegalArgumentException(where + " is too large: " + shown + " seconds");
            }
            return Duration.ofNanos(seconds.movePointRight(9).setScale(0, RoundingMode.HALF_UP).longValueExact());
        }
    },

    /** Any text; becomes a {@link String}. */
    STRING {
        @Override
        public Object fromArgument(String where, String text, String implicitValue) {
            return text;
        }

        @Override
        public Object fromToml(String where, Object value, String implicitValue) {
            if (value instanceof String) {
                return value;
            }
            throw expected(where, "a \"string\"", value);
        }
    },

    /**
     * A flag that may be given several times, each time with one value (no comma splitting:
     * an {@code --env} value may contain commas); becomes a {@link List} of strings. In the
     * file: an array of strings, or one string.
     */
    REPEATED {
        @Override
        public Object fromArgument(String where, String text, String implicitValue) {
            return List.of(text);
        }

        @Override
        public Object fromToml(String where, Object value, String implicitValue) {
            return strings(where, value);
        }
    },

    /**
     * A comma-separated list whose value is optional and then only given with {@code =}
     * ({@code --allow-read} alone means its implicit value, {@code /}); may repeat. In the file:
     * an array of strings or one string, each comma-separated too, or {@code true} for the
     * implicit value and {@code false} for none.
     */
    LIST {
        @Override
        public Object fromArgument(String where, String text, String implicitValue) {
            return text == null ? List.of(implicitValue) : split(where, text);
        }

        @Override
        public Object fromToml(String where, Object value, String implicitValue) {
            if (value instanceof Boolean granted) {
                return granted ? List.of(implicitValue) : List.of();
            }
            List<String> values = new ArrayList<>();
            for (String item : strings(where, value)) {
                values.addAll(split(where, item));
            }
            return List.copyOf(values);
        }
    };

    private static final BigDecimal MAX_SECONDS = BigDecimal.valueOf(Long.MAX_VALUE / 1_000_000_000L);

    /**
     * Converts a command-line value.
     *
     * @param text the value, or null when the flag was given without one (only for
     *     {@link #FLAG} and {@link #LIST}, see {@link #valueRequired()})
     * @param implicitValue what a {@link #LIST} flag without a value means
     */
    public abstract Object fromArgument(String where, String text, String implicitValue);

    /** Converts a value read by {@link TomlSubset}. */
    public abstract Object fromToml(String where, Object value, String implicitValue);

    /** True if the flag must have a value, given as {@code --flag=value} or {@code --flag value}. */
    public boolean valueRequired() {
        return this != FLAG && this != LIST;
    }

    /** True if repeating the flag adds values; other flags may be given only once. */
    public boolean accumulates() {
        return this == REPEATED || this == LIST;
    }

    /**
     * The unit a bare number is counted in: {@code "seconds"}, {@code "MiB"}, or null for a
     * value without a unit.
     */
    public String unit() {
        return switch (this) {
            case SECONDS -> "seconds";
            case MIB -> "MiB";
            default -> null;
        };
    }

    /**
     * Writes a converted value the way {@link #fromToml} reads it back: the inverse of the
     * conversion, for {@code --print-config}.
     */
    public String toToml(Object value) {
        return switch (this) {
            case FLAG, UINT -> value.toString();
            case MIB -> Long.toString((Long) value / KvmServerOptions.MIB);
            case SECONDS -> seconds((Duration) value);
            case STRING -> TomlSubset.quote((String) value);
            case REPEATED, LIST -> ((List<?>) value).stream()
                    .map(item -> TomlSubset.quote((String) item))
                    .collect(Collectors.joining(", ", "[", "]"));
        };
    }

    /**
     * Writes a converted value for people, as a command-line user would type it: {@code 8192}
     * for 8192 MiB, {@code 2.5} for 2.5 seconds, {@code off} and {@code none} for an unset
     * switch and an empty list.
     */
    public String display(Object value) {
        return switch (this) {
            case FLAG -> (Boolean) value ? "on" : "off";
            case UINT -> value.toString();
            case MIB -> Long.toString((Long) value / KvmServerOptions.MIB);
            case SECONDS -> seconds((Duration) value);
            case STRING -> (String) value;
            case REPEATED, LIST -> ((List<?>) value).isEmpty() ? "none"
                    : ((List<?>) value).stream().map(Object::toString).collect(Collectors.joining(","));
        };
    }

    /** A duration as a plain decimal number of seconds, without trailing zeros. */
    static String seconds(Duration duration) {
        BigDecimal seconds = BigDecimal.valueOf(duration.getSeconds()).add(BigDecimal.valueOf(duration.getNano(), 9));
        return seconds.stripTrailingZeros().toPlainString();
    }

    private static long digits(String where, String text, String what) {
        if (text.isEmpty() || text.length() > 18 || !text.chars().allMatch(c -> c >= '0' && c <= '9')) {
            throw new IllegalArgumentException(where + " expects " + what + ", got '" + text + "'");
        }
        return Long.parseLong(text);
    }

    private static List<String> split(String where, String text) {
        List<String> values = List.of(text.split(",", -1));
        if (values.contains("")) {
            throw new IllegalArgumentException(where + " has an empty entry in '" + text
                    + "'; separate values with single commas");
        }
        return values;
    }

    private static List<String> strings(String where, Object value) {
        if (value instanceof String text) {
            return List.of(text);
        }
        if (value instanceof List<?> list && list.stream().allMatch(String.class::isInstance)) {
            return list.stream().map(String.class::cast).toList();
        }
        throw expected(where, "an array of \"strings\"", value);
    }

    private static IllegalArgumentException expected(String where, String what, Object value) {
        String shown = value instanceof String text ? TomlSubset.quote(text) : String.valueOf(value);
        return new IllegalArgumentException(where + " expects " + what + ", got " + shown);
    }
}
