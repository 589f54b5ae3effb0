package io.kvmserver.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The catalog is the one description of the settings: these tests fail when it and
 * {@link KvmServerOptions} drift apart, for example when a component is added to the record
 * without a catalog entry, or an entry reads or writes the wrong component.
 */
class OptionCatalogTest {

    private static final Path BASE = Path.of("/base");

    @Test
    void everyComponentOfTheOptionsHasOneEntry() {
        List<String> components = Arrays.stream(KvmServerOptions.class.getRecordComponents())
                .map(c -> c.getName())
                .filter(name -> !name.equals("naming"))
                .toList();
        assertThat(Option.values()).hasSameSizeAs(components);
    }

    @Test
    void keysShortFlagsAndSpringPropertiesAreDistinct() {
        assertThat(Arrays.stream(Option.values()).map(Option::key)).doesNotHaveDuplicates();
        assertThat(Arrays.stream(Option.values()).filter(o -> o.shortFlag() != '\0').map(Option::shortFlag))
                .doesNotHaveDuplicates().doesNotContain('h', 'c');
        assertThat(Arrays.stream(Option.values()).flatMap(o -> o.springProperty().stream()))
                .doesNotHaveDuplicates().allMatch(p -> p.startsWith("kvmserver."));
    }

    @ParameterizedTest
    @EnumSource(Option.class)
    void descriptionsAreSentences(Option option) {
        assertThat(option.description()).endsWith(".").doesNotContain("--", "kvmserver.");
        assertThat(option.flagDescription()).endsWith(".");
    }

    @ParameterizedTest
    @EnumSource(Option.class)
    void theBuildersDefaultsAreTheCatalogs(Option option) {
        KvmServerOptions defaults = KvmServerOptions.builder().program("/bin/server").build();
        if (option.defaultValue() != null) {
            assertThat(option.valueIn(defaults)).isEqualTo(option.defaultValue());
        }
    }

    /**
     * Writing each example through the entry and reading it back gives the example, and changes
     * no other setting: each entry is wired to its own component, both ways.
     */
    @ParameterizedTest
    @EnumSource(Option.class)
    void eachEntryWritesAndReadsItsOwnComponent(Option option) {
        KvmServerOptions base = KvmServerOptions.builder().program("/bin/server").cwd("/srv").build();
        Object value = option.example() != null
                ? option.type().fromArgument(option.flag(), option.example(), option.implicitValue())
                : option.type() == OptionType.FLAG ? !(Boolean) option.defaultValue()
                : option == Option.PROGRAM ? "/bin/other" : List.of("an-argument");
        KvmServerOptions.Builder builder = base.toBuilder();
        option.apply(builder, value, BASE);
        KvmServerOptions changed = builder.build();

        assertThat(option.valueIn(changed)).isEqualTo(value).isNotEqualTo(option.valueIn(base));
        Map<Option, Object> before = values(base);
        Map<Option, Object> after = values(changed);
        after.remove(option);
        before.remove(option);
        assertThat(after).isEqualTo(before);
    }

    @Test
    void relativeHostPathsResolveAgainstTheBase() {
        KvmServerOptions.Builder builder = KvmServerOptions.builder().program("/bin/server");
        Option.ALLOW_READ.apply(builder, List.of("lib"), BASE);
        Option.VOLUME.apply(builder, List.of("data:/data"), BASE);
        Option.CWD.apply(builder, "app", BASE);
        KvmServerOptions o = builder.build();

        assertThat(o.allowRead()).containsExactly("/base/lib");
        assertThat(o.volumes()).containsExactly(new Volume("/base/data", "/data", false));
        assertThat(o.cwd()).isEqualTo("/base/app");
    }

    @Test
    void theInvertedFlagHoldsTheOppositeOfTheSetting() {
        KvmServerOptions o = KvmServerOptions.builder().program("/bin/server").ephemeralKeepWorkingMemory(false).build();

        assertThat(Option.EPHEMERAL_KEEP_WORKING_MEMORY.isInverted()).isTrue();
        assertThat(Option.EPHEMERAL_KEEP_WORKING_MEMORY.valueIn(o)).isEqualTo(true);
        assertThat(Option.EPHEMERAL_KEEP_WORKING_MEMORY.flag()).isEqualTo("--no-ephemeral-keep-working-memory");
        assertThat(Option.EPHEMERAL_KEEP_WORKING_MEMORY.springProperty())
                .contains("kvmserver.ephemeral-keep-working-memory");
    }

    @Test
    void namingsNameSettingsInTheirUsersWords() {
        assertThat(OptionNaming.COMMAND_LINE.nameOf(Option.MAX_REQUEST_TIME)).isEqualTo("--max-request-time");
        assertThat(OptionNaming.COMMAND_LINE.nameOf(Option.PROGRAM)).isEqualTo("program");
        assertThat(OptionNaming.SPRING_BOOT.nameOf(Option.MAX_REQUEST_TIME))
                .isEqualTo("kvmserver.limits.max-request-time");
        assertThat(OptionNaming.SPRING_BOOT.nameOf(Option.WARMUP)).isEqualTo("kvmserver.warmup.count");
        assertThat(OptionNaming.SPRING_BOOT.nameOf(Option.PRINT_CONFIG)).isEqualTo("--print-config");
    }

    @Test
    void validationSpeaksTheConfigurationsNaming() {
        KvmServerOptions.Builder spring = KvmServerOptions.builder().program("/bin/server")
                .naming(OptionNaming.SPRING_BOOT);

        assertThatThrownBy(() -> spring.maxMainMemory(262144 * KvmServerOptions.MIB).build())
                .isInstanceOfSatisfying(InvalidOptionException.class,
                        e -> assertThat(e.option()).isEqualTo(Option.MAX_MAIN_MEMORY))
                .hasMessage("kvmserver.limits.max-main-memory (262144 MiB) must not exceed"
                        + " kvmserver.limits.max-address-space (131072 MiB)");
        assertThatThrownBy(() -> KvmServerOptions.builder().program("").naming(OptionNaming.SPRING_BOOT).build())
                .hasMessage("kvmserver.program must be set to the executable to run");
        assertThatThrownBy(() -> KvmServerOptions.builder().program("/p").allowAll(true).allowNet(true)
                .naming(OptionNaming.SPRING_BOOT).build())
                .hasMessageStartingWith("kvmserver.permissions.allow-all excludes kvmserver.permissions.allow-net");
    }

    private static Map<Option, Object> values(KvmServerOptions options) {
        return Arrays.stream(Option.values()).collect(Collectors.toMap(Function.identity(), o -> o.valueIn(options)));
    }
}
