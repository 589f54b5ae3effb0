package io.kvmserver.engine;

import static org.assertj.core.api.Assertions.assertThat;

import io.kvmserver.kvm.KvmAbi;
import io.kvmserver.testing.GuestPrograms;
import io.kvmserver.testing.HostTools;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.assertj.core.api.SoftAssertions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every ioctl number and struct offset in {@link KvmAbi} equals what the host's
 * {@code <linux/kvm.h>} gives, as printed by {@code src/test/c/host/kvm_abi.c}.
 */
class KvmAbiTest {

    /** Constants the engine chooses itself, not taken from the header. */
    private static final Set<String> ENGINE_CHOICES = Set.of("CPUID_MAX_ENTRIES");

    @Test
    void everyConstantMatchesTheKernelHeader(@TempDir Path dir) throws Exception {
        HostTools.assumeInstalled("gcc");
        if (!Files.exists(Path.of("/usr/include/linux/kvm.h"))) {
            org.junit.jupiter.api.Assumptions.abort("skipped: /usr/include/linux/kvm.h is not installed");
        }
        Path binary = dir.resolve("kvm_abi");
        HostTools.run(List.of("gcc", "-Wall", "-o", binary.toString(),
                GuestPrograms.sourceDirectory().resolve("host/kvm_abi.c").toString()));
        Map<String, Long> header = new LinkedHashMap<>();
        for (String line : HostTools.run(List.of(binary.toString())).split("\n")) {
            String[] f = line.split(" ");
            header.put(f[0], Long.parseLong(f[1]));
        }
        SoftAssertions soft = new SoftAssertions();
        Set<String> unchecked = new TreeSet<>();
        for (Field field : KvmAbi.class.getFields()) {
            if (!Modifier.isStatic(field.getModifiers()) || ENGINE_CHOICES.contains(field.getName())) {
                continue;
            }
            Long expected = header.remove(field.getName());
            if (expected == null) {
                unchecked.add(field.getName());
                continue;
            }
            long actual = ((Number) field.get(null)).longValue();
            soft.assertThat(actual).as("KvmAbi.%s (header: 0x%x, KvmAbi: 0x%x)", field.getName(), expected, actual)
                    .isEqualTo(expected);
        }
        soft.assertThat(unchecked).as("KvmAbi constants kvm_abi.c does not print").isEmpty();
        soft.assertThat(header.keySet()).as("kvm_abi.c prints constants KvmAbi does not have").isEmpty();
        soft.assertAll();
    }
}
