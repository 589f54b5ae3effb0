package io.kvmserver.engine;

import static org.assertj.core.api.Assertions.assertThat;

import io.kvmserver.testing.CliProcess;
import io.kvmserver.testing.GuestPrograms;
import io.kvmserver.testing.RequiresKvm;
import org.junit.jupiter.api.Test;

/** The command-line runner as a user sees it: help, configuration, crash and timeout reports. */
class CliTest {

    @Test
    void helpPrintsUsageAndExitsZero() {
        CliProcess.Outcome o = CliProcess.run("--help");
        assertThat(o.exitCode()).as(o.toString()).isZero();
        assertThat(o.stdout()).contains("program", "--allow-read", "--allow-env", "--volume", "--max-boot-time");
    }

    @Test
    void printConfigShowsTheEffectiveSettingsWithoutRunning() {
        CliProcess.Outcome o = CliProcess.run("--print-config", "--allow-read=/usr,/etc", "--allow-env=API_*",
                "--max-boot-time=1.5", "/bin/echo", "not printed");
        assertThat(o.exitCode()).as(o.toString()).isZero();
        assertThat(o.stdout()).contains("program = \"/bin/echo\"", "allow-read = [\"/usr\", \"/etc\"]",
                "allow-env = [\"API_*\"]", "max-boot-time = 1.5").doesNotContain("not printed\n");
    }

    @Test
    void aBadFlagIsAUsageErrorWithStatusTwo() {
        CliProcess.Outcome o = CliProcess.run("--no-such-flag", "/bin/true");
        assertThat(o.exitCode()).as(o.toString()).isEqualTo(2);
        assertThat(o.stderr()).contains("--no-such-flag");
    }

    @Test
    @RequiresKvm
    void aCrashIsOneLineWithSignalAddressAndRipAndStatus139() {
        CliProcess.Outcome o = CliProcess.run(GuestPrograms.get("crash").toString(), "null");
        assertThat(o.exitCode()).as(o.toString()).isEqualTo(139);
        assertThat(o.stderr().lines().filter(l -> l.startsWith("kvmserver:")).toList()).singleElement()
                .asString().matches("kvmserver: program \\S+ crashed[^:]*: segmentation fault writing 0x0 \\(unmapped"
                        + " address\\) at RIP 0x[0-9a-f]+");
    }

    @Test
    @RequiresKvm
    void abortIsReportedWithStatus134() {
        CliProcess.Outcome o = CliProcess.run(GuestPrograms.get("crash").toString(), "abort");
        assertThat(o.exitCode()).as(o.toString()).isEqualTo(134);
        assertThat(o.stderr()).containsPattern("crashed[^:\n]*: killed by SIGABRT");
    }

    @Test
    @RequiresKvm
    void anEndlessLoopIsStoppedByMaxBootTime() {
        CliProcess.Outcome o = CliProcess.run("--max-boot-time=1", GuestPrograms.get("crash").toString(), "loop");
        assertThat(o.exitCode()).as(o.toString()).isEqualTo(124);
        assertThat(o.stderr()).contains("within --max-boot-time 1.0 s").containsPattern("RIP 0x[0-9a-f]+");
    }

    /** A working directory that does not exist is one line and status 2, as a bad flag: never a stack trace. */
    @Test
    void aMissingWorkingDirectoryIsAUsageError() {
        CliProcess.Outcome o = CliProcess.run("--cwd=/no/such/directory", GuestPrograms.get("hello").toString());
        assertThat(o.exitCode()).as(o.toString()).isEqualTo(2);
        assertThat(o.stderr()).contains("kvmserver: --cwd /no/such/directory does not exist").doesNotContain("\tat ");
    }
}
