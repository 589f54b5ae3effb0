package io.kvmserver.vm;

import static org.assertj.core.api.Assertions.assertThat;

import io.kvmserver.kvm.Kvm;
import io.kvmserver.kvm.KvmAbi;
import io.kvmserver.kvm.VcpuExit;
import io.kvmserver.kvm.VcpuFd;
import io.kvmserver.kvm.VmFd;
import io.kvmserver.memory.GuestMemory;
import io.kvmserver.testing.RequiresKvm;
import io.kvmserver.x86.CpuSetup;
import io.kvmserver.x86.GuestLayout;
import io.kvmserver.x86.PageTables;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Guest writes in different memory chunks (one KVM slot each, see {@link MemorySlots}) reach the
 * dirty-page list at their guest physical addresses, through the dirty ring (whose entries name
 * their slot) and through the per-slot bitmaps (the fallback for hosts without the ring): a page
 * filed under the wrong chunk would be left dirty by a reset.
 */
@RequiresKvm
class DirtyPagesTest {

    private static final long MEMORY = 512L << 20;
    private static final long CODE = GuestLayout.USER_START;

    @ParameterizedTest
    @ValueSource(booleans = {true, false})
    void writesInSeveralChunksAreReportedAtTheirAddresses(boolean ring) {
        long[] targets = {CODE + 3 * GuestLayout.PAGE_SIZE, (3L << 26) + 5 * GuestLayout.PAGE_SIZE,
            (7L << 26) + 9 * GuestLayout.PAGE_SIZE};
        try (Kvm kvm = Kvm.open();
                GuestMemory memory = GuestMemory.create("dirty-pages-test", MEMORY + PageTables.poolSizeFor(MEMORY));
                VmFd vm = kvm.createVm()) {
            assertThat(memory.chunkSize()).isEqualTo(1L << 26);
            PageTables tables = new PageTables(memory, MEMORY, memory.size());
            CpuSetup.writeSystemRegion(memory, tables);
            memory.write(CODE, writer(targets));
            tables.set(CODE, GuestLayout.PAGE_SIZE, PageTables.PRESENT | PageTables.USER);
            for (long target : targets) {
                tables.set(target, GuestLayout.PAGE_SIZE,
                        PageTables.PRESENT | PageTables.USER | PageTables.WRITABLE | PageTables.NO_EXECUTE);
            }
            int entries = 1024;
            if (ring) {
                vm.enableCap(KvmAbi.KVM_CAP_DIRTY_LOG_RING, (long) entries * KvmAbi.DIRTY_GFN_SIZE);
            }
            MemorySlots.attach(vm, memory, VmFd.MEM_LOG_DIRTY_PAGES);
            assertThat(memory.exposedChunks()).contains(0, 3, 7);
            try (VcpuFd vcpu = vm.createVcpu(0)) {
                CpuSetup.startUserCode(vcpu, tables.root(), kvm.supportedXcr0(), CODE, CODE + 2 * GuestLayout.PAGE_SIZE);
                DirtyPages dirty = new DirtyPages(vm, memory,
                        ring ? vcpu.mapDirtyRing((long) entries * KvmAbi.DIRTY_GFN_SIZE) : null, entries);
                VcpuExit exit = vcpu.run();
                assertThat(exit).isInstanceOf(VcpuExit.Mmio.class); // the syscall after the writes
                dirty.harvest();
                List<Long> pages = new ArrayList<>();
                dirty.drain((address, length) -> {
                    for (long a = address; a < address + length; a += GuestLayout.PAGE_SIZE) {
                        pages.add(a);
                    }
                });
                assertThat(pages).contains(targets[0], targets[1], targets[2]);
                assertThat(pages).allMatch(p -> p < MEMORY + PageTables.poolSizeFor(MEMORY));
                dirty.close();
            }
        }
    }

    /** {@code movabs rax, target; mov byte [rax], 1} for each target, then {@code syscall}. */
    private static byte[] writer(long[] targets) {
        ByteBuffer code = ByteBuffer.allocate(64).order(ByteOrder.LITTLE_ENDIAN);
        for (long target : targets) {
            code.put((byte) 0x48).put((byte) 0xb8).putLong(target);
            code.put((byte) 0xc6).put((byte) 0x00).put((byte) 0x01);
        }
        code.put((byte) 0xb8).putInt(110).put((byte) 0x0f).put((byte) 0x05);
        byte[] bytes = new byte[code.position()];
        code.flip().get(bytes);
        return bytes;
    }
}
