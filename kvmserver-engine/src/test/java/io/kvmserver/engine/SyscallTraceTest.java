package io.kvmserver.engine;

import static org.assertj.core.api.Assertions.assertThat;

import io.kvmserver.testing.CliProcess;
import io.kvmserver.testing.GuestAnswers;
import io.kvmserver.testing.GuestPrograms;
import io.kvmserver.testing.RequiresKvm;
import java.util.List;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The system call trace ({@code --trace}) of a real program: {@code src/test/c/files.c} opens a
 * file the sandbox does not let it read, and the trace shows that call with its path, its errno
 * by name and the denial with the flag that would allow it, then the program's output and exit.
 */
@RequiresKvm
class SyscallTraceTest {

    private static final Pattern DENIED_OPEN = Pattern.compile(
            "template tid 1: openat\\(AT_FDCWD, \"/etc/hostname\", 0x0, 0\\) = -(EACCES|ENOENT)"
                    + " \\[denied read /etc/hostname: allow it with --allow-read[^\\]]*]");

    @Test
    void theTraceShowsADeniedOpenWithItsPathErrnoAndTheFlagThatAllowsIt() {
        CliProcess.Outcome o = CliProcess.run("--trace", GuestPrograms.get("files").toString(), "read:/etc/hostname");
        assertThat(o.exitCode()).as(o.toString()).isZero();
        assertThat(o.stdout()).matches("/etc/hostname read errno=(EACCES|ENOENT)\n");
        String errno = o.stdout().substring(o.stdout().indexOf('=') + 1).trim();
        assertThat(o.stderr()).as(o.toString()).containsPattern(DENIED_OPEN)
                .contains("openat(AT_FDCWD, \"/etc/hostname\", 0x0, 0) = -" + errno)
                .contains("template tid 1: write(1, \"/etc/hostname read errno=" + errno + "\\n\", ")
                .contains("template tid 1: exit_group(0) = ?");
    }

    /**
     * The trace of host calls: the calls the guest answers stay answered there and are left out
     * (on PVM, a munmap), the rest are traced as by --trace.
     */
    @Test
    void theTraceOfHostCallsLeavesOutWhatTheGuestAnswers() {
        String program = GuestPrograms.get("unmap_once").toString();
        CliProcess.Outcome all = CliProcess.run("--trace", program);
        CliProcess.Outcome host = CliProcess.run("--trace-host-calls", program);
        for (CliProcess.Outcome o : List.of(all, host)) {
            assertThat(o.exitCode()).as(o.toString()).isZero();
            assertThat(o.stdout()).isEqualTo("munmap=0\n");
            assertThat(o.stderr()).as(o.toString()).contains("template tid 1: mmap(NULL, 8192, 0x3, 0x22, -1, 0x0) = ")
                    .contains("template tid 1: exit_group(0) = ?");
        }
        assertThat(all.stderr()).as(all.toString()).contains("template tid 1: munmap(");
        if (GuestAnswers.onThisHost()) {
            assertThat(host.stderr()).as(host.toString()).doesNotContain("munmap(");
        } else {
            assertThat(host.stderr()).as("no call is answered in the guest here: the same trace")
                    .contains("template tid 1: munmap(");
        }
    }

    @Test
    void withoutTheFlagNothingIsTraced() {
        CliProcess.Outcome o = CliProcess.run(GuestPrograms.get("files").toString(), "read:/etc/hostname");
        assertThat(o.exitCode()).as(o.toString()).isZero();
        assertThat(o.stderr()).as(o.toString()).doesNotContain("tid 1:");
    }
}
