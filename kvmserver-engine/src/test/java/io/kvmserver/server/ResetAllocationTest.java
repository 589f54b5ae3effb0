package io.kvmserver.server;

import static org.assertj.core.api.Assertions.assertThat;

import io.kvmserver.kvm.Kvm;
import io.kvmserver.vm.GuestVm;
import io.kvmserver.testing.Eventually;
import io.kvmserver.testing.GuestPrograms;
import io.kvmserver.testing.RequiresKvm;
import io.kvmserver.testing.TestServer;
import java.lang.management.ManagementFactory;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * What a reset allocates on the Java heap. A reset runs between every two requests on the
 * request VM's thread: what it allocates is paid in collections by every request. It reuses
 * the spent process's fd table, signal dispositions and thread FPU areas; this measures bytes
 * (deterministic), never time.
 */
@RequiresKvm
class ResetAllocationTest {

    private static final com.sun.management.ThreadMXBean THREADS =
            (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();

    @Test
    void aResetAllocatesLittleOnTheJavaHeap() throws Exception {
        try (TestServer s = TestServer.start(GuestPrograms.get("http_server"), List.of(), b -> b.ephemeral(true));
                Kvm kvm = Kvm.open();
                GuestVm vm = GuestVm.fork(kvm, s.server().snapshot(), 128L << 20)) {
            for (int i = 0; i < 500; i++) {
                vm.reset(true, 128L << 20);
            }
            int resets = Integer.getInteger("resets", 2000);
            long before = THREADS.getCurrentThreadAllocatedBytes();
            for (int i = 0; i < resets; i++) {
                vm.reset(true, 128L << 20);
            }
            long perReset = (THREADS.getCurrentThreadAllocatedBytes() - before) / resets;
            System.out.println("RESET ALLOC " + perReset);
            assertThat(perReset).as("bytes allocated per reset").isLessThan(5 * 1024);
        }
    }

    /** A whole request, exits and reset, on the request VM's thread. */
    @Test
    void anEphemeralRequestAllocatesLittleOnItsVmThread() throws Exception {
        try (TestServer s = TestServer.start(GuestPrograms.get("http_server"), List.of(),
                b -> b.ephemeral(true).threads(1))) {
            for (int i = 0; i < 300; i++) {
                assertThat(s.get("/")).isNotEmpty();
            }
            Thread vmThread = Thread.getAllStackTraces().keySet().stream()
                    .filter(t -> t.getName().equals("kvmserver-request-vm-0")).findFirst().orElseThrow();
            int requests = 1000;
            Eventually.reaches(s.server().stats()::resets, 300);
            long resets = s.server().stats().resets();
            long before = THREADS.getThreadAllocatedBytes(vmThread.getId());
            for (int i = 0; i < requests; i++) {
                s.get("/");
            }
            // The request's reset may still be running after the client's read: wait for it.
            Eventually.reaches(s.server().stats()::resets, resets + requests);
            long perRequest = (THREADS.getThreadAllocatedBytes(vmThread.getId()) - before) / requests;
            System.out.println("REQUEST ALLOC " + perRequest);
            assertThat(perRequest).as("bytes allocated per request on the VM's thread").isLessThan(6 * 1024);
        }
    }
}
