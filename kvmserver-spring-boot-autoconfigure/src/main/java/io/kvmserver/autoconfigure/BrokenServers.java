package io.kvmserver.autoconfigure;

import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.WeakHashMap;

/**
 * The servers of one application that report its liveness BROKEN. The application has one
 * liveness state and every server of it publishes to it: the state may be CORRECT again only once
 * none of them is broken any more (a server that recovered published CORRECT while another one was
 * still stuck, hiding it from the probe).
 */
final class BrokenServers {

    private static final Map<Object, Set<String>> BY_APPLICATION = new WeakHashMap<>();

    private BrokenServers() {
    }

    /** {@code server} of {@code application} is broken. */
    static synchronized void broken(Object application, String server) {
        BY_APPLICATION.computeIfAbsent(application, (key) -> new HashSet<>()).add(server);
    }

    /**
     * {@code server} of {@code application} recovered: the names of the servers still broken, and
     * the application's liveness may be CORRECT again only if there are none. Also when a broken
     * server stops.
     */
    static synchronized Set<String> recovered(Object application, String server) {
        Set<String> broken = BY_APPLICATION.getOrDefault(application, new HashSet<>());
        broken.remove(server);
        return Set.copyOf(broken);
    }
}
