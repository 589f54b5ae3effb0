package io.kvmserver.hostile;

import static org.assertj.core.api.Assertions.assertThat;

import io.kvmserver.linux.SyscallTable;
import io.kvmserver.server.ServerStats;
import io.kvmserver.testing.Eventually;
import io.kvmserver.testing.GuestPrograms;
import io.kvmserver.testing.RequiresKvm;
import io.kvmserver.testing.TestServer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A request that tries to leave state for the next one ({@code hostile_server.c} {@code /leave}):
 * memory, heap, brk, a fixed mapping, fds, an epoll registration, a signal handler and mask,
 * umask, cwd, an rlimit, a template fd's offset, flags and close-on-exec flag, FS and GS base, the x87 control word,
 * MXCSR, xmm15 and the upper half of ymm15. After an ephemeral reset the next request sees all of
 * it pristine; without ephemeral the same check sees the leftovers (so the check can fail).
 */
@RequiresKvm
class RequestStateLeakTest {

    static final String PRISTINE = "marker=1 heap=1 brk=same mapping=none fds=%d epoll=0 handler=default mask=clear"
            + " umask=022 cwd=same nofile=same offset=0 nonblock=0 gs=same fcw=037f mxcsr=1f80 xmm15=0 ymm15=0"
            + " pending=clear timer=none itimer=off spinner=still cloexec=0";

    private static TestServer start(Path dir, boolean ephemeral) throws Exception {
        Path state = Files.writeString(dir.resolve("template.txt"), "template file");
        return TestServer.start(GuestPrograms.get("hostile_server"), List.of(state.toString()),
                b -> b.ephemeral(ephemeral).threads(1).allowRead(List.of(dir.toString()))
                        .maxMainMemory(HostileRuns.MEMORY));
    }

    @Test
    void anEphemeralRequestLeavesNothingForTheNext(@TempDir Path dir) throws Exception {
        long bugs = SyscallTable.emulationBugs();
        try (TestServer s = start(dir, true)) {
            String before = s.get("/check");
            assertThat(before).matches(PRISTINE.replace("%d", "\\d+"));
            for (int i = 0; i < 3; i++) {
                assertThat(s.get("/leave")).isEqualTo("left");
                assertThat(s.get("/check")).as("after /leave number " + (i + 1)).isEqualTo(before);
            }
            ServerStats stats = s.server().stats();
            assertThat(stats.requests(ServerStats.Outcome.CRASH)).isZero();
        }
        assertThat(SyscallTable.emulationBugs()).isEqualTo(bugs);
    }

    @Test
    void withoutEphemeralTheSameCheckSeesTheLeftovers(@TempDir Path dir) throws Exception {
        try (TestServer s = start(dir, false)) {
            assertThat(s.get("/leave")).isEqualTo("left");
            String after = s.get("/check");
            // The FPU part (fcw, mxcsr, xmm15) is left out here: without ephemeral it was seen
            // both leaked and restored in different runs (open question, see docs/reliability.md;
            // ymm15's upper half is cleared natively too, by glibc's vzeroupper).
            assertThat(after).contains("marker=666 heap=666 brk=moved mapping=leaked", "epoll=1 handler=set mask=blocked",
                    "umask=000 cwd=changed nofile=changed offset=3 nonblock=1 gs=changed",
                    "pending=set timer=armed itimer=armed spinner=moving cloexec=1");
        }
    }

    /**
     * A request that touches the engine's system call page (an MMIO access, which KVM completes
     * at the vCPU's next run: a read writes a register and moves RIP on) dies of SIGSEGV, and the
     * next request starts from the template's registers, not from that completion.
     */
    @Test
    void aRequestThatTouchesTheSystemCallPageDiesAndLeavesNothingPending(@TempDir Path dir) throws Exception {
        try (TestServer s = start(dir, true)) {
            String pristine = s.get("/check");
            for (int i = 1; i <= 3; i++) {
                assertThat(s.get("/doorbell-read")).matches("NO-RESPONSE:.*|ERROR:.*");
                assertThat(s.get("/normal/" + i)).isEqualTo("ok " + i);
                assertThat(s.get("/doorbell-write")).matches("NO-RESPONSE:.*|ERROR:.*");
                assertThat(s.get("/check")).isEqualTo(pristine);
            }
            assertThat(s.server().stats().requests(ServerStats.Outcome.CRASH)).isEqualTo(6);
        }
    }

    /** The fuzzer inside a request: whatever it does, the VM is reset and serves the next one. */
    @Test
    void aFuzzingRequestIsResetAndTheServerGoesOn(@TempDir Path dir) throws Exception {
        long bugs = SyscallTable.emulationBugs();
        try (TestServer s = TestServer.start(GuestPrograms.get("hostile_server"), List.of(), b -> b.ephemeral(true)
                .threads(1).maxRequestTime(Duration.ofSeconds(5)).maxMainMemory(HostileRuns.MEMORY))) {
            String pristine = s.get("/check");
            for (int seed = 1; seed <= 3; seed++) {
                String fuzzed = s.get("/fuzz/" + seed + "/1500");
                assertThat(fuzzed).as("seed " + seed).matches("fuzzed \\d+|ERROR:.*|NO-RESPONSE:.*");
                assertThat(s.get("/normal/" + seed)).isEqualTo("ok " + seed);
                assertThat(s.get("/check")).isEqualTo(pristine);
            }
            assertThat(Eventually.reaches(s.server().stats()::resets, 9)).isGreaterThanOrEqualTo(9);
        }
        assertThat(SyscallTable.emulationBugs() - bugs).as("handler exceptions during the fuzzing requests").isZero();
    }
}
