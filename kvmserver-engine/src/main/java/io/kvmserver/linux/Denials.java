package io.kvmserver.linux;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Every permission denial, counted by kind for metrics, and logged: network denials at WARN the
 * first time for each target (a program retrying in a loop must not flood the log), file
 * denials at DEBUG (programs probe many paths that are simply not there).
 */
public final class Denials {

    private static final Logger log = LoggerFactory.getLogger(Denials.class);
    private static final int MAX_REMEMBERED = 1024;

    /** What was denied. */
    public enum Kind {
        READ, WRITE, CONNECT, LISTEN, UNIX_SOCKET
    }

    private final LongAdder[] counts = new LongAdder[Kind.values().length];
    private final Set<String> logged = ConcurrentHashMap.newKeySet();

    public Denials() {
        for (int i = 0; i < counts.length; i++) {
            counts[i] = new LongAdder();
        }
    }

    /** Records a denial; the hint names what would have allowed it. */
    public void record(Kind kind, String target) {
        record(kind, target, switch (kind) {
            case READ, WRITE -> "outside --allow-read/--allow-write/--volume";
            case CONNECT -> "not allowed by --allow-net/--allow-connect";
            case LISTEN -> "not allowed by --allow-net/--allow-listen";
            case UNIX_SOCKET -> "not writable under --allow-write/--volume";
        });
    }

    public void record(Kind kind, String target, String hint) {
        counts[kind.ordinal()].increment();
        boolean network = kind == Kind.CONNECT || kind == Kind.LISTEN || kind == Kind.UNIX_SOCKET;
        String key = kind + " " + target;
        if (network && logged.size() < MAX_REMEMBERED && logged.add(key)) {
            log.warn("denied {} {}: {}", kind.name().toLowerCase().replace('_', ' '), target, hint);
        } else if (log.isDebugEnabled()) {
            log.debug("denied {} {}: {}", kind.name().toLowerCase().replace('_', ' '), target, hint);
        }
    }

    public long count(Kind kind) {
        return counts[kind.ordinal()].sum();
    }
}
