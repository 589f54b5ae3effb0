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
            assertThat(TrapPathCheck.run(kvm, TrapPathCheck.SYSCALL_LOOP)).isNotBlank();
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
