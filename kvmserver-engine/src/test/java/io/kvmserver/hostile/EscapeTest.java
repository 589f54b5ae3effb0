package io.kvmserver.hostile;

import static org.assertj.core.api.Assertions.assertThat;

import io.kvmserver.config.Volume;
import io.kvmserver.testing.GuestRun;
import io.kvmserver.testing.RequiresKvm;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Attempts to leave the sandbox ({@code hostile_escape.c}) through paths ({@code ..}, absolute,
 * host-planted and guest-made symlinks, {@code /proc/self/...}, {@code openat} with a dirfd, very
 * long paths), a read-only volume, the environment, denied addresses, unix socket paths, and
 * process calls. Each must fail with the errno Linux gives for a missing or forbidden object, and
 * the secret file must stay unread and the allowed file unmoved.
 */
@RequiresKvm
class EscapeTest {

    @Test
    void nothingLeavesTheSandbox(@TempDir Path root) throws Exception {
        Path allowed = Files.createDirectories(root.resolve("allowed"));
        Path secret = Files.writeString(root.resolve("secret.txt"), "SECRET CONTENT");
        Files.writeString(allowed.resolve("file.txt"), "allowed");
        Files.createSymbolicLink(allowed.resolve("planted"), Path.of("../secret.txt"));
        Files.createSymbolicLink(allowed.resolve("planted-dir"), Path.of(".."));
        Files.createSymbolicLink(allowed.resolve("planted-abs"), Path.of("/etc/passwd"));
        Path ro = Files.createDirectories(root.resolve("ro"));
        Files.writeString(ro.resolve("data.txt"), "read only");
        GuestRun.Outcome o = HostileRuns.run("hostile_escape", List.of(allowed.toString(), secret.toString()),
                b -> b.cwd(allowed.toString()).allowWrite(List.of(allowed.toString()))
                        .volumes(List.of(new Volume(ro.toString(), "/ro", false))),
                Map.of("SECRET_TOKEN", "s3cr3t", "HOME", "/root"));
        assertThat(o.status()).as(o.toString()).isZero();
        Map<String, String> results = new LinkedHashMap<>();
        for (String line : o.stdout().split("\n")) {
            for (String pair : line.split(" ")) {
                String[] kv = pair.split("=", 2);
                results.put(kv[0], kv.length > 1 ? kv[1] : "");
            }
        }
        Map<String, Integer> expected = new LinkedHashMap<>();
        int enoent = 2, eacces = 13, eperm = 1, enametoolong = 36, enotdir = 20;
        expected.put("control-open-file", 0);
        for (String escape : List.of("dotdot", "absolute", "etc-passwd", "planted-symlink", "planted-dir-symlink",
                "planted-abs-symlink", "proc-self-root", "proc-self-cwd", "proc-1-root", "proc-self-fd-dotdot",
                "absolute-dotdot", "openat-dirfd-dotdot", "openat-dirfd-absolute", "openat-dirfd-planted",
                "open-guest-symlink", "dev-kvm", "dev-mem", "ro-volume-dotdot", "chdir-out")) {
            expected.put(escape, enoent);
        }
        expected.put("openat-file-as-dirfd", enotdir);
        expected.put("guest-symlink", eperm);
        expected.put("guest-hardlink", eperm);
        expected.put("rename-out", enoent);
        expected.put("mknod", eperm);
        expected.put("path-8191", enametoolong);
        expected.put("path-4096", enametoolong);
        expected.put("path-deep", enoent);
        expected.put("ro-read", 0);
        for (String write : List.of("ro-write", "ro-append", "ro-trunc", "ro-create", "ro-unlink", "ro-mkdir",
                "ro-rename", "ro-rename-out", "ro-openat-write")) {
            expected.put(write, eacces);
        }
        expected.put("env-leaked", 0);
        expected.put("proc-environ-leaked", 0);
        for (String net : List.of("connect-denied", "connect-v4-mapped-denied", "bind-denied", "listen-unbound-denied",
                "sendto-denied", "unix-abstract", "unix-autobind")) {
            expected.put(net, eacces);
        }
        // Still unbound (the autobind was refused): Linux's listen of an unbound unix socket is EINVAL.
        expected.put("unix-autobind-listen", 22);
        expected.put("raw-socket", 94); // ESOCKTNOSUPPORT
        expected.put("netlink-audit-socket", 93); // EPROTONOSUPPORT: route sockets are the engine's (LinuxBehaviourTest)
        expected.put("unix-bind-outside", enoent);
        expected.put("unix-connect-outside", enoent);
        expected.put("unix-bind-dotdot", enoent);
        expected.put("unix-bind-ro-volume", eacces);
        expected.put("control-unix-bind-allowed", 0);
        expected.put("execve", eacces);
        expected.put("execveat", eacces);
        // New processes are refused (threads are not: ThreadsAndSignalsTest); clone3 without its
        // arguments is EINVAL, as on Linux.
        for (String process : List.of("fork", "vfork", "clone-process", "clone-vfork")) {
            expected.put(process, 11); // EAGAIN, as at the process limit
        }
        expected.put("clone3", 22);
        expected.put("ptrace", eperm);
        expected.put("kill-init", 3); // ESRCH
        expected.put("kill-all", 3); // ESRCH: kill(-1) spares the caller, and there is no one else
        for (String privileged : List.of("unshare", "setuid-root", "chroot", "mount", "iopl", "bpf")) {
            expected.put(privileged, eperm);
        }
        Map<String, String> want = new LinkedHashMap<>();
        expected.forEach((k, v) -> want.put(k, Integer.toString(v)));
        assertThat(results).as(o.toString()).containsExactlyInAnyOrderEntriesOf(want);
        assertThat(Files.readString(secret)).isEqualTo("SECRET CONTENT");
        assertThat(allowed.resolve("file.txt")).exists();
        assertThat(root.resolve("stolen.txt")).doesNotExist();
        assertThat(ro.resolve("data.txt")).hasContent("read only");
        assertThat(root.resolve("escape.sock")).doesNotExist();
    }

    /**
     * A read-only volume nested in a writable one, whose host directory is inside the writable
     * volume's ({@code hostile_volumes.c}). Found by the review of 2026-12-04 late: renaming the
     * directory above the read-only volume moved its files to a name only the writable grant
     * covered (written, then renamed back: the host file said PWNED), and {@code fchmod} and
     * {@code futimens} of a file opened through the read-only volume were judged by any grant
     * whose host tree held the file (the mode became 0666, the time the epoch).
     */
    @Test
    void aReadOnlyVolumeNestedInAWritableOneCannotBeMovedOrChanged(@TempDir Path root) throws Exception {
        Path app = Files.createDirectories(root.resolve("app"));
        Path secrets = Files.createDirectories(app.resolve("etc/secrets"));
        Path key = Files.writeString(secrets.resolve("key.txt"), "ORIGINAL");
        Files.setPosixFilePermissions(key, java.nio.file.attribute.PosixFilePermissions.fromString("rw-r-----"));
        java.nio.file.attribute.FileTime modified = Files.getLastModifiedTime(key);
        GuestRun.Outcome o = HostileRuns.run("hostile_volumes", List.of("/app"),
                b -> b.volumes(List.of(new Volume(app.toString(), "/app", true),
                        new Volume(secrets.toString(), "/app/etc/secrets", false))));
        assertThat(o.status()).as(o.toString()).isZero();
        int eacces = 13, ebusy = 16, enoent = 2, eperm = 1;
        assertThat(o.stdout().trim()).isEqualTo("open-write=" + eacces + " rename-parent=" + ebusy
                + " exchange-parent=" + ebusy + " moved-write=" + enoent + " fchmod=" + eperm + " futimens=" + eacces
                + " key=ORIGINAL");
        assertThat(Files.readString(key)).isEqualTo("ORIGINAL");
        assertThat(java.nio.file.attribute.PosixFilePermissions.toString(Files.getPosixFilePermissions(key)))
                .isEqualTo("rw-r-----");
        assertThat(Files.getLastModifiedTime(key)).isEqualTo(modified);
        assertThat(Files.exists(app.resolve("etc/secrets/key.txt"))).isTrue();
    }

    /**
     * The trees the operator grants stay where they are ({@code hostile_roots.c}). Found by the
     * review of 2026-12-05: a request emptied its writable volume and removed it ({@code rmdir} of
     * the volume's guest path removed the host directory, and every later request found nothing
     * there), then made it again with a mode of its choice ({@code mkdir} wrote an entry in a host
     * directory no grant covers); an {@code allow-write} root could be removed or moved into
     * another grant alike. On Linux a volume is a mount point ({@code EBUSY}); a write grant's root
     * is treated as one.
     */
    @Test
    void theTreesTheOperatorGrantsCannotBeRemovedOrMoved(@TempDir Path root) throws Exception {
        Path first = Files.createDirectories(root.resolve("first"));
        Path second = Files.createDirectories(root.resolve("second"));
        Path file = Files.writeString(root.resolve("alone.db"), "data");
        int ebusy = 16, eexist = 17;
        GuestRun.Outcome granted = HostileRuns.run("hostile_roots",
                List.of(first.toString(), second.toString(), file.toString()),
                b -> b.allowWrite(List.of(first.toString(), second.toString(), file.toString())));
        assertThat(granted.stdout().trim()).as(granted.toString())
                .isEqualTo("rmdir=" + ebusy + " rename=" + ebusy + " mkdir=" + eexist + " unlink=" + ebusy);
        GuestRun.Outcome mounted = HostileRuns.run("hostile_roots", List.of("/data", "/data2", "-"),
                b -> b.volumes(List.of(new Volume(first.toString(), "/data", true),
                        new Volume(second.toString(), "/data2", true))));
        assertThat(mounted.stdout().trim()).as(mounted.toString())
                .isEqualTo("rmdir=" + ebusy + " rename=" + ebusy + " mkdir=" + eexist);
        assertThat(first).isDirectory();
        assertThat(second.resolve("moved")).doesNotExist();
        assertThat(file).hasContent("data");
    }
}
