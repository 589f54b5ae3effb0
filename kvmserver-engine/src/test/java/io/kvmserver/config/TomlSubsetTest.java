package io.kvmserver.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class TomlSubsetTest {

    private static Map<String, TomlSubset.Entry> parse(String text) {
        return TomlSubset.parse(text, "kvmserver.toml");
    }

    private static Object value(String text) {
        return parse("key = " + text).get("key").value();
    }

    @Test
    void readsScalarsWithTheirLines() {
        Map<String, TomlSubset.Entry> entries = parse("""
                # a comment
                threads = 2
                ephemeral = true   # trailing comment
                max-boot-time = 0.5

                program = "/bin/server"
                """);

        assertThat(entries).containsOnlyKeys("threads", "ephemeral", "max-boot-time", "program");
        assertThat(entries.get("threads")).isEqualTo(new TomlSubset.Entry(2L, 2));
        assertThat(entries.get("ephemeral")).isEqualTo(new TomlSubset.Entry(true, 3));
        assertThat(entries.get("max-boot-time")).isEqualTo(new TomlSubset.Entry(0.5, 4));
        assertThat(entries.get("program")).isEqualTo(new TomlSubset.Entry("/bin/server", 6));
    }

    @Test
    void keepsFileOrder() {
        assertThat(parse("b = 1\na = 2\nc = 3").keySet()).containsExactly("b", "a", "c");
    }

    @Test
    void readsSingleLineArraysWithTrailingComma() {
        assertThat(value("[\"/a\", '/b' , 3, false,]")).isEqualTo(List.of("/a", "/b", 3L, false));
        assertThat(value("[]")).isEqualTo(List.of());
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "'\"a\\\"b\"'           | a\"b",
        "'\"tab\\there\"'       | tab\there",
        "'\"\\u00e9\"'          | é",
        "'\"\\U0001F600\"'      | \uD83D\uDE00",
        "'''C:\\no\\escapes'''  | C:\\no\\escapes",
        "'\"# not a comment\"'  | # not a comment",
    })
    void readsStrings(String toml, String expected) {
        assertThat(value(toml)).isEqualTo(expected.replace("\\t", "\t"));
    }

    @ParameterizedTest
    @CsvSource({"1_000, 1000", "-3, -3", "+7, 7", "0, 0"})
    void readsIntegers(String toml, long expected) {
        assertThat(value(toml)).isEqualTo(expected);
    }

    @ParameterizedTest
    @CsvSource({"1.5, 1.5", "2e3, 2000.0", "-0.25, -0.25"})
    void readsFloats(String toml, double expected) {
        assertThat(value(toml)).isEqualTo(expected);
    }

    @Test
    void acceptsWindowsLineEnds() {
        assertThat(parse("a = 1\r\nb = 2\r\n").get("b")).isEqualTo(new TomlSubset.Entry(2L, 2));
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "a = 1\\n[server]\\n                  | kvmserver.toml:2: tables",
        "a = [1,\\n 2]                       | kvmserver.toml:1: unterminated array",
        "a = 1\\nb = 2\\na = 3                | kvmserver.toml:3: duplicate key 'a' (first set on line 1)",
        "a = \"x\\q\"                       | kvmserver.toml:1: invalid escape",
        "\\n\\na = \"open                     | kvmserver.toml:3: unterminated string",
        "a 1                                | kvmserver.toml:1: expected '=' after key 'a'",
        "a =                                | kvmserver.toml:1: expected a value",
        "a = 1979-05-27                     | kvmserver.toml:1: unsupported value '1979-05-27'",
        "a = [[1]]                          | kvmserver.toml:1: nested arrays",
        "a = \"\"\"x\"\"\"                  | kvmserver.toml:1: multi-line strings",
        "a.b = 1                            | kvmserver.toml:1: dotted keys",
        "a = 1 2                            | kvmserver.toml:1: unexpected '2'",
        "a = 99999999999999999999           | kvmserver.toml:1: integer '99999999999999999999' is out of range",
        "a = yes                            | kvmserver.toml:1: unsupported value 'yes'",
        "= 1                                | kvmserver.toml:1: expected a key",
        "a = [1 2]                          | kvmserver.toml:1: expected ',' or ']'",
        "a = inf                            | kvmserver.toml:1: unsupported value 'inf'",
    })
    void rejectsWhatIsOutsideTheSubsetWithTheLine(String text, String message) {
        assertThatThrownBy(() -> parse(text.replace("\\n", "\n")))
                .isInstanceOf(TomlSyntaxException.class)
                .hasMessageStartingWith(message);
    }

    @Test
    void reportsTheLineNumber() {
        assertThatThrownBy(() -> parse("a = 1\n\n# c\nb = ?"))
                .isInstanceOfSatisfying(TomlSyntaxException.class, e -> assertThat(e.line()).isEqualTo(4));
    }

    @ParameterizedTest
    @ValueSource(strings = {"plain", "quote\"s", "back\\slash", "new\nline", "tab\t", "bell\u0007", "é ☃"})
    void quoteReadsBackExactly(String s) {
        assertThat(value(TomlSubset.quote(s))).isEqualTo(s);
    }
}
