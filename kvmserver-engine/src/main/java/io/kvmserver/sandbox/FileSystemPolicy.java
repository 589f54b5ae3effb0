package io.kvmserver.sandbox;

import io.kvmserver.config.KvmServerOptions;
import io.kvmserver.config.Volume;
import io.kvmserver.host.Errno;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Decides which host file a guest path names, and whether the guest may use it. The guest is
 * hostile: no {@code ..}, symlink or {@code /proc/self} trick may leave the allowed set.
 *
 * <p>A lookup goes through these steps:
 * <ol>
 *   <li><b>Syntax.</b> An empty path is {@code ENOENT}; 4096 bytes or more, or a component over
 *       255 bytes, is {@code ENAMETOOLONG}.</li>
 *   <li><b>Lexical normalization</b> against the guest's cwd: {@code .}, duplicate slashes and
 *       {@code ..} (never above {@code /}) are removed before anything is checked, so the check
 *       sees the path the guest named. (Linux would apply {@code ..} after following a symlink;
 *       here a guest {@code link/..} is simply the directory holding {@code link}.)</li>
 *   <li><b>{@code /proc/self}</b>: {@code /proc/self/exe} opens the program; readlink-style
 *       lookups ({@link #resolveNoFollow}) of it and every other {@code /proc/self/...} path are
 *       {@link Resolution.Kind#VIRTUAL}, because the host's {@code /proc/self} describes the JVM.
 *       This holds even with {@code --allow-all}.</li>
 *   <li><b>Volumes</b>: the longest volume whose guest path is a segment prefix maps the path to
 *       its host path ({@code /data} matches {@code /data} and {@code /data/x}, never
 *       {@code /database}). Without a volume the guest path is the host path.</li>
 *   <li><b>Lexical check</b> of that host path against the grants.</li>
 *   <li><b>Host walk</b> ({@link HostWalk}): each component is examined with
 *       {@code NOFOLLOW_LINKS}; symlinks are followed by the walk itself (relative or absolute,
 *       at most 40, then {@code ELOOP}), and every path it passes must be granted, lead to a grant
 *       or be a symlink met while resolving the grants (see {@link GrantSet}). The target's
 *       real path is checked once more for the access.</li>
 * </ol>
 *
 * <p><b>Grants.</b> {@code --allow-read}/{@code --allow-write} paths are host trees;
 * write implies read; a volume grants its host tree for read, and for write when writable,
 * but only to paths reached through that volume (the host location of a volume is not visible
 * under its host name unless another grant covers it). Always granted: reading the program file,
 * the files passed as implicitly readable (the loader and libraries of a dynamic program),
 * {@code /dev/urandom} and {@code /dev/random}, reading and writing {@code /dev/null} and
 * {@code /dev/zero}. Trees never reach into {@code /proc}, {@code /sys} or {@code /dev} unless
 * they are inside them (see {@link Grant}). {@code --allow-all} grants everything but the engine's
 * own directory ({@link EngineDirectory}: every server's route socket), which no grant reaches.
 *
 * <p><b>Errors.</b> A path outside the readable set, or a symlink walk that leaves it, is
 * {@code ENOENT} for both accesses, so the guest cannot tell a forbidden file from a missing
 * one. A write to a readable but not writable path (including a read-only volume) is
 * {@code EACCES}. A missing file is {@code ENOENT} for reads; for a write whose last component
 * does not exist (create, mkdir, the new name of a rename), the real path of its parent plus
 * the name is checked and returned.
 *
 * <p><b>Unix sockets.</b> Binding and connecting both need {@link Access#WRITE} on the socket's
 * path: binding creates a file, and Linux itself requires write permission on a socket to
 * connect to it. Treating connect as a read would let {@code --allow-read} (meaning {@code /})
 * reach {@code /var/run/docker.sock} and every other local service.
 *
 * <p><b>Races.</b> The answer holds the directory it found open ({@link Resolution#directoryFd()})
 * and the caller acts on a single name inside it with an {@code *at} call that does not follow a
 * symlink, so a directory that another request VM or a host process swaps for a symlink after the
 * check can make the call fail, never land outside the grants ({@link HostWalk}).
 */
public final class FileSystemPolicy implements AutoCloseable {

    private final AtomicBoolean closed = new AtomicBoolean();

    private static final String PROC_SELF = "/proc/self";
    /**
     * The system-wide {@code /proc} files the guest gets stand-ins for, describing its VM (one
     * CPU, its memory limit), even with {@code --allow-all}: runtimes read them for their CPU
     * count, load and free memory (node's {@code os.cpus()} was empty without them).
     */
    private static final Set<String> PROC_STAND_INS = Set.of("/proc/stat", "/proc/cpuinfo", "/proc/meminfo",
            "/proc/uptime", "/proc/loadavg");

    private final Scope global;
    private final List<MountedVolume> volumes;
    /** The host roots of the {@code --allow-write} trees, as named and as real paths: mount points to the guest. */
    private final List<Path> writeRoots;
    private final Path programRealPath;
    private final String programGuestPath;
    /** What {@code /proc/self/exe} may reach: the program's real path and nothing else. */
    private final Scope programScope;
    /** {@code O_PATH} descriptor of the host's {@code /}: where every walk starts. */
    private final int rootFd;
    /** The engine's directory, as named and as its real path: never the guest's, whatever it may. */
    private final List<Path> hidden;

    /** What one lookup may use: global grants, plus those of the volume it went through. */
    private record Scope(GrantSet read, GrantSet write) {
        Scope plus(Scope other) {
            return new Scope(read.plus(other.read), write.plus(other.write));
        }
    }

    private record MountedVolume(Path guestPath, Path hostPath, Scope scope) {
    }

    /**
     * Builds the policy; resolves the host's symlinks of every grant once, now.
     *
     * @param options the permissions
     * @param programHostPath the executable (its own path and real path are readable)
     * @param implicitlyReadable further host files the guest may read, such as the dynamic
     *     loader and the libraries of a dynamic program
     * @throws IllegalArgumentException if the program does not exist
     */
    public FileSystemPolicy(KvmServerOptions options, Path programHostPath, Set<Path> implicitlyReadable) {
        this(options, programHostPath, GrantSet.realPath(programHostPath.toAbsolutePath().normalize()),
                implicitlyReadable);
    }

    /**
     * Builds the policy for a program whose real path is already known: the one of the file the
     * engine read ({@code ElfFile#realPath}), never its name resolved again, which may have been
     * made a link to anything since.
     *
     * @param readProgram the real path of the executable that was read; null if it does not exist
     */
    public FileSystemPolicy(KvmServerOptions options, Path programHostPath, Path readProgram,
            Set<Path> implicitlyReadable) {
        // The engine's directory holds every server's route socket: hidden from each, not only
        // the one whose route is in it (a guest of one server must not reach another's).
        Path engine = EngineDirectory.root().toAbsolutePath().normalize();
        Path engineReal = GrantSet.realPath(engine);
        hidden = engineReal == null || engineReal.equals(engine) ? List.of(engine) : List.of(engine, engineReal);
        Path program = programHostPath.toAbsolutePath().normalize();
        Path real = readProgram;
        if (real == null) {
            throw new IllegalArgumentException("program " + program + " does not exist");
        }
        programRealPath = real;
        programScope = new Scope(GrantSet.ofFileRead(real, null), GrantSet.EMPTY);
        rootFd = HostWalk.openRoot();
        if (options.allowAll()) {
            GrantSet everything = GrantSet.of(Grant.everything());
            global = new Scope(everything, everything);
        } else {
            global = globalScope(options, program, real, implicitlyReadable);
        }
        volumes = options.volumes().stream()
                .map(v -> new MountedVolume(Path.of(v.guestPath()), Path.of(v.hostPath()), global.plus(volumeScope(v))))
                .sorted(Comparator.comparingInt((MountedVolume v) -> v.guestPath().getNameCount()).reversed())
                .toList();
        programGuestPath = guestPathOf(program, options.volumes());
        List<Path> roots = new ArrayList<>();
        for (String tree : options.allowWrite()) {
            Path root = Path.of(tree).toAbsolutePath().normalize();
            Path realRoot = GrantSet.realPath(root);
            roots.add(root);
            if (realRoot != null && !realRoot.equals(root)) {
                roots.add(realRoot);
            }
        }
        writeRoots = List.copyOf(roots);
    }

    /**
     * Resolves a path whose last component is followed if it is a symlink, as {@code open},
     * {@code stat}, {@code execve}, {@code chdir} and {@code connect} do.
     */
    public Resolution resolve(String guestCwd, String guestPath, Access access) {
        return resolve(guestCwd, guestPath, access, true);
    }

    /**
     * Resolves a path whose last component is not followed, as {@code lstat}, {@code readlink},
     * {@code unlink}, {@code rmdir}, {@code rename}, {@code symlink} and
     * {@code open(O_NOFOLLOW)} do: a symlink there is the result itself, so that removing a link
     * removes the link and not its target. {@code /proc/self/exe} is then virtual, so that
     * {@code readlink} can answer with {@link #programGuestPath()}.
     */
    public Resolution resolveNoFollow(String guestCwd, String guestPath, Access access) {
        return resolve(guestCwd, guestPath, access, false);
    }

    /**
     * True if the guest may write the file it opened as {@code guestPathAtOpen}, now at
     * {@code hostRealPath}: judged by the grant that path went through, as a file's mount decides
     * on Linux, never by any grant whose host tree also holds the file (a read-only volume nested
     * in a writable one shares its host files with it).
     */
    public boolean mayWrite(String guestPathAtOpen, Path hostRealPath) {
        return !isHidden(hostRealPath) && scopeOf(Path.of(guestPathAtOpen)).write().covers(hostRealPath);
    }

    /**
     * True if a volume is mounted at or below this path, by its guest path or its host path, or an
     * {@code --allow-write} tree begins there: the guest may change what is in such a tree, never
     * the tree itself. Removing it or moving it is {@code EBUSY}, as for a mount point on Linux
     * (a volume is one; a write grant is treated as one, so that no request takes away what every
     * later request is granted, nor writes the entry of its root in a parent no grant covers), and
     * making it is {@code EEXIST}. A volume must also stay where it is because it is found by the
     * prefix of a guest path: moving a directory above a read-only volume nested in a writable one
     * would leave the volume's files under a new name that only the writable grant covers.
     */
    public boolean holdsMountPoint(String guestPath, String hostPath) {
        Path guest = Path.of(guestPath);
        Path host = hostPath == null ? null : Path.of(hostPath);
        for (MountedVolume volume : volumes) {
            if (volume.guestPath().startsWith(guest) || (host != null && volume.hostPath().startsWith(host))) {
                return true;
            }
        }
        if (host != null) {
            for (Path root : writeRoots) {
                if (root.startsWith(host)) {
                    return true;
                }
            }
        }
        return false;
    }

    /** The grants of a guest path: those of the innermost volume that holds it, else the global ones. */
    private Scope scopeOf(Path guestPath) {
        for (MountedVolume volume : volumes) {
            if (guestPath.startsWith(volume.guestPath())) {
                return volume.scope();
            }
        }
        return global;
    }

    /**
     * The program's path as the guest sees it (for {@code AT_EXECFN} and
     * {@code readlink("/proc/self/exe")}): its host path, or the guest path of the volume that
     * holds it.
     */
    public String programGuestPath() {
        return programGuestPath;
    }

    private Resolution resolve(String guestCwd, String guestPath, Access access, boolean followLast) {
        Objects.requireNonNull(access, "access");
        int syntax = GuestPaths.syntaxErrno(guestPath);
        if (syntax != 0) {
            return Resolution.failed(syntax);
        }
        String guest = GuestPaths.normalize(guestCwd, guestPath);
        // A symlink so named is followed where the call follows its last component anyway; where
        // it does not (rmdir, rename, unlink, lstat), it is not a directory: ENOTDIR, never an
        // act on its target.
        boolean namesDirectory = GuestPaths.namesDirectory(guestPath);
        if (guest.equals(PROC_SELF) || guest.startsWith(PROC_SELF + "/")) {
            return procSelf(guest, access, followLast);
        }
        if (PROC_STAND_INS.contains(guest)) {
            // Named as from /proc/self, where the guest's own stand-ins are: "../stat".
            return access == Access.WRITE ? Resolution.failed(Errno.EACCES) // read-only, as procfs's
                    : Resolution.virtual(".." + guest.substring(PROC.toString().length()), guest);
        }
        Path guestAsPath = Path.of(guest);
        MountedVolume volume = volumeOf(guestAsPath);
        Path host = hostPathOf(volume, guestAsPath);
        Scope scope = volume != null ? volume.scope() : global;
        int lexical = isHidden(host) ? Errno.ENOENT : deniedErrno(scope, host, access);
        if (lexical != 0) {
            return Resolution.refused(lexical);
        }
        return walk(scope, host, guest, access, followLast, namesDirectory);
    }

    /**
     * The host path an absolute, normalized guest path names through the volumes, lexically: no
     * walk and no permission asked (the path itself outside every volume).
     */
    public Path hostPathOf(String guestPath) {
        Path guest = Path.of(guestPath);
        return hostPathOf(volumeOf(guest), guest);
    }

    /** The innermost volume holding {@code guest}, or null. */
    private MountedVolume volumeOf(Path guest) {
        for (MountedVolume volume : volumes) { // innermost first
            if (guest.startsWith(volume.guestPath())) {
                return volume;
            }
        }
        return null;
    }

    private static Path hostPathOf(MountedVolume volume, Path guest) {
        return volume == null ? guest : volume.hostPath().resolve(volume.guestPath().relativize(guest));
    }

    private Resolution walk(Scope scope, Path host, String guest, Access access, boolean followLast,
            boolean namesDirectory) {
        HostWalk.Result walked = HostWalk.walk(rootFd, host, followLast,
                p -> !isHidden(p) && scope.read().traversable(p), null);
        if (walked.errno() == HostWalk.OUTSIDE) {
            return Resolution.refused(Errno.ENOENT);
        }
        if (walked.errno() != 0) {
            return Resolution.failed(walked.errno());
        }
        Resolution found = Resolution.allowed(walked, guest, namesDirectory);
        if (!walked.exists() && access != Access.WRITE) {
            found.close();
            return Resolution.failed(Errno.ENOENT);
        }
        if (namesDirectory && walked.exists() && !walked.isDirectory()) {
            found.close();
            return Resolution.failed(Errno.ENOTDIR);
        }
        int real = isHidden(walked.path()) ? Errno.ENOENT : deniedErrno(scope, walked.path(), access);
        if (real != 0) {
            found.close();
            return Resolution.refused(real);
        }
        return found;
    }

    /**
     * The guest path of a directory the guest holds open, where it is now: the host may have
     * moved it (another VM renamed it) since it was opened. Null when it is no longer anywhere the
     * guest can name (moved out of its volume, or deleted).
     *
     * @param guestPathAtOpen the guest path it was opened with
     * @param hostPathAtOpen the host path it resolved to then
     * @param hostPathNow where the host says it is now ({@code /proc/self/fd})
     */
    public String currentGuestPath(String guestPathAtOpen, String hostPathAtOpen, String hostPathNow) {
        if (hostPathNow == null || !hostPathNow.startsWith("/") || hostPathNow.endsWith(" (deleted)")) {
            return null;
        }
        if (hostPathNow.equals(hostPathAtOpen)) {
            return guestPathAtOpen;
        }
        Path now = Path.of(hostPathNow);
        Path guestAtOpen = Path.of(guestPathAtOpen);
        for (MountedVolume volume : volumes) {
            if (guestAtOpen.startsWith(volume.guestPath())) {
                return now.startsWith(volume.hostPath())
                        ? volume.guestPath().resolve(volume.hostPath().relativize(now)).toString() : null;
            }
        }
        for (MountedVolume volume : volumes) {
            if (now.startsWith(volume.guestPath())) {
                return null; // a volume hides this host path from the guest
            }
        }
        return hostPathNow;
    }

    private Resolution procSelf(String guest, Access access, boolean followLast) {
        String name = guest.equals(PROC_SELF) ? "" : guest.substring(PROC_SELF.length() + 1);
        if (!name.equals("exe") || !followLast) {
            return Resolution.virtual(name, guest);
        }
        if (access == Access.WRITE) {
            return Resolution.refused(Errno.EACCES);
        }
        return walk(programScope, programRealPath, guest, access, true, false);
    }

    private boolean isHidden(Path host) {
        for (Path directory : hidden) {
            if (host.startsWith(directory)) {
                return true;
            }
        }
        if (EngineDirectory.isEngineDirectory(host)) {
            return true;
        }
        return isTheJvmsProc(host);
    }

    private static final Path PROC = Path.of("/proc");
    private static final String JVM_PID = Long.toString(ProcessHandle.current().pid());

    /**
     * Whether {@code host} is in the JVM's own {@code /proc} directories, which only
     * {@code --allow-all} reaches: {@code /proc/<pid>} of the JVM or of any of its threads (its
     * {@code mem} is the engine's memory and every VM's), {@code /proc/self} and
     * {@code /proc/thread-self} (the host's, reached through a link). Never the guest's, whatever
     * it may: the guest's own {@code /proc/self} is {@link #procSelf}.
     */
    private static boolean isTheJvmsProc(Path host) {
        if (host.getNameCount() < 2 || !host.startsWith(PROC)) {
            return false;
        }
        String entry = host.getName(1).toString();
        if (entry.equals("self") || entry.equals("thread-self") || entry.equals(JVM_PID)) {
            return true;
        }
        for (int i = 0; i < entry.length(); i++) {
            if (entry.charAt(i) < '0' || entry.charAt(i) > '9') {
                return false;
            }
        }
        return Files.exists(PROC.resolve(JVM_PID).resolve("task").resolve(entry)); // one of the JVM's threads
    }

    private static int deniedErrno(Scope scope, Path host, Access access) {
        if (access == Access.WRITE && scope.write().covers(host)) {
            return 0;
        }
        if (scope.read().covers(host)) {
            return access == Access.WRITE ? Errno.EACCES : 0;
        }
        if (access == Access.STAT && scope.read().traversable(host)) {
            return 0; // a directory on the way to a grant: its metadata, never its listing
        }
        return Errno.ENOENT;
    }

    private static Scope globalScope(KvmServerOptions options, Path program, Path programRead,
            Set<Path> implicitlyReadable) {
        List<GrantSet> read = new ArrayList<>();
        List<GrantSet> write = new ArrayList<>();
        options.allowRead().forEach(p -> read.add(GrantSet.of(Grant.tree(Path.of(p)))));
        for (String p : options.allowWrite()) {
            GrantSet grant = GrantSet.of(Grant.tree(Path.of(p)));
            read.add(grant);
            write.add(grant);
        }
        read.add(GrantSet.ofFileRead(program, programRead));
        // The engine read these (a name and the real path of what it read, for each file): see ofFileRead.
        implicitlyReadable.forEach(p -> read.add(GrantSet.ofFileRead(p.toAbsolutePath().normalize(), null)));
        for (String device : List.of("/dev/urandom", "/dev/random")) {
            read.add(GrantSet.of(Grant.file(Path.of(device))));
        }
        for (String device : List.of("/dev/null", "/dev/zero")) {
            GrantSet grant = GrantSet.of(Grant.file(Path.of(device)));
            read.add(grant);
            write.add(grant);
        }
        return new Scope(union(read), union(write));
    }

    private static Scope volumeScope(Volume volume) {
        GrantSet tree = GrantSet.of(Grant.tree(Path.of(volume.hostPath())));
        return new Scope(tree, volume.writable() ? tree : GrantSet.EMPTY);
    }

    private static GrantSet union(List<GrantSet> sets) {
        GrantSet all = GrantSet.EMPTY;
        for (GrantSet set : sets) {
            all = all.plus(set);
        }
        return all;
    }

    @Override
    /** Closes the root descriptor the walks start from; idempotent. */
    public void close() {
        if (closed.compareAndSet(false, true)) {
            HostWalk.close(rootFd);
        }
    }

    private static String guestPathOf(Path program, List<Volume> volumes) {
        return volumes.stream()
                .filter(v -> program.startsWith(v.hostPath()))
                .max(Comparator.comparingInt(v -> Path.of(v.hostPath()).getNameCount()))
                .map(v -> Path.of(v.guestPath()).resolve(Path.of(v.hostPath()).relativize(program)).toString())
                .orElse(program.toString());
    }
}
