package io.kvmserver.hostile;

import static org.assertj.core.api.Assertions.assertThat;

import io.kvmserver.testing.GuestPrograms;
import io.kvmserver.testing.GuestRun;
import io.kvmserver.testing.HostTools;
import io.kvmserver.testing.RequiresKvm;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Values the engine once computed with as Java longs where Linux takes them otherwise, found by
 * the eighth review (2026-12-05, fourth session), reading the handlers for host exceptions
 * ({@code hostile_values.c}). The worst: two iovec lengths of a netlink {@code recvmsg} whose sum
 * overflowed made the engine's buffer one byte long, and the answer written into it overran the
 * JVM's native heap: one unprivileged call killed the server and every request VM in it. Each
 * line is Linux's answer, checked natively in the same run.
 */
@RequiresKvm
class HostileValuesTest {

    @Test
    void valuesPastWhatLinuxTakesAreAnsweredAsLinuxAnswersThem(@TempDir Path dir) {
        String expected = """
                netlink-recvmsg r=-1 errno=14
                netlink-sendmsg r=-1 errno=90
                netlink-recvfrom r>0=1 errno=0
                netlink-sendto r=-1 errno=90
                preadv r=-1 errno=22
                pwritev r=-1 errno=22
                offset=2 file=0123456789
                readlink r=2 errno=0 got=%s
                readlink-2^31 r=-1 errno=22
                """.formatted(dir.toString().substring(0, 2));
        Path program = GuestPrograms.get("hostile_values");
        assertThat(HostTools.run(List.of(program.toString(), dir.toString()))).as("natively").isEqualTo(expected);
        GuestRun.Outcome o = GuestRun.run(program, List.of(dir.toString()), b -> b.allowWrite(List.of(dir.toString())));
        assertThat(o.stdout()).as(o.toString()).isEqualTo(expected);
    }
}
