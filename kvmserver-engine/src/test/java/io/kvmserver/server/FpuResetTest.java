package io.kvmserver.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.jna.Memory;
import io.kvmserver.kvm.Kvm;
import io.kvmserver.kvm.KvmAbi;
import io.kvmserver.linux.UserContext;
import io.kvmserver.testing.GuestPrograms;
import io.kvmserver.testing.RequiresKvm;
import io.kvmserver.testing.TestServer;
import io.kvmserver.vm.GuestVm;
import io.kvmserver.vm.VmInternals;
import io.kvmserver.x86.TrapStub;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A reset gives the vCPU the template's FPU state; on PVM the guest loads it at the first entry
 * ({@code fpu_restore_entry}, no ioctl). Until then, whatever the host reads off the vCPU (a
 * thread switch, a signal frame) must already be the template's state, never what the last
 * request left: {@code RequestStateLeakTest} checks what the next request's program sees, this
 * what the host sees before that program runs.
 */
@RequiresKvm
class FpuResetTest {

    /** MXCSR and XMM15 in the XSAVE image's legacy area. */
    private static final int MXCSR = 24;
    private static final int XMM15 = 160 + 15 * 16;

    /** What a test does with a request VM just reset after a request left its FPU state changed. */
    private interface AfterReset {
        void check(GuestVm vm, byte[] template);
    }

    private static void afterReset(AfterReset test) {
        try (TestServer s = TestServer.start(GuestPrograms.get("http_server"), List.of(), b -> b.ephemeral(true));
                Kvm kvm = Kvm.open();
                GuestVm vm = GuestVm.fork(kvm, s.server().snapshot(), 128L << 20)) {
            byte[] template = s.server().snapshot().xsave().getByteArray(0, KvmAbi.XSAVE_SIZE);
            leaveFpuStateOfALastRequest(vm, template);
            vm.reset(true, 128L << 20);
            test.check(vm, template);
        }
    }

    @Test
    void beforeTheProgramRunsAgainTheHostReadsTheTemplatesFpuState() {
        afterReset((vm, template) -> {
            UserContext seen = VmInternals.capture(vm);
            assertThat(Arrays.copyOfRange(seen.fpu, XMM15, XMM15 + 16)).as("xmm15")
                    .containsExactly(Arrays.copyOfRange(template, XMM15, XMM15 + 16));
            assertThat(Arrays.copyOfRange(seen.fpu, MXCSR, MXCSR + 4)).as("MXCSR")
                    .containsExactly(Arrays.copyOfRange(template, MXCSR, MXCSR + 4));
        });
    }

    @Test
    void aVcpuStoppedBeforeItsFpuRestoreRanGetsItsRegistersBack() {
        afterReset((vm, template) -> {
            var vcpu = VmInternals.vcpu(vm);
            long rip = vcpu.reg(KvmAbi.RIP);
            long rax = vcpu.reg(KvmAbi.RAX);
            long rdx = vcpu.reg(KvmAbi.RDX);

            VmInternals.prepareEntry(vm);
            if (vcpu.reg(KvmAbi.RIP) == rip) {
                // Hardware VMX: the reset set the state with KVM_SET_XSAVE, nothing to give back.
                assertThat(Arrays.copyOfRange(VmInternals.capture(vm).fpu, XMM15, XMM15 + 16)).as("xmm15")
                        .containsExactly(Arrays.copyOfRange(template, XMM15, XMM15 + 16));
                return;
            }
            assertThat(vcpu.reg(KvmAbi.RIP)).as("the entry starts with the restore")
                    .isEqualTo(TrapStub.FPU_RESTORE_ENTRY);
            // A kick or a time slice stops the vCPU before (or inside) the restore; the host then
            // reads the thread's state: as if the entry had never been prepared.
            UserContext seen = VmInternals.capture(vm);
            assertThat(seen.get(UserContext.RIP)).as("RIP").isEqualTo(rip);
            assertThat(seen.get(UserContext.RAX)).as("RAX").isEqualTo(rax);
            assertThat(seen.get(UserContext.RDX)).as("RDX").isEqualTo(rdx);
            assertThat(Arrays.copyOfRange(seen.fpu, XMM15, XMM15 + 16)).as("xmm15")
                    .containsExactly(Arrays.copyOfRange(template, XMM15, XMM15 + 16));
            assertThat(vcpu.reg(KvmAbi.RIP)).as("the vCPU resumes where it was to").isEqualTo(rip);
        });
    }

    /** What a request could leave in the vCPU: xmm15 and MXCSR changed. */
    private static void leaveFpuStateOfALastRequest(GuestVm vm, byte[] template) {
        VmInternals.capture(vm); // the fork's own FPU restore, made now
        byte[] last = template.clone();
        Arrays.fill(last, XMM15, XMM15 + 16, (byte) 0x5a);
        last[MXCSR] = (byte) 0x80;
        last[MXCSR + 1] = (byte) 0xff; // all masked, round toward zero, flush to zero
        last[512] |= 2; // XSTATE_BV: the SSE state is not the initial one
        try (Memory m = new Memory(KvmAbi.XSAVE_SIZE)) {
            m.write(0, last, 0, last.length);
            VmInternals.vcpu(vm).setXsave(m);
            m.clear();
            VmInternals.vcpu(vm).getXsave(m);
            assertThat(m.getByteArray(XMM15, 16)).as("set up").containsOnly((byte) 0x5a);
        }
    }
}
