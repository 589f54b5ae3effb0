package io.kvmserver.sandbox;

/** What the guest wants to do with a path. */
public enum Access {
    /** Open for reading, readlink, list a directory, map a file, change into a directory. */
    READ,
    /**
     * Read a path's metadata ({@code stat}, {@code lstat}, {@code statx}): what {@link #READ}
     * allows, and also the directories on the way to a grant, which every walk to the grant
     * passes (on Linux, the search permission a walk needs on a directory is what stat of its
     * entries needs). Runtimes resolve their script's real path by {@code lstat} of each
     * ancestor (node's {@code realpathSync}, python's {@code os.path.realpath}); the ancestors'
     * listings and contents stay refused.
     */
    STAT,
    /**
     * Open for writing, create, truncate, unlink, mkdir, rmdir, rename (both names), link,
     * symlink and chmod-like changes, and binding or connecting a unix socket: anything that
     * changes the file system or talks to whatever owns the file.
     */
    WRITE
}
