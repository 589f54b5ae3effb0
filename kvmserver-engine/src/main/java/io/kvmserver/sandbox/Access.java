package io.kvmserver.sandbox;

/** What the guest wants to do with a path. */
public enum Access {
    /** Open for reading, stat, readlink, list a directory, map a file, change into a directory. */
    READ,
    /**
     * Open for writing, create, truncate, unlink, mkdir, rmdir, rename (both names), link,
     * symlink and chmod-like changes, and binding or connecting a unix socket: anything that
     * changes the file system or talks to whatever owns the file.
     */
    WRITE
}
