package io.kvmserver.sandbox;

import java.nio.file.Path;

/**
 * One host path the guest may use: a whole tree ({@code --allow-read=/usr} covers {@code /usr}
 * and everything below it, matched by path segment so never {@code /usr2}) or a single file
 * (the program, the loader, {@code /dev/null}).
 *
 * <p>Trees stop at the pseudo file systems {@code /proc}, {@code /sys} and {@code /dev}: a tree
 * reaches into them only if its own path is inside one ({@code --allow-read=/dev/shm}), or it is
 * {@code --allow-all}. So {@code --allow-read} (meaning {@code /}) does not expose
 * {@code /proc/1/environ}, the JVM's {@code /proc/self/mem} or {@code /dev/kvm}.
 */
record Grant(Path path, boolean singleFile, boolean reachesPseudo) {

    private static final Path ROOT = Path.of("/");
    private static final Path[] PSEUDO = {Path.of("/proc"), Path.of("/sys"), Path.of("/dev")};

    static Grant tree(Path path) {
        return new Grant(path, false, isPseudo(path));
    }

    static Grant file(Path path) {
        return new Grant(path, true, true);
    }

    /** {@code --allow-all}. */
    static Grant everything() {
        return new Grant(ROOT, false, true);
    }

    /** True if the guest may use {@code p} itself. */
    boolean covers(Path p) {
        if (singleFile) {
            return p.equals(path);
        }
        return p.startsWith(path) && (reachesPseudo || !isPseudo(p));
    }

    /** True if {@code p} is this grant's path or one of its ancestors, so a walk to it passes {@code p}. */
    boolean leadsThrough(Path p) {
        return path.startsWith(p);
    }

    private static boolean isPseudo(Path p) {
        for (Path pseudo : PSEUDO) {
            if (p.startsWith(pseudo)) {
                return true;
            }
        }
        return false;
    }
}
