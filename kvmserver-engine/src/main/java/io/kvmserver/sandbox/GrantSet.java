package io.kvmserver.sandbox;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The host paths one kind of access may use, and the symlinks a walk may pass to reach them.
 *
 * <p>Each configured path is granted twice: as written (the lexical check of a guest path sees
 * that form) and as its real path (the walk ends there). The symlinks met while resolving it
 * become <em>waypoints</em>: a walk may pass through them, but they grant nothing by
 * themselves. That is what lets {@code /lib64/ld-linux-x86-64.so.2} resolve through
 * {@code /lib64 -> usr/lib64} and {@code /lib -> usr/lib} on a merged-{@code /usr} host while a
 * guest-made link through some other symlink outside the grants is refused. Resolution happens
 * once, when the policy is built: the host's own links are trusted as they were at start.
 */
final class GrantSet {

    static final GrantSet EMPTY = new GrantSet(List.of(), List.of());

    private final List<Grant> grants;
    private final List<Path> waypoints;

    private GrantSet(List<Grant> grants, List<Path> waypoints) {
        this.grants = List.copyOf(grants);
        this.waypoints = List.copyOf(waypoints);
    }

    /** A set of just {@code grant}, plus its real path and waypoints when it exists on the host. */
    static GrantSet of(Grant grant) {
        List<Path> links = new ArrayList<>();
        Path real = realPath(grant.path(), links);
        List<Grant> grants = new ArrayList<>(List.of(grant));
        if (real != null && !real.equals(grant.path())) {
            grants.add(grant.singleFile() ? Grant.file(real) : Grant.tree(real));
        }
        return new GrantSet(grants, links);
    }

    /**
     * A set for one file the engine has itself read (the program, its loader and libraries):
     * {@code name} as written and {@code read}, the real path of the file that was read, with the
     * waypoints to it as the name resolves now. The name's real path is not resolved again into a
     * grant: by now the name may be a link to anything (a swap while the engine started), and
     * through such a link a walk reaches only what is granted otherwise.
     *
     * @param read the real path of the file read, or null when {@code name} is one itself
     */
    static GrantSet ofFileRead(Path name, Path read) {
        List<Path> links = new ArrayList<>();
        realPath(name, links);
        List<Grant> grants = new ArrayList<>(List.of(Grant.file(name)));
        if (read != null && !read.equals(name)) {
            grants.add(Grant.file(read));
        }
        return new GrantSet(grants, links);
    }

    /** The host's real path of an existing {@code path}, or null when it does not exist. */
    static Path realPath(Path path) {
        return realPath(path, new ArrayList<>());
    }

    private static Path realPath(Path path, List<Path> followedLinks) {
        int root = HostWalk.openRoot();
        try {
            HostWalk.Result real = HostWalk.walk(root, path, true, p -> true, followedLinks);
            if (real.parentFd() >= 0) {
                HostWalk.close(real.parentFd());
            }
            return real.errno() == 0 && real.exists() ? real.path() : null;
        } finally {
            HostWalk.close(root);
        }
    }

    GrantSet plus(GrantSet other) {
        List<Grant> allGrants = new ArrayList<>(grants);
        allGrants.addAll(other.grants);
        List<Path> allWaypoints = new ArrayList<>(waypoints);
        allWaypoints.addAll(other.waypoints);
        return new GrantSet(allGrants, allWaypoints);
    }

    /** True if some grant covers {@code p}. */
    boolean covers(Path p) {
        for (Grant grant : grants) {
            if (grant.covers(p)) {
                return true;
            }
        }
        return false;
    }

    /** True if a walk may pass {@code p}: covered, on the way to a grant, or a waypoint (or on the way to one). */
    boolean traversable(Path p) {
        if (covers(p)) {
            return true;
        }
        for (Grant grant : grants) {
            if (grant.leadsThrough(p)) {
                return true;
            }
        }
        for (Path waypoint : waypoints) {
            if (waypoint.startsWith(p)) {
                return true;
            }
        }
        return false;
    }
}
