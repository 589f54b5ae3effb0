package io.kvmserver.hostile;

import static org.assertj.core.api.Assertions.assertThat;

import io.kvmserver.config.Volume;
import io.kvmserver.testing.Eventually;
import io.kvmserver.testing.GuestPrograms;
import io.kvmserver.testing.GuestRun;
import io.kvmserver.testing.RequiresKvm;
import io.kvmserver.testing.TestServer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Linux behaviour that programs depend on and that a sandbox can easily get wrong: locks between
 * request VMs sharing a volume, socket time limits, mkdir of an existing read-only directory,
 * socket options that need host capabilities, and names that must be the guest's, never the host's.
 */
@RequiresKvm
class LinuxBehaviourTest {

    @Test
    void locksConflictBetweenRequestVmsSharingAVolume(@TempDir Path volume) throws Exception {
        try (TestServer s = TestServer.start(GuestPrograms.get("hostile_isolation"), List.of("/data", "/data"),
                b -> b.volumes(List.of(new Volume(volume.toString(), "/data", true))).ephemeral(true).threads(2))) {
            CompletableFuture<String> holder = CompletableFuture.supplyAsync(() -> s.get("/lock/hold/2000"));
            assertThat(Eventually.reaches(() -> Files.exists(volume.resolve("locked")) ? 1 : 0, 1)).isEqualTo(1);
            assertThat(s.get("/lock/try")).isEqualTo("try=EAGAIN getlk=locked flock=EAGAIN");
            assertThat(holder.get(30, TimeUnit.SECONDS)).isEqualTo("held=0 flock=0");
            // The client sees the end of the response at the holder's close; its lock goes with
            // the rest of its request at the reset right after (as a process's locks go at exit).
            Eventually.reaches(s.server().stats()::resets, s.server().stats().requests());
            assertThat(s.get("/lock/try")).as("released with the holder's request")
                    .isEqualTo("try=0 getlk=unlocked flock=0");
        }
    }

    @Test
    void socketsKeepTheirReceiveTimeoutAndRefusePrivilegedOptions(@TempDir Path dir) {
        try (TestServer s = TestServer.start(GuestPrograms.get("hostile_isolation"), List.of(dir.toString(), "/"),
                b -> b.allowWrite(List.of(dir.toString())).ephemeral(true))) {
            assertThat(s.get("/rcvtimeo")).isEqualTo("recv=-1 errno=EAGAIN waited=yes");
            assertThat(s.get("/sockopt")).isEqualTo(
                    "transparent=EPERM freebind=EPERM mark=EPERM prio7=EPERM prio3=0 v6transparent=EPERM");
        }
    }

    @Test
    void guestNamesAreTheGuestsAndMkdirOfAReadOnlyDirectoryIsEexist(@TempDir Path tmp) throws Exception {
        Path app = Files.createDirectories(tmp.resolve("app"));
        Path program = Files.copy(GuestPrograms.get("hostile_isolation"), app.resolve("server"),
                StandardCopyOption.COPY_ATTRIBUTES);
        Path data = Files.createDirectories(tmp.resolve("data"));
        Path readOnly = Files.createDirectories(tmp.resolve("ro/existing"));
        try (TestServer s = TestServer.start(program, List.of("/data", "/ro/existing"), b -> b
                .volumes(List.of(new Volume(app.toString(), "/app", false), new Volume(data.toString(), "/data", true),
                        new Volume(readOnly.getParent().toString(), "/ro", false))).ephemeral(true))) {
            assertThat(s.get("/names")).isEqualTo("bind=0 sock=/data/u.sock exe=/app/server execfn=/app/server");
            assertThat(s.get("/mkdir/ro")).isEqualTo("mkdir=EEXIST");
        }
    }

    /**
     * A runtime resolves its script's real path by {@code lstat} of every ancestor (node's
     * {@code realpathSync}, python's {@code os.path.realpath}): found in the session of 2026-12-05,
     * {@code node /srv/app/server.js} with {@code allow-read=/srv/app} died of "ENOENT: lstat
     * '/srv'". The directories on the way to a grant may be looked at, never listed; a sibling
     * stays unknown.
     */
    @Test
    void theDirectoriesOnTheWayToAGrantCanBeLookedAtButNotListed(@TempDir Path tmp) throws Exception {
        Path granted = Files.createDirectories(tmp.resolve("app"));
        Files.createDirectories(tmp.resolve("sibling"));
        Path parent = tmp;
        GuestRun.Outcome o = GuestRun.run(GuestPrograms.get("stat_ancestors"),
                List.of(parent.toString(), granted.toString(), tmp.resolve("sibling").toString()),
                b -> b.allowRead(List.of(granted.toString())));
        assertThat(o.stdout()).as(o.toString()).isEqualTo(parent + " lstat=0 dir=1 open=2\n" + granted
                + " lstat=0 dir=1 open=0\n" + tmp.resolve("sibling") + " lstat=2 dir=0 open=2\n");
    }

    /**
     * The system-wide {@code /proc} files runtimes read for their CPU count, load and memory
     * describe the VM: one CPU, the memory it may map (found in the session of 2026-12-05: node's
     * {@code os.cpus()} was empty, since {@code /proc/stat} and {@code /proc/cpuinfo} were
     * {@code ENOENT}, and each read was logged as a denial). Read-only, as on Linux.
     */
    @Test
    void theSystemWideProcFilesDescribeTheVm() {
        GuestRun.Outcome o = GuestRun.run(GuestPrograms.get("proc_files"), List.of(),
                b -> b.maxMainMemory(512L << 20));
        assertThat(o.stdout()).as(o.toString())
                .isEqualTo("processors=1 cpus=1 total=1 memtotal=" + (512 << 10) + " uptime=1 loadavg=0.00,0.00,0.00"
                        + " write=13\n");
        assertThat(o.denials()).as("nothing was denied").isEmpty();
    }

    /**
     * The network a program sees through {@code NETLINK_ROUTE} ({@code netlink_probe.c}): the
     * loopback alone, as {@code getifaddrs} and {@code if_nameindex} list it natively (found in the
     * session of 2026-12-05: node's {@code os.networkInterfaces()} threw, since netlink sockets were
     * refused); a change is {@code EPERM} as for a process without {@code CAP_NET_ADMIN}, and
     * requests never read are lost past a few, never held. Natively (uid 1000) the host's
     * interfaces are listed beside {@code lo} and an audit socket opens: the two deliberate
     * differences.
     */
    @Test
    void theNetworkSeenThroughNetlinkIsTheLoopback() {
        GuestRun.Outcome o = GuestRun.run(GuestPrograms.get("netlink_probe"), List.of());
        assertThat(o.stdout()).as(o.toString()).isEqualTo("""
                lo family=17 up=1 loopback=1 - -
                lo family=2 up=1 loopback=1 127.0.0.1 255.0.0.0
                lo family=10 up=1 loopback=1 ::1 -
                index 1 lo
                audit=93 newaddr=1 flood=100/0
                """);
        assertThat(o.denials()).isEmpty();
    }
}
