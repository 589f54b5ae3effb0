package io.kvmserver.engine;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.kvmserver.elf.ElfException;
import io.kvmserver.testing.GuestPrograms;
import io.kvmserver.testing.GuestRun;
import io.kvmserver.testing.HostTools;
import io.kvmserver.testing.RequiresKvm;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A program linked below 0x10000 (review of 2026-12-05, third session): where no program may map
 * (Linux's {@code vm.mmap_min_addr}) and the engine keeps its own pages. It was told it wanted
 * addresses "outside the guest's address space" and to raise {@code max-address-space}, which can
 * never help: it is told to link higher.
 */
@RequiresKvm
class LowAddressProgramTest {

    @TempDir
    Path dir;

    @Test
    void aProgramLinkedBelowMmapMinAddrIsToldToLinkHigher() {
        Path program = dir.resolve("low");
        HostTools.run(List.of("gcc", "-O2", "-static", "-no-pie", "-Wl,-Ttext-segment=0x1000", "-o",
                program.toString(), GuestPrograms.sourceDirectory().resolve("hello.c").toString()));
        assertThatThrownBy(() -> GuestRun.run(program, List.of()))
                .isInstanceOf(ElfException.class)
                .hasMessageContaining("wants addresses from 0x1000, below 0x10000, where no program may map")
                .hasMessageContaining("link it at a higher address")
                .hasMessageNotContaining("max-address-space");
    }
}
