package io.kvmserver.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.kvmserver.config.Option;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The README's table of command-line flags is the catalog's: a flag, default or description
 * changed in one place and not the other fails here, with the table to paste.
 */
class ReadmeCommandLineTest {

    private static final Path README = Path.of("../README.md");

    @Test
    void theFlagTableIsTheCatalogs() throws IOException {
        List<String> expected = expectedTable();
        assertThat(tableUnder("## Command line"))
                .as("the README's flag table; expected:%n%s%n", String.join("\n", expected))
                .containsExactlyElementsOf(expected);
    }

    static List<String> expectedTable() {
        List<String> rows = new ArrayList<>(List.of("| flag | default | meaning |", "|---|---|---|"));
        for (Option.Section section : Option.Section.values()) {
            if (section == Option.Section.GENERAL) {
                rows.add(row("-h, --help", "", CommandLine.HELP_TEXT));
                rows.add(row("-c, --config FILE", CommandLine.CONFIG_DEFAULT, CommandLine.CONFIG_TEXT));
            }
            for (Option option : Option.values()) {
                if (option.section() == section) {
                    rows.add(row(CommandLine.syntax(option), option.defaultText(), CommandLine.meaning(option)));
                }
            }
        }
        return rows;
    }

    private static String row(String syntax, String defaultText, String meaning) {
        return "| `" + cell(syntax) + "` | " + cell(defaultText) + " | " + cell(meaning) + " |";
    }

    private static String cell(String text) {
        return text.replace("|", "\\|");
    }

    /** The first table after {@code heading}, one string per row. */
    private static List<String> tableUnder(String heading) throws IOException {
        List<String> lines = Files.readAllLines(README);
        int at = lines.indexOf(heading);
        assertThat(at).as("README heading %s", heading).isNotNegative();
        List<String> table = new ArrayList<>();
        for (int i = at + 1; i < lines.size() && !lines.get(i).startsWith("#"); i++) {
            if (lines.get(i).startsWith("|")) {
                table.add(lines.get(i));
            } else if (!table.isEmpty()) {
                break;
            }
        }
        return table;
    }
}
