package io.kvmserver.engine;

import io.kvmserver.host.SyscallNumbers;
import io.kvmserver.x86.CpuSetup;
import io.kvmserver.x86.GuestCallPages;
import io.kvmserver.x86.GuestLayout;
import io.kvmserver.x86.PageTables;
import io.kvmserver.x86.TrapStub;

import static org.assertj.core.api.Assertions.assertThat;

import io.kvmserver.testing.Assembly;
import io.kvmserver.memory.GuestMemory;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The trap stub's bytes in {@link TrapStub} are what GNU {@code as} makes of the annotated source
 * {@code trap-stub.S}, and {@link CpuSetup} puts them, and the IDT gates, where the layout says.
 */
class TrapStubTest {

    private static byte[] text;
    private static Assembly assembly;

    @BeforeAll
    static void assemble(@TempDir Path dir) throws IOException {
        assembly = Assembly.of(TrapStub.class, "trap-stub.S", dir);
        text = assembly.text();
    }

    private static byte[] assembled(String symbol, int length) {
        int at = (int) assembly.symbol(symbol);
        assertThat(at + length).as("end of " + symbol).isLessThanOrEqualTo(text.length);
        return Arrays.copyOfRange(text, at, at + length);
    }

    @Test
    void syscallEntryMatchesTheAssembledSource() {
        byte[] expected = TrapStub.syscallEntry();
        assertThat(assembled("syscall_entry", expected.length)).containsExactly(expected);
    }

    @Test
    void fastSyscallEntryMatchesTheAssembledSourceAndItsAddresses() {
        byte[] expected = TrapStub.fastSyscallEntry();
        assertThat(assembled("fast_syscall_entry", expected.length)).containsExactly(expected);
        long entry = assembly.symbol("syscall_entry");
        // The source lays the page out as the guest sees it: syscall_entry at SYSCALL_ENTRY.
        assertThat(GuestLayout.SYSCALL_ENTRY + assembly.symbol("fast_syscall_entry") - entry)
                .isEqualTo(TrapStub.FAST_SYSCALL_ENTRY);
        assertThat(GuestLayout.SYSCALL_ENTRY + assembly.symbol("slow") - entry).isEqualTo(TrapStub.FAST_SLOW_PATH);
        assertThat(GuestLayout.SYSCALL_ENTRY + assembly.symbol("fast_syscall_end") - entry)
                .isEqualTo(TrapStub.FAST_SYSCALL_END).isEqualTo(TrapStub.FAST_SYSCALL_ENTRY + expected.length);
        assertThat(Arrays.copyOfRange(text, (int) assembly.symbol("slow"), (int) assembly.symbol("slow") + 7))
                .as("the slow path is the doorbell write").containsExactly(Arrays.copyOf(TrapStub.syscallEntry(), 7));
        assertThat(TrapStub.FAST_SYSCALL_ENTRY + expected.length).as("the fast entry fits the syscall entry's pages")
                .isLessThanOrEqualTo(GuestLayout.SYSCALL_ENTRY_END);
    }

    @Test
    void fpuRestoreMatchesTheAssembledSourceInAPageOfItsOwn() {
        byte[] expected = TrapStub.fpuRestoreEntry();
        assertThat(assembled("fpu_restore_entry", expected.length)).containsExactly(expected);
        assertThat(assembly.symbol("fpu_restore_end") - assembly.symbol("fpu_restore_entry"))
                .isEqualTo(expected.length).isEqualTo(TrapStub.FPU_RESTORE_END - TrapStub.FPU_RESTORE_ENTRY);
        assertThat(TrapStub.FAST_SYSCALL_END).as("the fast entry in the syscall entry's pages")
                .isLessThanOrEqualTo(GuestLayout.SYSCALL_ENTRY_END);
        assertThat(TrapStub.FPU_RESTORE_ENTRY).as("in a page of its own").isEqualTo(GuestLayout.FPU_RESTORE);
        assertThat(TrapStub.FPU_RESTORE_END).isLessThanOrEqualTo(GuestLayout.FPU_RESTORE + GuestLayout.PAGE_SIZE);
        assertThat(GuestLayout.FPU_RESTORE).as("above the exception stack, below the time page")
                .isGreaterThanOrEqualTo(GuestLayout.EXCEPTION_STACK_TOP).isLessThan(GuestLayout.VVAR);
        assertThat(assembly.symbol("FPU_IMAGE")).isEqualTo(GuestLayout.FPU_IMAGE);
        assertThat(assembly.symbol("A_RESUME_RIP")).isEqualTo(GuestCallPages.RESUME_RIP);
        assertThat(assembly.symbol("A_RESUME_RAX")).isEqualTo(GuestCallPages.RESUME_RAX);
        assertThat(assembly.symbol("A_RESUME_RDX")).isEqualTo(GuestCallPages.RESUME_RDX);
        assertThat(GuestLayout.FPU_IMAGE % 64).as("XRSTOR's alignment").isZero();
        assertThat(TrapStub.FPU_RESTORE_ENTRY + assembly.symbol("fpu_restore_refused") - assembly.symbol("fpu_restore_entry"))
                .isEqualTo(TrapStub.FPU_RESTORE_REFUSED);
        assertThat(Arrays.copyOfRange(text, (int) assembly.symbol("fpu_restore_refused"), (int) assembly.symbol("fpu_restore_end")))
                .as("ud2").containsExactly(0x0f, 0x0b);
    }

    @Test
    void theUnmapsAnsweredInTheGuestReadAndWriteWhereTheHostDoes() {
        assertThat(assembly.symbol("A_UNMAPS")).isEqualTo(GuestCallPages.UNMAPS);
        assertThat(assembly.symbol("A_MAP_START")).isEqualTo(GuestCallPages.MAP_START);
        assertThat(assembly.symbol("A_MAP_END")).isEqualTo(GuestCallPages.MAP_END);
        assertThat(assembly.symbol("Q_UNMAP_LOW")).isEqualTo(GuestCallPages.UNMAP_LOW);
        assertThat(assembly.symbol("Q_UNMAP_HIGH")).isEqualTo(GuestCallPages.UNMAP_HIGH);
        assertThat(assembly.symbol("Q_DATA")).isEqualTo(GuestCallPages.DATA);
        assertThat(assembly.symbol("Q_DATA_SIZE")).isEqualTo(GuestCallPages.DATA_SIZE);
        assertThat(assembly.symbol("Q_SIGACTIONS_QUEUED")).isEqualTo(GuestCallPages.SIGACTIONS_QUEUED);
        assertThat(assembly.symbol("DISPOSITIONS")).isEqualTo(GuestCallPages.DISPOSITIONS);
        assertThat(assembly.symbol("Q_MASK")).isEqualTo(GuestCallPages.MASK);
        assertThat(assembly.symbol("Q_MASK_SET")).isEqualTo(GuestCallPages.MASK_SET);
        assertThat(assembly.symbol("T_BLOCKED")).isEqualTo(GuestCallPages.THREAD_BLOCKED);
        assertThat(assembly.symbol("T_PENDING")).isEqualTo(GuestCallPages.THREAD_PENDING);
        assertThat(assembly.symbol("T_TID")).isEqualTo(GuestCallPages.THREAD_TID);
        assertThat(GuestCallPages.SIGACTIONS_QUEUED + 8).isLessThanOrEqualTo(GuestCallPages.MASK);
        assertThat(GuestCallPages.MASK_SET + 4).as("the mask ends before the data").isLessThanOrEqualTo(GuestCallPages.DATA);
        assertThat(assembly.symbol("USER_START")).isEqualTo(GuestLayout.USER_START);
        assertThat(assembly.symbol("Q_TALLY")).isEqualTo(GuestCallPages.TALLY);
        assertThat(assembly.symbol("USER_PAGES") << 12).as("TASK_SIZE").isEqualTo(0x7fff_ffff_f000L);
    }

    @Test
    void theMmapsAnsweredInTheGuestReadAndWriteWhereTheHostDoes() {
        assertThat(assembly.symbol("A_RES_START")).isEqualTo(GuestCallPages.RESERVED_START);
        assertThat(assembly.symbol("A_RES_END")).isEqualTo(GuestCallPages.RESERVED_END);
        assertThat(assembly.symbol("A_ROOM_ABOVE")).isEqualTo(GuestCallPages.ROOM_ABOVE);
        assertThat(assembly.symbol("A_RES_EXTENT_END")).isEqualTo(GuestCallPages.RESERVED_EXTENT_END);
        assertThat(assembly.symbol("Q_RES_TAKEN")).isEqualTo(GuestCallPages.RESERVED_TAKEN);
        assertThat(GuestCallPages.RESERVED_EXTENT_END + 8).as("the answer page's fields end before the bytes read ahead")
                .isLessThanOrEqualTo(GuestCallPages.READ_DATA);
        assertThat(GuestCallPages.RESERVED_TAKEN + 8).as("the queue page's save area starts after it")
                .isLessThanOrEqualTo(GuestCallPages.QUEUE + 16);
    }

    @Test
    void theTallySlotsAreTheCallsTheHostCountsThemAs() {
        String[] slots = {"TALLY_EPOLL_WAIT", "TALLY_EPOLL_PWAIT", "TALLY_GETSOCKNAME", "TALLY_ACCEPT",
            "TALLY_ACCEPT4", "TALLY_MREMAP", "TALLY_GETPEERNAME", "TALLY_RT_SIGACTION", "TALLY_RT_SIGPROCMASK",
            "TALLY_GETTID"};
        String[] calls = {"epoll_wait", "epoll_pwait", "getsockname", "accept", "accept4", "mremap", "getpeername",
            "rt_sigaction", "rt_sigprocmask", "gettid"};
        assertThat(GuestCallPages.tallySlots()).isEqualTo(slots.length);
        for (int i = 0; i < slots.length; i++) {
            assertThat(assembly.symbol(slots[i])).as(slots[i]).isEqualTo(GuestCallPages.TALLY + 4L * i);
            assertThat(SyscallNumbers.name(GuestCallPages.talliedCall(i))).as(slots[i]).isEqualTo(calls[i]);
        }
        assertThat(GuestCallPages.TALLY + 4L * slots.length).as("the tallies end before the queued actions' bits")
                .isLessThanOrEqualTo(GuestCallPages.SIGACTIONS_QUEUED);
        assertThat(GuestCallPages.SIGACTIONS_QUEUED + 8).as("which end before the data")
                .isLessThanOrEqualTo(GuestCallPages.DATA);
    }

    @Test
    void theConnectionFlagsTheEntryTestsAreTheHostsBits() {
        assertThat(assembly.symbol("CONN_PEER_NAMED")).isEqualTo(GuestCallPages.PEER_NAMED);
        assertThat(assembly.symbol("CONN_QUIET_ONCE_READ")).isEqualTo(GuestCallPages.QUIET_ONCE_READ);
        assertThat(assembly.symbol("CONN_HOLDS_READ_AHEAD")).isEqualTo(GuestCallPages.HOLDS_READ_AHEAD);
        assertThat(assembly.symbol("CONN_ENDS_AFTER_READ_AHEAD")).isEqualTo(GuestCallPages.ENDS_AFTER_READ_AHEAD);
        assertThat(assembly.symbol("EPOLL_ADD_ANSWERED")).isEqualTo(GuestCallPages.EPOLL_ADD_ANSWERED);
    }

    @Test
    void exceptionEntriesMatchTheAssembledSourceSixteenBytesApart() {
        byte[] expected = TrapStub.exceptionEntries();
        assertThat(expected).hasSize(GuestLayout.EXCEPTION_VECTORS * 16);
        int start = (int) assembly.symbol("exception_entries");
        assertThat(start % 16).isZero();
        assertThat(text.length - start).as("nothing after the last entry").isEqualTo(expected.length);
        for (int v = 0; v < GuestLayout.EXCEPTION_VECTORS; v++) {
            assertThat(Arrays.copyOfRange(text, start + v * 16, start + v * 16 + 16)).as("vector " + v)
                    .containsExactly(Arrays.copyOfRange(expected, v * 16, v * 16 + 16));
        }
    }

    @Test
    void cpuSetupPlacesTheStubAndTheIdtGatesAtTheLayoutAddresses() {
        long userLimit = 1L << 20;
        try (GuestMemory memory = GuestMemory.create("trap-stub-test", userLimit + PageTables.poolSizeFor(userLimit))) {
            PageTables tables = new PageTables(memory, userLimit, memory.size());
            CpuSetup.writeSystemRegion(memory, tables);
            byte[] entry = TrapStub.syscallEntry();
            assertThat(memory.read(GuestLayout.SYSCALL_ENTRY, entry.length)).containsExactly(entry);
            assertThat(memory.read(GuestLayout.EXCEPTION_ENTRIES, TrapStub.exceptionEntries().length))
                    .containsExactly(TrapStub.exceptionEntries());
            for (int v = 0; v < GuestLayout.EXCEPTION_VECTORS; v++) {
                long low = memory.getLong(GuestLayout.IDT + v * 16L);
                long high = memory.getLong(GuestLayout.IDT + v * 16L + 8);
                long target = (low & 0xffff) | ((low >>> 48) << 16) | (high << 32);
                assertThat(target).as("IDT gate " + v).isEqualTo(GuestLayout.EXCEPTION_ENTRIES + v * 16L)
                        .isEqualTo(TrapStub.exceptionEntry(v));
            }
            // The syscall entry is executable from CPL 3 (PVM hosts stay there); the rest is not user.
            assertThat(tables.entry(GuestLayout.SYSCALL_ENTRY) & (PageTables.USER | PageTables.NO_EXECUTE))
                    .isEqualTo(PageTables.USER);
            assertThat(tables.entry(GuestLayout.SYSCALL_ENTRY_END - GuestLayout.PAGE_SIZE)
                    & (PageTables.PRESENT | PageTables.WRITABLE | PageTables.USER | PageTables.NO_EXECUTE))
                    .as("its second page too, read-only").isEqualTo(PageTables.PRESENT | PageTables.USER);
            assertThat(tables.entry(GuestLayout.EXCEPTION_ENTRIES) & (PageTables.USER | PageTables.NO_EXECUTE))
                    .isZero();
            assertThat(tables.entry(0)).as("page 0 stays unmapped").isZero();
            // The doorbell: writable from CPL 3, never executable, and behind it no guest memory.
            long doorbell = tables.entry(GuestLayout.SYSCALL_DOORBELL);
            assertThat(doorbell & (PageTables.PRESENT | PageTables.WRITABLE | PageTables.USER | PageTables.NO_EXECUTE))
                    .isEqualTo(PageTables.PRESENT | PageTables.WRITABLE | PageTables.USER | PageTables.NO_EXECUTE);
            assertThat(doorbell & 0x000f_ffff_ffff_f000L).isEqualTo(GuestLayout.doorbellPhysical(memory.size()))
                    .isGreaterThanOrEqualTo(memory.size());
            // The calls answered in the guest: the fast entry beside the plain one, the answer page
            // readable only, the queue page writable, neither executable; nothing to answer yet.
            byte[] fast = TrapStub.fastSyscallEntry();
            assertThat(memory.read(TrapStub.FAST_SYSCALL_ENTRY, fast.length)).containsExactly(fast);
            long mask = PageTables.PRESENT | PageTables.WRITABLE | PageTables.USER | PageTables.NO_EXECUTE;
            assertThat(tables.entry(GuestCallPages.ANSWERS) & mask)
                    .isEqualTo(PageTables.PRESENT | PageTables.USER | PageTables.NO_EXECUTE);
            assertThat(tables.entry(GuestCallPages.QUEUE) & mask).isEqualTo(mask);
            byte[] restore = TrapStub.fpuRestoreEntry();
            assertThat(memory.read(TrapStub.FPU_RESTORE_ENTRY, restore.length)).containsExactly(restore);
            assertThat(memory.getByte(TrapStub.FPU_RESTORE_END)).as("int3 in the rest of its page").isEqualTo((byte) 0xcc);
            assertThat(memory.getByte(GuestLayout.FPU_RESTORE + GuestLayout.PAGE_SIZE - 1)).isEqualTo((byte) 0xcc);
            assertThat(memory.getLong(GuestCallPages.RESUME_RIP)).as("no restore due: it ends at its ud2")
                    .isEqualTo(TrapStub.FPU_RESTORE_REFUSED);
            assertThat(tables.entry(GuestLayout.FPU_RESTORE) & mask)
                    .as("the FPU restore: supervisor-only where it does not run at CPL 3")
                    .isEqualTo(PageTables.PRESENT);
            CpuSetup.mapFpuRestoreForUserMode(tables);
            assertThat(tables.entry(GuestLayout.FPU_RESTORE) & mask).as("on PVM: executable at CPL 3, read-only")
                    .isEqualTo(PageTables.PRESENT | PageTables.USER);
            assertThat(tables.entry(GuestLayout.FPU_IMAGE) & mask)
                    .as("the FPU image: readable by the program, nothing else")
                    .isEqualTo(PageTables.PRESENT | PageTables.USER | PageTables.NO_EXECUTE);
            assertThat(tables.entry(GuestCallPages.DISPOSITIONS) & mask)
                    .as("the signal actions: readable by the program, written by the host only")
                    .isEqualTo(PageTables.PRESENT | PageTables.USER | PageTables.NO_EXECUTE);
            assertThat(memory.getInt(GuestCallPages.CONNECTION_FD)).isEqualTo(-1);
            assertThat(memory.getInt(GuestCallPages.LISTENER_FD)).isEqualTo(-1);
            assertThat(memory.getInt(GuestCallPages.COUNT)).isZero();
        }
    }
}
