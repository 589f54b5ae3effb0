package io.kvmserver.engine;

import static org.assertj.core.api.Assertions.assertThat;

import io.kvmserver.testing.CliProcess;
import io.kvmserver.testing.RequiresKvm;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Unmodified programs of the host's distribution, run through the command-line entry point. */
@RequiresKvm
class DistributionProgramsTest {

    @Test
    void binTrueExitsZero() {
        CliProcess.Outcome o = CliProcess.run("/bin/true");
        assertThat(o.exitCode()).as(o.toString()).isZero();
        assertThat(o.stdout()).isEmpty();
    }

    @Test
    void binFalseExitsOne() {
        CliProcess.Outcome o = CliProcess.run("/bin/false");
        assertThat(o.exitCode()).as(o.toString()).isEqualTo(1);
        assertThat(o.stdout()).isEmpty();
    }

    @Test
    void binEchoPrintsItsArguments() {
        CliProcess.Outcome o = CliProcess.run("/bin/echo", "hello");
        assertThat(o.exitCode()).as(o.toString()).isZero();
        assertThat(o.stdout()).isEqualTo("hello\n");
    }

    @Test
    void flagsAfterTheProgramBelongToTheProgram() {
        CliProcess.Outcome o = CliProcess.run("/bin/echo", "--allow-all", "-v");
        assertThat(o.exitCode()).as(o.toString()).isZero();
        assertThat(o.stdout()).isEqualTo("--allow-all -v\n");
    }

    @Test
    void python3ComputesWithAllowReadMeaningRoot() {
        CliProcess.Outcome o = CliProcess.run("--allow-read", "/usr/bin/python3", "-c", "print(sum(range(10)))");
        assertThat(o.exitCode()).as(o.toString()).isZero();
        assertThat(o.stdout()).isEqualTo("45\n");
    }

    @Test
    void python3WithoutReadPermissionFailsCleanly() {
        // The interpreter and its libraries are readable, its standard library is not.
        CliProcess.Outcome o = CliProcess.run("/usr/bin/python3", "-c", "print(1)");
        assertThat(o.exitCode()).as(o.toString()).isNotZero().isLessThan(128);
        assertThat(o.stdout()).isEmpty();
        assertThat(o.stderr()).doesNotContain("crashed");
    }

    @Test
    void aPython3ScriptReadsWhatItMayAndIsRefusedTheRest(@TempDir Path tmp) throws IOException {
        Path app = Files.createDirectory(tmp.resolve("app"));
        Path script = Files.writeString(app.resolve("reader.py"), """
                import sys

                def show(path):
                    try:
                        with open(path) as f:
                            print("read", f.read().strip())
                    except (FileNotFoundError, PermissionError) as e:
                        print("denied", type(e).__name__, path)

                for p in sys.argv[1:]:
                    show(p)
                try:
                    open(sys.argv[1], "w")
                except PermissionError as e:
                    print("write refused", e.errno)
                """);
        Path data = Files.writeString(app.resolve("data.txt"), "allowed data\n");
        Path secret = Files.writeString(tmp.resolve("secret.txt"), "secret\n");
        CliProcess.Outcome o = CliProcess.run(tmp, "--allow-read=/usr," + app, "/usr/bin/python3",
                script.toString(), data.toString(), secret.toString(), "/etc/passwd", "../secret.txt");
        assertThat(o.exitCode()).as(o.toString()).isZero();
        assertThat(o.stdout()).isEqualTo("read allowed data\n"
                + "denied FileNotFoundError " + secret + "\n"
                + "denied FileNotFoundError /etc/passwd\n"
                + "denied FileNotFoundError ../secret.txt\n"
                + "write refused 13\n");
    }
}
