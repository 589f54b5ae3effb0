package io.kvmserver.server;

import static org.assertj.core.api.Assertions.assertThat;

import io.kvmserver.kvm.Kvm;
import io.kvmserver.testing.GuestPrograms;
import io.kvmserver.testing.RequiresKvm;
import io.kvmserver.testing.TestServer;
import io.kvmserver.vm.GuestVm;
import io.kvmserver.vm.RunResult;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * A time limit armed for one request that fires after the VM's reset (its timer thread was late)
 * must not stop the next request, nor leave the VM's waits ending at once: the VM is in a new
 * epoch and ignores it.
 */
@RequiresKvm
class StaleInterruptTest {

    @Test
    void anInterruptForAFinishedRequestIsIgnoredAfterTheReset() throws Exception {
        try (TestServer s = TestServer.start(GuestPrograms.get("http_server"), List.of(), b -> b.ephemeral(true));
                Kvm kvm = Kvm.open();
                GuestVm vm = GuestVm.fork(kvm, s.server().snapshot(), 128L << 20)) {
            long finished = vm.epoch();
            vm.reset(true, 128L << 20);
            vm.interrupt(finished, RunResult.Kind.TIMED_OUT, "a late timer of the finished request");
            assertThat(vm.waiter().isKicked()).as("the VM's waits are not ended by it").isFalse();

            CompletableFuture<RunResult> run = CompletableFuture.supplyAsync(vm::run);
            Thread.sleep(300);
            assertThat(run).as("the next run goes on waiting for connections").isNotDone();
            vm.interrupt(vm.epoch(), RunResult.Kind.STOPPED, "the test is over");
            assertThat(run.get(10, TimeUnit.SECONDS).kind()).isEqualTo(RunResult.Kind.STOPPED);
        }
    }
}
