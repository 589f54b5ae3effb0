package io.kvmserver.cli;

import io.kvmserver.config.KvmServerOptions;
import io.kvmserver.config.TomlSubset;
import java.math.BigDecimal;
import java.math.RoundingMode;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * How the value of one option is written, on the command line and in the configuration file,
 * and what Java value it becomes. Both sources convert here, so that a key means exactly the
 * same in {@code kvmserver.toml} as the flag of the same name.
 *
 * <p>{@code where} names the source in messages: {@code --threads} for the command line,
 * {@code kvmserver.toml:3: threads} for the file.
 */
enum CommandLineType {

    /** A switch: present means true; {@code --flag=false} or {@code key = false} turns it off. */
    FLAG {
        @Override
        Object fromArgument(String where, String text, String implicitValue) {
            if (text == null || text.equals("true")) {
                return Boolean.TRUE;
            }
            if (text.equals("false")) {
                return Boolean.FALSE;
            }
            throw new IllegalArgumentException(where + " takes no value (or =true/=false), got '" + text + "'");
        }

        @Override
        Object fromToml(String where, Object value, String implicitValue) {
            if (value instanceof Boolean) {
                return value;
            }
            throw expected(where, "true or false", value);
        }
    },

    /** A non-negative int such as a thread count; becomes an {@link Integer}. */
    UINT {
        @Override
        Object fromArgument(String where, String text, String implicitValue) {
            return toInt(where, digits(where, text, "a non-negative integer"), text);
        }

        @Override
        Object fromToml(String where, Object value, String implicitValue) {
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
        Object fromArgument(String where, String text, String implicitValue) {
            return toBytes(where, digits(where, text, "a whole number of MiB"), text);
        }

        @Override
        Object fromToml(String where, Object value, String implicitValue) {
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
        Object fromArgument(String where, String text, String implicitValue) {
            try {
                return toDuration(where, new BigDecimal(text), text);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException(where + " expects a number of seconds such as 2.5, got '" + text + "'");
            }
        }

        @Override
        Object fromToml(String where, Object value, String implicitValue) {
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
        Object fromArgument(String where, String text, String implicitValue) {
            return text;
        }

        @Override
        Object fromToml(String where, Object value, String implicitValue) {
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
        Object fromArgument(String where, String text, String implicitValue) {
            return List.of(text);
        }

        @Override
        Object fromToml(String where, Object value, String implicitValue) {
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
        Object fromArgument(String where, String text, String implicitValue) {
            return text == null ? List.of(implicitValue) : split(where, text);
        }

        @Override
        Object fromToml(String where, Object value, String implicitValue) {
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
    abstract Object fromArgument(String where, String text, String implicitValue);

    /** Converts a value read by {@link io.kvmserver.config.TomlSubset}. */
    abstract Object fromToml(String where, Object value, String implicitValue);

    /** True if the flag must have a value, given as {@code --flag=value} or {@code --flag value}. */
    boolean valueRequired() {
        return this != FLAG && this != LIST;
    }

    /** True if repeating the flag adds values; other flags may be given only once. */
    boolean accumulates() {
        return this == REPEATED || this == LIST;
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
