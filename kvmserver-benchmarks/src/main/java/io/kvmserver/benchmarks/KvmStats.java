package io.kvmserver.benchmarks;

import com.sun.jna.LastErrorException;
import com.sun.jna.Memory;
import com.sun.jna.Native;
import com.sun.jna.NativeLibrary;
import com.sun.jna.Pointer;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;

/**
 * KVM's own per-vCPU counters ({@code KVM_GET_STATS_FD}, Linux 5.14+), summed over every vCPU
 * of this process, found read-only through {@code /proc/self/fd}: they count the exits KVM
 * handles in the kernel (shadow page faults, for example) that the engine's own exit counter,
 * which sees only the exits that reach user space, cannot see. It binds the three C library
 * functions it needs itself, so that the harness also runs against older engines (whose own
 * binding lived elsewhere), for side-by-side comparisons.
 */
final class KvmStats {

    /** {@code _IO(KVMIO, 0xce)}. */
    private static final long KVM_GET_STATS_FD = 0xAECEL;

    private KvmStats() {
    }

    /** ioctl, pread and close, bound directly. */
    private static final class LibC {
        static {
            Native.register(NativeLibrary.getInstance("c"));
        }

        static native int ioctl(int fd, long request, long arg) throws LastErrorException;

        static native long pread(int fd, long buf, long count, long offset) throws LastErrorException;

        static native int close(int fd) throws LastErrorException;
    }

    /** Counter name to the sum over all vCPUs of this process; empty if the kernel lacks stats fds. */
    static Map<String, Long> snapshot() {
        Map<String, Long> sums = new TreeMap<>();
        try (DirectoryStream<Path> fds = Files.newDirectoryStream(Path.of("/proc/self/fd"))) {
            for (Path fd : fds) {
                String target;
                try {
                    target = Files.readSymbolicLink(fd).toString();
                } catch (IOException e) {
                    continue; // closed meanwhile
                }
                if (target.startsWith("anon_inode:kvm-vcpu")) {
                    addVcpu(Integer.parseInt(fd.getFileName().toString()), sums);
                }
            }
        } catch (IOException e) {
            return Map.of();
        }
        return sums;
    }

    /** {@code after - before} per counter, divided by {@code per}. */
    static Map<String, Double> delta(Map<String, Long> before, Map<String, Long> after, double per) {
        Map<String, Double> d = new TreeMap<>();
        after.forEach((k, v) -> d.put(k, (v - before.getOrDefault(k, 0L)) / per));
        return d;
    }

    private static void addVcpu(int vcpuFd, Map<String, Long> sums) {
        int statsFd;
        try {
            statsFd = LibC.ioctl(vcpuFd, KVM_GET_STATS_FD, 0L);
        } catch (LastErrorException e) {
            return; // closed meanwhile, or no stats fd on this kernel
        }
        try (Memory header = new Memory(24)) {
            LibC.pread(statsFd, Pointer.nativeValue(header), 24, 0);
            int nameSize = header.getInt(4);
            int count = header.getInt(8);
            long descOffset = header.getInt(16) & 0xffffffffL;
            long dataOffset = header.getInt(20) & 0xffffffffL;
            int descSize = 16 + nameSize;
            try (Memory descs = new Memory((long) descSize * count)) {
                LibC.pread(statsFd, Pointer.nativeValue(descs), descs.size(), descOffset);
                try (Memory value = new Memory(8)) {
                    for (int i = 0; i < count; i++) {
                        long base = (long) i * descSize;
                        int flags = descs.getInt(base);
                        int size = descs.getShort(base + 6) & 0xffff;
                        long offset = descs.getInt(base + 8) & 0xffffffffL;
                        int type = flags & 0xf; // KVM_STATS_TYPE_CUMULATIVE 0, INSTANT 1, PEAK 2, ...
                        if (type != 0 || size != 1) {
                            continue;
                        }
                        byte[] name = descs.getByteArray(base + 16, nameSize);
                        int len = 0;
                        while (len < name.length && name[len] != 0) {
                            len++;
                        }
                        LibC.pread(statsFd, Pointer.nativeValue(value), 8, dataOffset + offset);
                        sums.merge(new String(name, 0, len, StandardCharsets.US_ASCII), value.getLong(0), Long::sum);
                    }
                }
            }
        } finally {
            LibC.close(statsFd);
        }
    }

    public static void main(String[] args) {
        snapshot().forEach((k, v) -> System.out.println(k + " " + v));
    }
}
