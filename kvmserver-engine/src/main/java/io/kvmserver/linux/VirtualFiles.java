package io.kvmserver.linux;

import com.sun.jna.Pointer;
import java.nio.charset.StandardCharsets;

/**
 * {@code /proc/self}: the host's describes the JVM, so the guest gets stand-ins describing itself;
 * and the system-wide {@code stat}, {@code cpuinfo}, {@code meminfo}, {@code uptime} and
 * {@code loadavg}, named {@code ../stat} and so on from {@code /proc/self}, describe its VM: one
 * CPU, the memory it may map, its CPU time.
 * {@code maps} lists the guest's mappings, streamed as it is read ({@link MapsFile}); {@code stat}
 * and {@code statm} give its process id, thread count, CPU time and memory (what node's
 * {@code process.memoryUsage()} and redis's cron read; the resident size is the memory the program
 * may touch, an upper bound); a few files programs read at start are empty; the links
 * ({@code exe}, {@code fd/N}, {@code cwd}) name guest paths, never the host's.
 */
final class VirtualFiles {

    private static final int S_IFREG = 0100000;

    private VirtualFiles() {
    }

    /** The stand-in for {@code /proc/self/<name>}, or null when there is none ({@code ENOENT}). */
    static FileDescription open(Syscall c, String name, String guestPath) {
        return switch (name) {
            case "maps" -> new MapsFile(c.memory(), guestPath);
            case "stat" -> new MemoryFile(stat(c), guestPath);
            case "statm" -> new MemoryFile(statm(c), guestPath);
            case "cmdline", "environ", "status", "auxv" -> new MemoryFile(new byte[0], guestPath);
            case "../stat" -> new MemoryFile(systemStat(c), guestPath);
            case "../cpuinfo" -> new MemoryFile(HostCpu.INFO, guestPath);
            case "../meminfo" -> new MemoryFile(meminfo(c), guestPath);
            case "../uptime" -> new MemoryFile(uptime(), guestPath);
            case "../loadavg" -> new MemoryFile(("0.00 0.00 0.00 1/" + c.process().scheduler().liveCount() + " "
                    + c.process().pid() + "\n").getBytes(StandardCharsets.US_ASCII), guestPath);
            default -> null;
        };
    }

    private static final long PAGE = 4096;
    /** USER_HZ: clock ticks per second in {@code /proc}. */
    private static final long TICKS = 100;

    /** {@code /proc/self/stat}: the 52 fields of proc(5), those the engine knows filled in. */
    private static byte[] stat(Syscall c) {
        LinuxProcess p = c.process();
        String program = c.kernel().fileSystem().programGuestPath();
        String comm = program.substring(program.lastIndexOf('/') + 1);
        comm = comm.length() > 15 ? comm.substring(0, 15) : comm;
        long pid = p.pid();
        long ticks = p.timers().cpuClock() / (1_000_000_000L / TICKS);
        StringBuilder line = new StringBuilder(256);
        line.append(pid).append(" (").append(comm).append(") R 0 ").append(pid).append(' ').append(pid)
                .append(" 0 -1 0 0 0 0 0 ").append(ticks).append(" 0 0 0 20 0 ")
                .append(p.scheduler().liveCount()).append(" 0 0 ").append(p.memory().mappedBytes()).append(' ')
                .append(p.memory().accessibleBytes() / PAGE).append(" 18446744073709551615");
        for (int field = 26; field <= 52; field++) {
            line.append(" 0");
        }
        return line.append('\n').toString().getBytes(StandardCharsets.US_ASCII);
    }

    /**
     * {@code /proc/stat} of a VM of one CPU: the program's CPU time as the user time of {@code cpu}
     * and {@code cpu0}, the rest zero (there is no idle time to count: the VM runs when it has work).
     */
    private static byte[] systemStat(Syscall c) {
        long ticks = c.process().timers().cpuClock() / (1_000_000_000L / TICKS);
        String times = ticks + " 0 0 0 0 0 0 0 0 0\n";
        long bootSeconds = (System.currentTimeMillis() - System.nanoTime() / 1_000_000L) / 1000;
        return ("cpu  " + times + "cpu0 " + times + "intr 0\nctxt 0\nbtime " + bootSeconds + "\nprocesses 1\n"
                + "procs_running 1\nprocs_blocked 0\nsoftirq 0 0 0 0 0 0 0 0 0 0 0\n").getBytes(StandardCharsets.US_ASCII);
    }

    /** {@code /proc/meminfo}: the memory the program may map accessible ({@code max-main-memory}), as {@code sysinfo} says. */
    private static byte[] meminfo(Syscall c) {
        long total = c.memory().maxAccessibleBytes() / 1024;
        long free = (c.memory().maxAccessibleBytes() - c.memory().accessibleBytes()) / 1024;
        return String.format(java.util.Locale.ROOT, "MemTotal:       %8d kB%nMemFree:        %8d kB%n"
                + "MemAvailable:   %8d kB%nBuffers:               0 kB%nCached:                0 kB%n"
                + "SwapCached:            0 kB%nSwapTotal:             0 kB%nSwapFree:              0 kB%n",
                total, free, free).getBytes(StandardCharsets.US_ASCII);
    }

    /** {@code /proc/uptime}: the seconds {@code CLOCK_BOOTTIME}'s guest readers see, no idle time. */
    private static byte[] uptime() {
        long centis = System.nanoTime() / 10_000_000L;
        return String.format(java.util.Locale.ROOT, "%d.%02d 0.00%n", centis / 100, centis % 100)
                .getBytes(StandardCharsets.US_ASCII);
    }

    /** {@code /proc/self/statm}: size, resident, shared, text, lib, data and dt, in pages. */
    private static byte[] statm(Syscall c) {
        AddressSpace m = c.process().memory();
        long resident = m.accessibleBytes() / PAGE;
        return (m.mappedBytes() / PAGE + " " + resident + " 0 0 0 " + resident + " 0\n")
                .getBytes(StandardCharsets.US_ASCII);
    }

    /** {@code stat} of a stand-in: an empty, read-only regular file, as procfs reports its files. */
    static long stat(String name, long hostStatBuffer) {
        return madeUpStat(hostStatBuffer, S_IFREG | 0444);
    }

    /**
     * A {@code struct stat} of a file the engine makes up, of {@code mode}: one link, a page as its
     * block size, everything else zero (a size procfs does not know until the file is read).
     */
    static long madeUpStat(long hostStatBuffer, int mode) {
        Pointer p = new Pointer(hostStatBuffer);
        p.setMemory(0, 144, (byte) 0);
        p.setLong(16, 1); // st_nlink
        p.setInt(24, mode); // st_mode
        p.setLong(56, 4096); // st_blksize
        return 0;
    }

    /** The target of the link {@code /proc/self/<name>} as the guest names it, or null if it is not a link. */
    static String linkTarget(Syscall c, String name) {
        if (name.equals("exe")) {
            return c.kernel().fileSystem().programGuestPath();
        }
        if (name.equals("cwd")) {
            return c.process().cwd();
        }
        if (name.equals("root")) {
            return "/";
        }
        if (name.startsWith("fd/")) {
            try {
                int fd = Integer.parseInt(name.substring(3));
                return c.files().isOpen(fd) ? c.files().get(fd).path() : null;
            } catch (NumberFormatException e) {
                return null;
            }
        }
        return null;
    }
}
