package io.kvmserver.vdso;

import static org.assertj.core.api.Assertions.assertThat;

import io.kvmserver.config.KvmServerOptions;
import io.kvmserver.kvm.Kvm;
import io.kvmserver.linux.GuestConsole;
import io.kvmserver.server.Program;
import io.kvmserver.testing.GuestPrograms;
import io.kvmserver.testing.RequiresKvm;
import io.kvmserver.testing.TestServer;
import io.kvmserver.vm.GuestVm;
import io.kvmserver.vm.RunResult;
import io.kvmserver.vm.VmSnapshot;
import io.kvmserver.x86.GuestLayout;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * A request VM sees the template's time page, which the host keeps current, and a reset keeps it
 * so even if the request VM's copy of the page was written (a CPL 3 program cannot: the page is
 * read-only for it; a program at CPL 0 could, through its own page tables).
 */
@RequiresKvm
class TimePageResetTest {

    @Test
    void aResetGivesARequestVmTheTemplatesLivePageBack() throws InterruptedException {
        int port = TestServer.freePort();
        KvmServerOptions options = KvmServerOptions.builder()
                .program(GuestPrograms.get("clock_server").toString())
                .args(List.of(Integer.toString(port)))
                .cwd(Path.of("").toAbsolutePath().toString())
                .allowListen(List.of("127.0.0.1:" + port))
                .maxMainMemory(1L << 30)
                .build();
        GuestConsole quiet = (stream, address, length) -> length;
        try (Kvm kvm = Kvm.open(); GuestVm template = Program.prepare(options, quiet, Map.of()).boot(kvm)) {
            template.syscallContext().setFreezeOnListenerWait(true);
            RunResult waiting = template.run();
            assertThat(waiting.kind()).as(waiting.toString()).isEqualTo(RunResult.Kind.WAITING);
            template.waiter().reset();
            VmSnapshot snapshot = template.freeze(kvm);
            try (GuestVm request = GuestVm.fork(kvm, snapshot, 128L << 20)) {
                assertThat(page(request)).as("the request VM reads the template's page").isEqualTo(page(template));

                request.memory().putLong(GuestLayout.VVAR + GuestLayout.PAGE_SIZE / 2, 42);
                request.reset(true, Long.MAX_VALUE);
                int seq = template.memory().getInt(GuestLayout.VVAR + TimePage.SEQ);
                long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
                while (template.memory().getInt(GuestLayout.VVAR + TimePage.SEQ) == seq && System.nanoTime() < deadline) {
                    Thread.sleep(50);
                }
                assertThat(template.memory().getInt(GuestLayout.VVAR + TimePage.SEQ)).as("a publication").isNotEqualTo(seq);
                assertThat(page(request)).as("after a reset and a publication, still the template's page")
                        .isEqualTo(page(template));
            }
        }
    }

    private static byte[] page(GuestVm vm) {
        return vm.memory().read(GuestLayout.VVAR, (int) GuestLayout.PAGE_SIZE);
    }
}
