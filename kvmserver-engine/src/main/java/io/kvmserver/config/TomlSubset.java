package io.kvmserver.config;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * A strict reader for the part of TOML that {@code kvmserver.toml} uses: {@code key = value}
 * lines with bare keys, comments, basic and literal strings, integers, floats, booleans and
 * arrays of those on a single line.
 *
 * <p>It is deliberately not a TOML library: the C++ kvmserver reads its file with CLI11, which
 * understands the same subset (arrays must stay on one line), so a file that works there works
 * here. Everything outside the subset (tables, multi-line strings and arrays, dates, dotted
 * keys, nested arrays) is rejected with the line number instead of being half-understood,
 * because a silently ignored permission line is worse than a refused start.
 *
 * <p>Values are returned as {@link String}, {@link Long}, {@link Double}, {@link Boolean} or an
 * unmodifiable {@link List} of those.
 */
public final class TomlSubset {

    /** One value of the file with the line it was set on, for error messages of later checks. */
    public record Entry(Object value, int line) {
    }

    private static final Pattern INTEGER = Pattern.compile("[+-]?(0|[1-9](_?[0-9])*)");
    private static final Pattern FLOAT =
            Pattern.compile("[+-]?(0|[1-9](_?[0-9])*)(\\.[0-9](_?[0-9])*)?([eE][+-]?[0-9](_?[0-9])*)?");

    private TomlSubset() {
    }

    /**
     * Parses a whole file.
     *
     * @param text the file's content
     * @param sourceName how to name the file in error messages, such as {@code kvmserver.toml}
     * @return the keys in file order
     * @throws TomlSyntaxException at the first line that is not in the subset, or a duplicate key
     */
    public static Map<String, Entry> parse(String text, String sourceName) {
        Map<String, Entry> entries = new LinkedHashMap<>();
        String[] lines = text.split("\r?\n", -1);
        for (int i = 0; i < lines.length; i++) {
            new LineParser(lines[i], sourceName, i + 1).parseInto(entries);
        }
        return Collections.unmodifiableMap(entries);
    }

    /** Renders a TOML basic string, so that {@link #parse} reads back exactly {@code value}. */
    public static String quote(String value) {
        StringBuilder out = new StringBuilder(value.length() + 2).append('"');
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            switch (c) {
                case '"' -> out.append("\\\"");
                case '\\' -> out.append("\\\\");
                case '\n' -> out.append("\\n");
                case '\t' -> out.append("\\t");
                case '\r' -> out.append("\\r");
                default -> {
                    if (c < 0x20 || c == 0x7f) {
                        out.append(String.format("\\u%04X", (int) c));
                    } else {
                        out.append(c);
                    }
                }
            }
        }
        return out.append('"').toString();
    }

    /** Parses one line; all state of a line lives here so that the outer loop stays trivial. */
    private static final class LineParser {
        private final String text;
        private final String sourceName;
        private final int line;
        private int pos;

        LineParser(String text, String sourceName, int line) {
            this.text = text;
            this.sourceName = sourceName;
            this.line = line;
        }

        void parseInto(Map<String, Entry> entries) {
            skipSpaces();
            if (atEndOrComment()) {
                return;
            }
            if (peek() == '[') {
                throw error("tables ([name]) are not supported; write every key at the top level");
            }
            String key = parseKey();
            skipSpaces();
            if (pos >= text.length() || peek() != '=') {
                throw error("expected '=' after key '" + key + "'");
            }
            pos++;
            skipSpaces();
            if (atEndOrComment()) {
                throw error("expected a value after '" + key + " ='");
            }
            Object value = parseValue(true);
            skipSpaces();
            if (!atEndOrComment()) {
                throw error("unexpected '" + text.substring(pos).strip() + "' after the value of '" + key + "'");
            }
            Entry previous = entries.putIfAbsent(key, new Entry(value, line));
            if (previous != null) {
                throw error("duplicate key '" + key + "' (first set on line " + previous.line() + ")");
            }
        }

        private String parseKey() {
            int start = pos;
            while (pos < text.length() && isBareKeyChar(peek())) {
                pos++;
            }
            String key = text.substring(start, pos);
            if (key.isEmpty()) {
                throw error("expected a key (letters, digits, '-' or '_') but found '" + peek() + "'");
            }
            if (pos < text.length() && peek() == '.') {
                throw error("dotted keys are not supported: '" + key + ".'");
            }
            return key;
        }

        private Object parseValue(boolean arrayAllowed) {
            char c = peek();
            if (c == '"') {
                return parseBasicString();
            }
            if (c == '\'') {
                return parseLiteralString();
            }
            if (c == '[') {
                if (!arrayAllowed) {
                    throw error("nested arrays are not supported");
                }
                return parseArray();
            }
            return parseScalar();
        }

        private List<Object> parseArray() {
            pos++;
            List<Object> values = new ArrayList<>();
            while (true) {
                skipSpaces();
                if (pos >= text.length() || peek() == '#') {
                    throw error("unterminated array: arrays must be written on a single line");
                }
                if (peek() == ']') {
                    pos++;
                    return Collections.unmodifiableList(values);
                }
                values.add(parseValue(false));
                skipSpaces();
                if (pos < text.length() && peek() == ',') {
                    pos++;
                } else if (pos >= text.length() || peek() != ']') {
                    throw error("expected ',' or ']' in array");
                }
            }
        }

        private String parseBasicString() {
            if (text.startsWith("\"\"\"", pos)) {
                throw error("multi-line strings (\"\"\") are not supported");
            }
            pos++;
            StringBuilder out = new StringBuilder();
            while (pos < text.length()) {
                char c = text.charAt(pos++);
                if (c == '"') {
                    return out.toString();
                }
                if (c == '\\') {
                    appendEscape(out);
                } else if (c < 0x20 && c != '\t' || c == 0x7f) {
                    throw error("control character U+" + String.format("%04X", (int) c) + " in string; escape it");
                } else {
                    out.append(c);
                }
            }
            throw error("unterminated string: a closing \" is missing");
        }

        private void appendEscape(StringBuilder out) {
            if (pos >= text.length()) {
                throw error("unterminated string: a closing \" is missing");
            }
            char e = text.charAt(pos++);
            switch (e) {
                case 'b' -> out.append('\b');
                case 't' -> out.append('\t');
                case 'n' -> out.append('\n');
                case 'f' -> out.append('\f');
                case 'r' -> out.append('\r');
                case '"' -> out.append('"');
                case '\\' -> out.append('\\');
                case 'u' -> out.appendCodePoint(unicodeEscape(4));
                case 'U' -> out.appendCodePoint(unicodeEscape(8));
                default -> throw error("invalid escape sequence '\\" + e + "' in string");
            }
        }

        private int unicodeEscape(int digits) {
            if (pos + digits > text.length()) {
                throw error("incomplete unicode escape in string");
            }
            String hex = text.substring(pos, pos + digits);
            pos += digits;
            try {
                int codePoint = Integer.parseUnsignedInt(hex, 16);
                if (!Character.isValidCodePoint(codePoint)
                        || codePoint >= Character.MIN_SURROGATE && codePoint <= Character.MAX_SURROGATE) {
                    throw error("invalid unicode escape '" + hex + "' in string");
                }
                return codePoint;
            } catch (NumberFormatException e) {
                throw error("invalid unicode escape '" + hex + "' in string");
            }
        }

        private String parseLiteralString() {
            if (text.startsWith("'''", pos)) {
                throw error("multi-line strings (''') are not supported");
            }
            int end = text.indexOf('\'', pos + 1);
            if (end < 0) {
                throw error("unterminated string: a closing ' is missing");
            }
            String value = text.substring(pos + 1, end);
            pos = end + 1;
            return value;
        }

        private Object parseScalar() {
            int start = pos;
            while (pos < text.length() && " \t,]#".indexOf(peek()) < 0) {
                pos++;
            }
            String token = text.substring(start, pos);
            if (token.equals("true") || token.equals("false")) {
                return Boolean.valueOf(token);
            }
            String digits = token.replace("_", "");
            if (INTEGER.matcher(token).matches()) {
                try {
                    return Long.parseLong(digits);
                } catch (NumberFormatException e) {
                    throw error("integer '" + token + "' is out of range");
                }
            }
            if (FLOAT.matcher(token).matches()) {
                return Double.parseDouble(digits);
            }
            throw error(token.isEmpty() ? "expected a value" : "unsupported value '" + token
                    + "'; expected a \"string\", a number, true, false or [an, array]");
        }

        private boolean isBareKeyChar(char c) {
            return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_';
        }

        private void skipSpaces() {
            while (pos < text.length() && (peek() == ' ' || peek() == '\t')) {
                pos++;
            }
        }

        private boolean atEndOrComment() {
            return pos >= text.length() || peek() == '#';
        }

        private char peek() {
            return text.charAt(pos);
        }

        private TomlSyntaxException error(String problem) {
            return new TomlSyntaxException(sourceName, line, problem);
        }
    }
}
