package io.kvmserver.linux;

import io.kvmserver.host.StructStat;
import io.kvmserver.host.OpenFlags;

import io.kvmserver.host.SyscallNumbers;

import com.sun.jna.LastErrorException;
import com.sun.jna.Memory;
import com.sun.jna.Pointer;
import io.kvmserver.host.LibC;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * What the frozen template listens on, which no request VM may take over: its listening
 * addresses (a request that binds one, {@code SO_REUSEPORT} or not, gets {@code EADDRINUSE},
 * so it cannot receive other clients' connections) and its unix socket files with the
 * directories above them (a request may not unlink or rename them, or it could put its own
 * socket where clients connect: {@code EBUSY}).
 *
 * <p>Published once, when the template is frozen; read by every request VM.
 */
public final class ServedEndpoints {

    private static final int AF_INET = 2;
    private static final int AF_INET6 = 10;
    private static final int AF_UNIX = 1;

    /** One listening address: socket type, family, address bytes (4 or 16), port. */
    private record Served(int type, int family, byte[] address, int port) {
    }

    /** A file by identity: device and inode. */
    private record Inode(long device, long inode) {
    }

    private volatile List<Served> served = List.of();
    private volatile Set<Inode> pinned = Set.of();

    /** Records every listening socket of the frozen template's fd table. */
    public void publish(FdTable templateFiles) {
        List<Served> addresses = new ArrayList<>();
        Set<Inode> inodes = new HashSet<>();
        templateFiles.forEach(f -> {
            if (f instanceof SocketFile s && s.isListener()) {
                if (s.domain() == AF_UNIX) {
                    pin(s.boundHostPath(), inodes);
                } else {
                    Served a = localAddress(s);
                    if (a != null) {
                        addresses.add(a);
                    }
                }
            }
        });
        served = List.copyOf(addresses);
        pinned = Set.copyOf(inodes);
    }

    /**
     * Whether binding a socket of {@code type} to {@code sockaddr} (as the host call gets it)
     * would share an address the server listens on: the same port, and the same address or a
     * wildcard on either side (IPv6 {@code ::} and IPv4-mapped addresses cover IPv4 too).
     */
    boolean conflicts(int type, byte[] sockaddr) {
        List<Served> current = served;
        if (current.isEmpty() || sockaddr.length < 4) {
            return false;
        }
        Served wanted = parse(type, sockaddr);
        if (wanted == null || wanted.port == 0) {
            return false;
        }
        for (Served s : current) {
            if (s.type == wanted.type && s.port == wanted.port && overlap(s, wanted)) {
                return true;
            }
        }
        return false;
    }

    /** Whether {@code name} in the directory {@code dirFd} is a file the server must keep. */
    boolean pins(int dirFd, String name) {
        Set<Inode> current = pinned;
        if (current.isEmpty()) {
            return false;
        }
        try (Memory st = new Memory(StructStat.SIZE)) {
            LibC.syscall(SyscallNumbers.NEWFSTATAT, dirFd, (name + "\0").getBytes(StandardCharsets.UTF_8),
                    Pointer.nativeValue(st), OpenFlags.AT_SYMLINK_NOFOLLOW, 0, 0);
            return current.contains(new Inode(st.getLong(StructStat.ST_DEV), st.getLong(StructStat.ST_INO)));
        } catch (LastErrorException e) {
            return false;
        }
    }

    /** Whether the host file {@code hostFd} is open on is one the server must keep. */
    boolean pinsFile(int hostFd) {
        Set<Inode> current = pinned;
        if (current.isEmpty() || hostFd < 0) {
            return false;
        }
        try (Memory st = new Memory(StructStat.SIZE)) {
            LibC.syscall(SyscallNumbers.FSTAT, hostFd, Pointer.nativeValue(st), 0, 0, 0, 0);
            return current.contains(new Inode(st.getLong(StructStat.ST_DEV), st.getLong(StructStat.ST_INO)));
        } catch (LastErrorException e) {
            return false;
        }
    }

    private static void pin(String hostPath, Set<Inode> inodes) {
        if (hostPath == null) {
            return;
        }
        for (java.nio.file.Path p = java.nio.file.Path.of(hostPath); p != null && p.getNameCount() > 0;
                p = p.getParent()) {
            try (Memory st = new Memory(StructStat.SIZE)) {
                LibC.syscall(SyscallNumbers.NEWFSTATAT, OpenFlags.AT_FDCWD,
                        (p + "\0").getBytes(StandardCharsets.UTF_8), Pointer.nativeValue(st),
                        OpenFlags.AT_SYMLINK_NOFOLLOW, 0, 0);
                inodes.add(new Inode(st.getLong(StructStat.ST_DEV), st.getLong(StructStat.ST_INO)));
            } catch (LastErrorException ignored) {
                // gone already: nothing to keep
            }
        }
    }

    private static Served localAddress(SocketFile s) {
        try (Memory sa = new Memory(128); Memory len = new Memory(4)) {
            len.setInt(0, 128);
            LibC.syscall(SyscallNumbers.GETSOCKNAME, s.hostFd(), Pointer.nativeValue(sa), Pointer.nativeValue(len), 0,
                    0, 0);
            return parse(s.type(), sa.getByteArray(0, Math.min(len.getInt(0), 128)));
        } catch (LastErrorException e) {
            return null;
        }
    }

    private static Served parse(int type, byte[] sa) {
        int family = (sa[0] & 0xff) | ((sa[1] & 0xff) << 8);
        int port = ((sa[2] & 0xff) << 8) | (sa[3] & 0xff);
        if (family == AF_INET && sa.length >= 8) {
            return new Served(type, family, Arrays.copyOfRange(sa, 4, 8), port);
        }
        if (family == AF_INET6 && sa.length >= 24) {
            return new Served(type, family, Arrays.copyOfRange(sa, 8, 24), port);
        }
        return null;
    }

    private static boolean overlap(Served a, Served b) {
        byte[] x = asIpv6(a.address);
        byte[] y = asIpv6(b.address);
        return isWildcard(x) || isWildcard(y) || Arrays.equals(x, y);
    }

    /** IPv4 addresses as IPv4-mapped IPv6 ones, so that both families compare alike. */
    private static byte[] asIpv6(byte[] address) {
        if (address.length == 16) {
            return isWildcard(address) ? new byte[16] : address;
        }
        byte[] mapped = new byte[16];
        mapped[10] = (byte) 0xff;
        mapped[11] = (byte) 0xff;
        System.arraycopy(address, 0, mapped, 12, 4);
        return isIpv4Wildcard(address) ? new byte[16] : mapped;
    }

    private static boolean isIpv4Wildcard(byte[] address) {
        return address[0] == 0 && address[1] == 0 && address[2] == 0 && address[3] == 0;
    }

    private static boolean isWildcard(byte[] address) {
        for (byte b : address) {
            if (b != 0) {
                return address.length == 16 && isMappedIpv4Wildcard(address);
            }
        }
        return true;
    }

    private static boolean isMappedIpv4Wildcard(byte[] a) {
        for (int i = 0; i < 10; i++) {
            if (a[i] != 0) {
                return false;
            }
        }
        return (a[10] & 0xff) == 0xff && (a[11] & 0xff) == 0xff && a[12] == 0 && a[13] == 0 && a[14] == 0 && a[15] == 0;
    }
}
