package io.kvmserver.engine;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.kvmserver.host.SyscallNumbers;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.assertj.core.api.SoftAssertions;
import org.junit.jupiter.api.Test;

/** {@link SyscallNumbers} agrees with the host's {@code asm/unistd_64.h}, in both directions. */
class SyscallNumbersTest {

    private static final Path HEADER = Path.of("/usr/include/x86_64-linux-gnu/asm/unistd_64.h");
    private static final Pattern DEFINE = Pattern.compile("#define __NR_(\\w+)\\s+(\\d+)");

    @Test
    void numbersAndNamesMatchTheKernelHeader() throws Exception {
        assumeTrue(Files.exists(HEADER), "skipped: " + HEADER + " is not installed");
        Map<String, Integer> header = new HashMap<>();
        for (String line : Files.readAllLines(HEADER)) {
            Matcher m = DEFINE.matcher(line.trim());
            if (m.matches()) {
                header.put(m.group(1), Integer.parseInt(m.group(2)));
            }
        }
        assertThat(header).as("system calls in " + HEADER).hasSizeGreaterThan(300);
        SoftAssertions soft = new SoftAssertions();
        int fields = 0;
        for (Field field : SyscallNumbers.class.getFields()) {
            if (!Modifier.isStatic(field.getModifiers()) || field.getType() != int.class
                    || field.getName().equals("COUNT")) {
                continue;
            }
            fields++;
            String name = field.getName().toLowerCase();
            soft.assertThat(header).as("SyscallNumbers.%s in the header", field.getName()).containsKey(name);
            if (header.containsKey(name)) {
                soft.assertThat(field.getInt(null)).as("SyscallNumbers.%s", field.getName())
                        .isEqualTo(header.get(name));
            }
        }
        soft.assertThat(fields).as("constants in SyscallNumbers").isGreaterThan(300);
        header.forEach((name, number) -> {
            if (number < SyscallNumbers.COUNT) {
                soft.assertThat(SyscallNumbers.name(number)).as("SyscallNumbers.name(%d)", number).isEqualTo(name);
            }
        });
        soft.assertAll();
    }
}
