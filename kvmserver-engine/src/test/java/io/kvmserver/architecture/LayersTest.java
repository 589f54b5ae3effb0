package io.kvmserver.architecture;

import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.library.Architectures;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The engine's packages form layers, each depending only on layers below it, so that a package can
 * be read, tested and changed with only those in mind. The order is the README's picture ("How it
 * works"), bottom first.
 */
class LayersTest {

    /** Bottom to top. A layer may use every layer before it in this list and none after it. */
    static final List<String> LAYERS = List.of(
            "host",     // the host's libc binding and its Linux x86-64 ABI (errno, system call numbers)
            "config",   // the options of one server
            "memory",   // guest physical memory: a memfd mapped into the host
            "kvm",      // /dev/kvm, a VM, a vCPU: one typed wrapper per fd
            "x86",      // page tables, descriptor tables, the trap stub
            "vdso",     // the guest's clocks without an exit
            "elf",      // reading and loading ELF programs
            "sandbox",  // the permission policies: files, network, environment
            "linux",    // the Linux personality: system calls, fds, the process
            "vm",       // one VM running one program: boot, freeze, fork, reset
            "server",   // template and request VMs serving connections
            "cli");     // the command-line runner

    private static final JavaClasses ENGINE = new ClassFileImporter()
            .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
            .importPackages("io.kvmserver");

    @Test
    void everyPackageUsesOnlyTheLayersBelowIt() {
        Architectures.LayeredArchitecture layers = Architectures.layeredArchitecture().consideringOnlyDependenciesInLayers();
        for (String layer : LAYERS) {
            layers = layers.layer(layer).definedBy("io.kvmserver." + layer + "..");
        }
        for (int i = 0; i < LAYERS.size(); i++) {
            List<String> above = new ArrayList<>(LAYERS.subList(i + 1, LAYERS.size()));
            layers = above.isEmpty()
                    ? layers.whereLayer(LAYERS.get(i)).mayNotBeAccessedByAnyLayer()
                    : layers.whereLayer(LAYERS.get(i)).mayOnlyBeAccessedByLayers(above.toArray(String[]::new));
        }
        layers.check(ENGINE);
    }

    @Test
    void theReadmePictureShowsTheseLayers() throws java.io.IOException {
        String readme = java.nio.file.Files.readString(java.nio.file.Path.of("../README.md"));
        int section = readme.indexOf("### The engine's layers");
        int start = readme.indexOf("```\n", section) + 4;
        String picture = readme.substring(start, readme.indexOf("```", start));
        List<String> shown = picture.lines().map(String::strip).filter(l -> !l.isEmpty())
                .map(l -> l.split("\\s+")[0]).toList();
        List<String> topFirst = new ArrayList<>(LAYERS);
        java.util.Collections.reverse(topFirst);
        org.assertj.core.api.Assertions.assertThat(shown).as("README.md, \"The engine's layers\", top first")
                .isEqualTo(topFirst);
    }

    @Test
    void thePackagesHaveNoCycles() {
        slices().matching("io.kvmserver.(*)..").should().beFreeOfCycles().check(ENGINE);
    }

    @Test
    void everyEnginePackageHasAPlaceInTheLayers() {
        com.tngtech.archunit.lang.syntax.ArchRuleDefinition.classes()
                .should().resideInAnyPackage(LAYERS.stream().map(l -> "io.kvmserver." + l + "..").toArray(String[]::new))
                .check(ENGINE);
    }
}
