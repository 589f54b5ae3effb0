package io.kvmserver.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.jna.Memory;
import io.kvmserver.kvm.Kvm;
import io.kvmserver.kvm.KvmAbi;
import io.kvmserver.testing.GuestPrograms;
import io.kvmserver.testing.RequiresKvm;
import io.kvmserver.testing.TestServer;
import io.kvmserver.vm.GuestVm;
import io.kvmserver.vm.RunResult;
import io.kvmserver.vm.VmInternals;
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

    /**
     * A run the engine stops (a time limit's kick) can leave KVM about to deliver an exception:
     * on PVM every system call is a #GP that KVM injects, and one stop in a few thousand landed
     * between the injection and its delivery. The next request then began with that #GP, in the
     * trap stub's return to the program: it crashed or hung there. The reset must leave no
     * exception, interrupt or NMI pending or injected.
     */
    @Test
    void anExceptionAStoppedRunLeftInKvmIsGoneAfterTheReset() throws Exception {
        try (TestServer s = TestServer.start(GuestPrograms.get("http_server"), List.of(), b -> b.ephemeral(true));
                Kvm kvm = Kvm.open();
                GuestVm vm = GuestVm.fork(kvm, s.server().snapshot(), 128L << 20);
                Memory events = new Memory(KvmAbi.VCPU_EVENTS_SIZE)) {
            CompletableFuture<RunResult> run = CompletableFuture.supplyAsync(vm::run);
            Thread.sleep(200);
            vm.interrupt(vm.epoch(), RunResult.Kind.TIMED_OUT, "a time limit");
            assertThat(run.get(10, TimeUnit.SECONDS).kind()).isEqualTo(RunResult.Kind.TIMED_OUT);
            // What the kick could have left in KVM, had it landed while a #GP was being injected:
            events.clear();
            events.setByte(0, (byte) 1); // exception.injected
            events.setByte(1, (byte) 13); // #GP
            events.setByte(2, (byte) 1); // with an error code (0)
            events.setByte(8, (byte) 1); // interrupt.injected
            events.setByte(9, (byte) 0x20);
            VmInternals.vcpu(vm).setVcpuEvents(events);
            vm.reset(true, 128L << 20);
            events.clear();
            VmInternals.vcpu(vm).getVcpuEvents(events);
            assertThat(events.getByte(0)).as("an exception injected").isZero();
            assertThat(events.getByte(3)).as("an exception pending").isZero();
            assertThat(events.getByte(8)).as("an interrupt injected").isZero();
            assertThat(events.getByte(12)).as("an NMI injected").isZero();
            assertThat(events.getByte(13)).as("an NMI pending").isZero();
        }
    }
}
