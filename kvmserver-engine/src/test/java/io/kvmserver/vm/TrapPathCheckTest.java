package io.kvmserver.vm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.kvmserver.kvm.Kvm;
import io.kvmserver.kvm.KvmException;
import io.kvmserver.testing.RequiresKvm;
import org.junit.jupiter.api.Test;

@RequiresKvm
class TrapPathCheckTest {

    @Test
    void aSystemCallFromCpl3ReachesTheHostOnThisMachine() {
        try (Kvm kvm = Kvm.open()) {
            assertThat(TrapPathCheck.run(kvm, TrapPathCheck.SYSCALL_LOOP)).startsWith("CPL");
        }
    }

    /**
     * The path of hosts where {@code syscall} switches to CPL 0 (hardware VMX), tried here: code
     * started at CPL 0 makes its first call from there (the doorbell says CPL 0, the host lets the
     * entry's {@code sysretq} return, which drops to CPL 3), and the next ones from CPL 3.
     */
    @Test
    void theSysretPathOfHostsWhereSyscallSwitchesPrivilegeWorksToo() {
        try (Kvm kvm = Kvm.open()) {
            assertThat(TrapPathCheck.run(kvm, TrapPathCheck.SYSCALL_LOOP, true))
                    .isEqualTo("CPL 0 (syscall switched privilege; sysretq returns), "
                            + "CPL 3 (syscall stayed in user mode; the host returns)");
        }
    }

    @Test
    void aGuestThatNeverMakesASystemCallGivesAClearStartupError() {
        byte[] ud2 = {0x0f, 0x0b};
        try (Kvm kvm = Kvm.open()) {
            assertThatThrownBy(() -> TrapPathCheck.run(kvm, ud2))
                    .isInstanceOf(KvmException.class)
                    .hasMessageContaining("cannot deliver a guest system call")
                    .hasMessageContaining("CPU exception 6");
        }
    }
}
