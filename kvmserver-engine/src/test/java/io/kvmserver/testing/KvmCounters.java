package io.kvmserver.testing;

import com.sun.jna.LastErrorException;
import com.sun.jna.Memory;
import com.sun.jna.Pointer;
import io.kvmserver.host.LibC;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * One of KVM's cumulative per-vCPU counters ({@code KVM_GET_STATS_FD}, Linux 5.14+), summed over
 * every vCPU this JVM holds, found through {@code /proc/self/fd}. For the tests of what happens
 * inside KVM without an exit to the engine, which the engine cannot count: {@code pf_fixed}, the
 * page faults KVM fixed itself (a shadow page table entry built under shadow paging, an EPT/NPT
 * entry on hardware).
 */
public final class KvmCounters {

    /** {@code _IO(KVMIO, 0xce)}. */
    private static final long KVM_GET_STATS_FD = 0xAECEL;
    private static final int HEADER_SIZE = 24;
    private static final int DESCRIPTOR_FIXED_SIZE = 16;

    private KvmCounters() {
    }

    /** The sum of counter {@code name} over this JVM's vCPUs; -1 where the kernel has no stats fds. */
    public static long sum(String name) {
        long total = -1;
        try (DirectoryStream<Path> fds = Files.newDirectoryStream(Path.of("/proc/self/fd"))) {
            for (Path fd : fds) {
                String target;
                try {
                    target = Files.readSymbolicLink(fd).toString();
                } catch (IOException e) {
                    continue; // closed meanwhile
                }
                if (target.startsWith("anon_inode:kvm-vcpu")) {
                    long v = ofVcpu(Integer.parseInt(fd.getFileName().toString()), name);
                    if (v >= 0) {
                        total = Math.max(total, 0) + v;
                    }
                }
            }
        } catch (IOException e) {
            return -1;
        }
        return total;
    }

    /** The counter of one vCPU, -1 if it is closed meanwhile or has no such counter. */
    private static long ofVcpu(int vcpuFd, String name) {
        int statsFd;
        try {
            statsFd = LibC.ioctl(vcpuFd, KVM_GET_STATS_FD, 0L);
        } catch (LastErrorException e) {
            return -1;
        }
        try (Memory header = new Memory(HEADER_SIZE)) {
            LibC.pread(statsFd, Pointer.nativeValue(header), HEADER_SIZE, 0);
            int nameSize = header.getInt(4);
            int count = header.getInt(8);
            long descriptors = header.getInt(16) & 0xffffffffL;
            long data = header.getInt(20) & 0xffffffffL;
            int size = DESCRIPTOR_FIXED_SIZE + nameSize;
            try (Memory table = new Memory((long) size * count); Memory value = new Memory(8)) {
                LibC.pread(statsFd, Pointer.nativeValue(table), table.size(), descriptors);
                for (int i = 0; i < count; i++) {
                    long at = (long) i * size;
                    String n = table.getString(at + DESCRIPTOR_FIXED_SIZE, StandardCharsets.US_ASCII.name());
                    if (n.equals(name)) {
                        LibC.pread(statsFd, Pointer.nativeValue(value), 8, data + (table.getInt(at + 8) & 0xffffffffL));
                        return value.getLong(0);
                    }
                }
                return -1;
            }
        } finally {
            LibC.close(statsFd);
        }
    }
}
