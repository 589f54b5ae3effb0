package io.kvmserver.linux;

import io.kvmserver.config.Option;
import io.kvmserver.config.OptionNaming;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Every permission denial of a program's VMs: counted by kind for metrics, logged on the
 * {@value #LOGGER_NAME} logger, and the first few kept, so that a program that fails to start
 * can be told what it was denied and which setting would allow it.
 *
 * <p>Callers record real policy denials only: a file that does not exist is not a denial.
 *
 * <p>Logging: a denied connection, listen or unix socket is logged at WARN, once per target (a
 * program retrying in a loop must not flood the log), unless it is an {@linkplain #isExpectedProbe
 * expected probe}. File denials and expected probes are logged at DEBUG, because programs probe
 * many paths and every libc program asks the name service cache and DNS; with {@code verbose}
 * every denial is logged at INFO, once per target. Hints name the setting in the naming of the
 * configuration ({@link OptionNaming}).
 */
public final class Denials {

    /** The logger of denials: {@code logging.level.kvmserver.denials=debug} shows every one. */
    public static final String LOGGER_NAME = "kvmserver.denials";

    /** How many distinct denials {@link #first()} keeps. */
    public static final int FIRST = 20;

    private static final Logger log = LoggerFactory.getLogger(LOGGER_NAME);
    private static final int MAX_LOGGED_TARGETS = 1024;

    /** The unix sockets of glibc's name service cache daemon, which every name lookup tries first. */
    private static final Set<String> NSCD_SOCKETS = Set.of("/var/run/nscd/socket", "/run/nscd/socket");

    private static final String EXPECTED = " (a probe most programs make and do without)";

    /** What was denied, and what the target of a denial of that kind looks like. */
    public enum Kind {
        /** Reading a file; the target is the path the guest asked for. */
        READ,
        /** Writing or creating a file; the target is the path. */
        WRITE,
        /** Connecting or sending to an address; the target is {@code address:port}, IPv6 in brackets. */
        CONNECT,
        /** Binding an address to listen on; the target is {@code address:port}, IPv6 in brackets. */
        LISTEN,
        /** Binding or connecting a unix socket; the target is its path, or {@code @name} for an abstract one. */
        UNIX_SOCKET,
        /** Starting a new process; the target is how: {@code fork}, {@code vfork}, or the program {@code execve} named. */
        PROCESS;

        /** The kind as metrics and messages write it: {@code read}, {@code unix-socket}. */
        public String tag() {
            return name().toLowerCase(Locale.ROOT).replace('_', '-');
        }
    }

    /**
     * One denial, with the settings that would allow it.
     *
     * @param kind what was denied
     * @param target what it was denied on (see {@link Kind})
     * @param hint which setting would allow it, in the configuration's naming
     * @param expectedProbe true for a probe most programs make and do without (see {@link #isExpectedProbe})
     */
    public record Denial(Kind kind, String target, String hint, boolean expectedProbe) {

        @Override
        public String toString() {
            return kind.tag() + " " + target + ": " + hint;
        }
    }

    private final OptionNaming naming;
    private final boolean verbose;
    private final LongAdder[] counts = new LongAdder[Kind.values().length];
    private final Set<String> logged = ConcurrentHashMap.newKeySet();
    private final List<Denial> first = new ArrayList<>(FIRST);

    /**
     * @param naming how hints name the settings that would allow a denial
     * @param verbose log every denial at INFO
     */
    public Denials(OptionNaming naming, boolean verbose) {
        this.naming = naming;
        this.verbose = verbose;
        for (int i = 0; i < counts.length; i++) {
            counts[i] = new LongAdder();
        }
    }

    /** Denials of a program configured on the command line, logged without {@code verbose}. */
    public Denials() {
        this(OptionNaming.COMMAND_LINE, false);
    }

    /** Records a policy denial: counts it, logs it and keeps it if it is among the first. */
    public void record(Kind kind, String target) {
        counts[kind.ordinal()].increment();
        target = printable(target);
        boolean firstTime = logged.size() < MAX_LOGGED_TARGETS && logged.add(kind.tag() + " " + target);
        if (!firstTime && !log.isDebugEnabled()) {
            return;
        }
        Denial denial = new Denial(kind, target, hint(kind, target), isExpectedProbe(kind, target));
        if (firstTime) {
            keep(denial);
        }
        boolean network = kind == Kind.CONNECT || kind == Kind.LISTEN || kind == Kind.UNIX_SOCKET;
        if (firstTime && network && !denial.expectedProbe()) {
            log.warn("denied {}", denial);
        } else if (firstTime && verbose) {
            log.info("denied {}{}", denial, denial.expectedProbe() ? EXPECTED : "");
        } else {
            log.debug("denied {}{}", denial, denial.expectedProbe() ? EXPECTED : "");
        }
    }

    /** How many operations of {@code kind} were denied. */
    public long count(Kind kind) {
        return counts[kind.ordinal()].sum();
    }

    /** The first {@value #FIRST} distinct denials, oldest first. */
    public synchronized List<Denial> first() {
        return List.copyOf(first);
    }

    /**
     * The first denials as lines for a message about a failed start, expected probes last, each
     * hint only once (every denied file has the same one), or {@code ""} if nothing was denied.
     */
    public String summary() {
        List<Denial> denials = new ArrayList<>(first());
        if (denials.isEmpty()) {
            return "";
        }
        denials.sort((a, b) -> Boolean.compare(a.expectedProbe(), b.expectedProbe()));
        StringBuilder out = new StringBuilder("\nThe program was denied (the first ").append(denials.size())
                .append(" distinct; the logger " + LOGGER_NAME + " shows all):");
        Set<String> hinted = new HashSet<>();
        for (Denial denial : denials) {
            out.append("\n  ").append(denial.kind().tag()).append(' ').append(denial.target());
            if (hinted.add(denial.hint())) {
                out.append(": ").append(denial.hint());
            }
            out.append(denial.expectedProbe() ? EXPECTED : "");
        }
        return out.toString();
    }

    /**
     * True for a denial that nearly every program meets and does without: asking glibc's name
     * service cache daemon ({@code /var/run/nscd/socket}) or a DNS server (port 53) during a name
     * lookup, which libc does even to find the host's own name. These are not worth a warning:
     * a program that really needs the network fails in a way that says so.
     */
    public static boolean isExpectedProbe(Kind kind, String target) {
        return switch (kind) {
            case CONNECT -> target.endsWith(":53");
            case UNIX_SOCKET -> NSCD_SOCKETS.contains(target);
            default -> false;
        };
    }

    /**
     * The target with control characters escaped: it comes from the guest, and a newline in a
     * path must not forge a log line.
     */
    static String printable(String target) {
        StringBuilder out = null;
        for (int i = 0; i < target.length(); i++) {
            char c = target.charAt(i);
            if (c < 0x20 || c == 0x7f) {
                if (out == null) {
                    out = new StringBuilder(target.length() + 8).append(target, 0, i);
                }
                out.append(String.format("\\x%02x", (int) c));
            } else if (out != null) {
                out.append(c);
            }
        }
        return out == null ? target : out.toString();
    }

    private synchronized void keep(Denial denial) {
        if (first.size() < FIRST) {
            first.add(denial);
        }
    }

    /** Which setting would allow {@code kind} on {@code target}, in the configuration's naming. */
    public String hint(Kind kind, String target) {
        return switch (kind) {
            case READ -> "allow it with " + name(Option.ALLOW_READ) + " (a directory that contains it) or "
                    + name(Option.VOLUME);
            case WRITE -> "allow it with " + name(Option.ALLOW_WRITE) + " (a directory that contains it) or a"
                    + " writable " + name(Option.VOLUME);
            case CONNECT -> "allow it with " + name(Option.ALLOW_CONNECT) + "=" + target + " or "
                    + name(Option.ALLOW_NET);
            case LISTEN -> "allow it with " + name(Option.ALLOW_LISTEN) + "=" + target + " or "
                    + name(Option.ALLOW_NET);
            case UNIX_SOCKET -> target.startsWith("@") ? "abstract unix sockets need " + name(Option.ALLOW_ALL)
                    : "allow it with " + name(Option.ALLOW_WRITE) + " (a directory that contains it)";
            case PROCESS -> "a VM runs one program and no other processes (threads are fine); do the work in the"
                    + " program itself";
        };
    }

    private String name(Option option) {
        return naming.nameOf(option);
    }
}
