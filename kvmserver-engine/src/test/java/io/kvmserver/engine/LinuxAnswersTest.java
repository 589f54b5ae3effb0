package io.kvmserver.engine;

import static org.assertj.core.api.Assertions.assertThat;

import io.kvmserver.testing.GuestPrograms;
import io.kvmserver.testing.GuestRun;
import io.kvmserver.testing.RequiresKvm;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * System calls with edge-case arguments ({@code linux_answers.c}) that a differential review
 * (2026-12-04 night) found answered otherwise than Linux: epoll flags, sendfile's argument rules,
 * select's timeout, segment bases, getdents64's count, affinity, priorities, rusage, wait,
 * prctl arguments, the CPU clocks and the CPU time times() and getrusage report, and record locks
 * (the process's, through any of its fds of the file). The expected
 * lines are the program's output natively (Linux 6.18, as uid 1000 and as root alike), but for
 * the deliberate differences, marked.
 */
@RequiresKvm
class LinuxAnswersTest {

    @Test
    void edgeCaseArgumentsGetLinuxsAnswers(@TempDir Path dir) {
        GuestRun.Outcome outcome = GuestRun.run(GuestPrograms.get("linux_answers"), List.of(dir.toString()),
                b -> b.allowWrite(List.of(dir.toString())));
        // Deliberate (natively each is 0): "an epoll" (an instance is never ready inside another
        // here, so nesting is refused rather than left to hang); "sigaltstack size -1" (an
        // alternate stack that wraps the address space is refused); "fork" (a VM runs one
        // process: EAGAIN, as at the process limit); "listxattr" (no extended attributes);
        // "madvise wipeonfork" (refused as before Linux 4.14: request VMs are forks it cannot wipe).
        assertThat(outcome.stdout()).as(outcome.toString()).isEqualTo("""
                epoll_create(-1)=-1 EINVAL
                epoll_ctl add exclusive=0
                epoll_ctl mod exclusive=-1 EINVAL
                epoll_ctl add all bits=-1 EINVAL
                epoll_ctl add an epoll=-1 EPERM
                sendfile offset -1=-1 EINVAL
                sendfile to O_APPEND=-1 EINVAL
                sendfile to read-only=-1 EBADF
                sendfile from pipe=-1 EINVAL
                sendfile from pipe with offset=-1 ESPIPE
                sendfile from /dev/zero=4
                sendfile to an appending pipe=4
                sendfile=5
                select usec 2000000 ready=1
                select -1 s 1100000 usec=0
                select overflowing=-1 EINVAL
                arch_prctl set gs 0x7ffffffff000=-1 EPERM
                arch_prctl set gs 0x7fffffffe000=0
                getdents64 count -1=-1 EINVAL
                sched_getaffinity len 2^40=-1 EINVAL
                sched_getaffinity len 4=-1 EINVAL
                sched_getaffinity pid 999999=-1 ESRCH
                sched_setaffinity empty=-1 EINVAL
                sched_setaffinity cpu 40 only=-1 EINVAL
                sched_setaffinity bad pointer bad pid=-1 EFAULT
                sched_getscheduler pid 999999=-1 ESRCH
                sched_getscheduler pid -1=-1 EINVAL
                sched_getscheduler self=0
                sched_getparam pid 999999=-1 ESRCH
                sched_getparam self=0
                clone thread upper flags bad tls=-1 EPERM
                getpriority which 9=-1 EINVAL
                getpriority pid 999999=-1 ESRCH
                getpriority self=20
                setpriority which 9=-1 EINVAL
                setpriority pid 999999=-1 ESRCH
                getrusage who 5=-1 EINVAL
                wait4 any=-1 ECHILD
                wait4 bad options=-1 EINVAL
                waitid options 0=-1 EINVAL
                waitid idtype 9=-1 EINVAL
                waitid exited=-1 ECHILD
                waitid pid 0=-1 EINVAL
                waitid pgid -1=-1 EINVAL
                wait4 INT_MIN=-1 ESRCH
                prctl pdeathsig 65=-1 EINVAL
                prctl dumpable 2=-1 EINVAL
                prctl no_new_privs 2=-1 EINVAL
                prctl no_new_privs 1 extra=-1 EINVAL
                prctl no_new_privs 1=0
                sigaltstack size -1=-1 ENOMEM
                clock_gettime -8=0
                clock_gettime -7=0
                clock_gettime -6=0
                clock_gettime -5=-1 EINVAL
                clock_gettime -4=0
                clock_gettime -3=0
                clock_gettime -2=0
                clock_gettime -1=-1 EINVAL
                posix lock through a=0
                posix lock through b, the same process=0
                getlk through b sees no conflict=0
                ofd lock through c while locked=-1 EAGAIN
                posix unlock through b=0
                ofd lock through c once unlocked=0
                posix lock through a again=0
                ofd lock through c once b is closed=0
                posix lock through a, third time=0
                ofd lock through c once dup2 closed a copy=0
                read lock through a fresh read-write fd=0
                then a write lock over it=0
                posix lock through an O_PATH fd=-1 EBADF
                fork=-1 EAGAIN
                listxattr=-1 EOPNOTSUPP
                getxattr missing file=-1 ENOENT
                fallocate bad length=-1 EINVAL
                posix_fallocate=0
                madvise wipeonfork=-1 EINVAL
                write count -1=-1 EFAULT
                getpid with high bits=0
                times counts cpu=1
                getrusage counts cpu=1
                """);
    }
}
