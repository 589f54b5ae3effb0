package io.kvmserver.vdso;

import static org.assertj.core.api.Assertions.assertThat;

import io.kvmserver.kvm.Kvm;
import io.kvmserver.host.SyscallNumbers;
import io.kvmserver.testing.GuestPrograms;
import io.kvmserver.testing.GuestPrograms.Linking;
import io.kvmserver.testing.GuestRun;
import io.kvmserver.testing.RequiresKvm;
import io.kvmserver.vm.RunResult;
import io.kvmserver.x86.GuestLayout;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Real guest programs ({@code src/test/c/clocks.c}, static and dynamic glibc) read their clocks
 * through the vDSO: in order with the system call, without an exit, and with the system call for
 * whatever the vDSO must not answer.
 */
@RequiresKvm
class GuestClocksTest {

    private static final Pattern LINE = Pattern.compile("^(\\S+) (-?\\d+) (-?\\d+) (-?\\d+) order=(\\w+)", Pattern.MULTILINE);

    private static GuestRun.Outcome run(Linking linking, String... args) {
        GuestRun.Outcome o = GuestRun.run(GuestPrograms.get("clocks", linking), List.of(args));
        assertThat(o.result().kind()).as(o.toString()).isEqualTo(RunResult.Kind.EXITED);
        return o;
    }

    @ParameterizedTest
    @EnumSource(value = Linking.class, names = {"STATIC", "DYNAMIC"})
    void everyClockReadsInOrderWithTheSystemCallWithoutOne(Linking linking) {
        GuestRun.Outcome o = run(linking, "compare");
        assertThat(o.status()).as(o.toString()).isZero();
        Matcher m = LINE.matcher(o.stdout());
        List<String> clocks = new java.util.ArrayList<>();
        while (m.find()) {
            assertThat(m.group(5)).as("vDSO, system call, vDSO in order for %s:\n%s", m.group(1), o.stdout())
                    .isEqualTo("ok");
            clocks.add(m.group(1));
        }
        assertThat(clocks).containsExactly("CLOCK_REALTIME", "CLOCK_MONOTONIC", "CLOCK_MONOTONIC_RAW",
                "CLOCK_REALTIME_COARSE", "CLOCK_MONOTONIC_COARSE", "CLOCK_BOOTTIME", "gettimeofday", "time");
        assertThat(o.stdout()).contains("tz=0,0\n", "getcpu rc=0 cpu=0 node=0\n", "clock_getres CLOCK_MONOTONIC 1\n",
                "vdso=0x" + Long.toHexString(GuestLayout.VDSO) + " elf=1\n",
                String.format("maps %08x-%08x r--p", GuestLayout.VVAR, GuestLayout.VVAR + GuestLayout.PAGE_SIZE),
                String.format("maps %08x-%08x r-xp", GuestLayout.VDSO, GuestLayout.VDSO + GuestLayout.VDSO_SIZE));
        // Only the program's own syscall(2) calls reached the engine: one per clock, one each for
        // gettimeofday and time; getcpu and clock_getres none.
        assertThat(o.syscalls(SyscallNumbers.CLOCK_GETTIME)).as(o.toString()).isEqualTo(6);
        assertThat(o.syscalls(SyscallNumbers.GETTIMEOFDAY)).isEqualTo(1);
        assertThat(o.syscalls(SyscallNumbers.TIME)).isEqualTo(1);
        assertThat(o.syscalls(SyscallNumbers.GETCPU)).isZero();
        assertThat(o.syscalls(SyscallNumbers.CLOCK_GETRES)).isZero();
    }

    @ParameterizedTest
    @EnumSource(value = Linking.class, names = {"STATIC", "DYNAMIC"})
    void aMillionClockReadsMakeNoSystemCallAndNoExit(Linking linking) {
        GuestRun.Outcome loop = run(linking, "loop", "1000000");
        GuestRun.Outcome none = run(linking, "loop", "0");
        assertThat(loop.status()).as(loop.toString()).isZero();
        assertThat(loop.stdout()).contains("calls=1000000 ", "backwards=0");
        assertThat(loop.syscalls(SyscallNumbers.CLOCK_GETTIME)).as(loop.toString()).isZero();
        // A handful of exits in all (the C library's start, the printf, the exit), and the same
        // with and without the loop.
        assertThat(loop.exits()).as("exits with the loop vs without: %d vs %d", loop.exits(), none.exits())
                .isLessThan(60).isLessThanOrEqualTo(none.exits() + 5);
    }

    @Test
    void whatTheVdsoCannotAnswerGoesToTheSystemCall() {
        GuestRun.Outcome o = run(Linking.STATIC, "fallback");
        assertThat(o.status()).as(o.toString()).isZero();
        assertThat(o.stdout()).contains(
                "clock_gettime(CLOCK_PROCESS_CPUTIME_ID) rc=0 errno=0\n",
                "clock_gettime(CLOCK_THREAD_CPUTIME_ID) rc=0 errno=0\n",
                "clock_gettime(100) rc=-1 errno=22\n",
                "clock_gettime(CLOCK_MONOTONIC, 8) rc=-1 errno=14\n",
                "gettimeofday(8, NULL) rc=-1 errno=14\n",
                "time(8) rc=-1 errno=14\n",
                "getcpu(8, NULL) rc=-1 errno=14\n",
                "gettimeofday(NULL, NULL) rc=0 errno=0\n",
                "clock_getres(CLOCK_MONOTONIC, NULL) rc=0 errno=0\n",
                "clock_getres(100) rc=-1 errno=22\n");
        Matcher res = Pattern.compile("clock_getres\\(CLOCK_MONOTONIC_COARSE\\) rc=0 res=(\\d+)").matcher(o.stdout());
        assertThat(res.find()).as(o.stdout()).isTrue();
        assertThat(Long.parseLong(res.group(1))).as("the host's tick").isGreaterThan(1);
        // Exactly the calls above reached the engine.
        assertThat(o.syscalls(SyscallNumbers.CLOCK_GETTIME)).isEqualTo(4);
        assertThat(o.syscalls(SyscallNumbers.GETTIMEOFDAY)).isEqualTo(1);
        assertThat(o.syscalls(SyscallNumbers.TIME)).isEqualTo(1);
        assertThat(o.syscalls(SyscallNumbers.GETCPU)).isEqualTo(1);
        assertThat(o.syscalls(SyscallNumbers.CLOCK_GETRES)).isEqualTo(2);
    }

    @Test
    void theGuestReadsTheTscTheHostPublishesAgainst() {
        try (Kvm kvm = Kvm.open()) {
            GuestClock clock = GuestClock.shared(kvm);
            assertThat(clock.servesTime()).as("this host can serve guest clocks from the TSC").isTrue();
            long before = clock.guestTsc();
            GuestRun.Outcome o = run(Linking.STATIC, "rdtsc");
            long after = clock.guestTsc();
            Matcher m = Pattern.compile("tsc=(\\d+)").matcher(o.stdout());
            assertThat(m.find()).as(o.toString()).isTrue();
            assertThat(Long.parseUnsignedLong(m.group(1))).isBetween(before, after);
        }
    }
}
