package io.kvmserver.linux;

import io.kvmserver.host.Errno;
import io.kvmserver.host.SyscallNumbers;

/**
 * Capabilities ({@code capget}, {@code capset} and the capability options of {@code prctl}), as
 * Linux 6.1 answers an unprivileged, sandboxed process: no capability in any set (effective,
 * permitted, inheritable, ambient), an empty bounding set, no securebits, and nothing that could
 * ever add one (the process cannot execute another program, and its {@code no_new_privs} is set).
 * Dropping what it does not have succeeds; raising anything is {@code EPERM}.
 */
final class CapabilitySyscalls {

    static final int LINUX_CAPABILITY_VERSION_1 = 0x1998_0330;
    static final int LINUX_CAPABILITY_VERSION_2 = 0x2007_1026;
    static final int LINUX_CAPABILITY_VERSION_3 = 0x2008_0522;
    /** The highest capability number Linux 6.1 knows ({@code CAP_CHECKPOINT_RESTORE}). */
    static final int CAP_LAST_CAP = 40;
    /** Bytes of one {@code struct __user_cap_data_struct}: effective, permitted, inheritable. */
    private static final int DATA_SIZE = 12;

    static final int PR_GET_KEEPCAPS = 7;
    static final int PR_SET_KEEPCAPS = 8;
    static final int PR_CAPBSET_READ = 23;
    static final int PR_CAPBSET_DROP = 24;
    static final int PR_GET_SECUREBITS = 27;
    static final int PR_SET_SECUREBITS = 28;
    static final int PR_CAP_AMBIENT = 47;
    private static final int PR_CAP_AMBIENT_IS_SET = 1;
    private static final int PR_CAP_AMBIENT_RAISE = 2;
    private static final int PR_CAP_AMBIENT_LOWER = 3;
    private static final int PR_CAP_AMBIENT_CLEAR_ALL = 4;

    private CapabilitySyscalls() {
    }

    static void register(SyscallTable t) {
        t.register(SyscallNumbers.CAPGET, CapabilitySyscalls::capget);
        t.register(SyscallNumbers.CAPSET, CapabilitySyscalls::capset);
    }

    /** Whether {@code option} is a capability option of prctl, answered by {@link #prctl}. */
    static boolean isPrctlOption(int option) {
        return switch (option) {
            case PR_GET_KEEPCAPS, PR_SET_KEEPCAPS, PR_CAPBSET_READ, PR_CAPBSET_DROP, PR_GET_SECUREBITS,
                    PR_SET_SECUREBITS, PR_CAP_AMBIENT -> true;
            default -> false;
        };
    }

    /**
     * The data structures {@code hdrp} asks for: 1 for version 1, 2 for versions 2 and 3. An
     * unknown version is {@code EINVAL}, after the kernel's preferred version is written back so
     * that the program can ask again (libcap probes this way).
     */
    private static int dataCount(AddressSpace memory, long header) {
        int version = memory.readInt(header);
        return switch (version) {
            case LINUX_CAPABILITY_VERSION_1 -> 1;
            case LINUX_CAPABILITY_VERSION_2, LINUX_CAPABILITY_VERSION_3 -> 2;
            default -> {
                memory.writeInt(header, LINUX_CAPABILITY_VERSION_3);
                throw new SyscallError(Errno.EINVAL);
            }
        };
    }

    /** capget(2): every set is empty, for this process (pid 0 or its own) and no other. */
    static long capget(Syscall c) {
        AddressSpace memory = c.memory();
        long header = c.arg(0);
        long data = c.arg(1);
        int count;
        try {
            count = dataCount(memory, header);
        } catch (SyscallError e) {
            // With no data pointer, a bad version is the documented way to ask for the right one.
            return data == 0 && e.errno() == Errno.EINVAL ? 0 : -e.errno();
        }
        if (data == 0) {
            return 0;
        }
        int pid = memory.readInt(header + 4);
        if (pid < 0) {
            return -Errno.EINVAL;
        }
        if (pid != 0 && c.process().scheduler().find(pid) == null) {
            return -Errno.ESRCH;
        }
        memory.writeBytes(data, new byte[count * DATA_SIZE]);
        return 0;
    }

    /** capset(2): the sets may only stay empty; anything raised is {@code EPERM}. */
    static long capset(Syscall c) {
        AddressSpace memory = c.memory();
        long header = c.arg(0);
        int count = dataCount(memory, header);
        int pid = memory.readInt(header + 4);
        if (pid != 0 && pid != c.thread().tid()) {
            return -Errno.EPERM; // only the calling thread's own capabilities can be set
        }
        for (byte b : memory.readBytes(c.arg(1), count * DATA_SIZE)) {
            if (b != 0) {
                return -Errno.EPERM;
            }
        }
        return 0;
    }

    /** The capability options of prctl(2). */
    static long prctl(Syscall c, int option) {
        long arg2 = c.arg(1);
        return switch (option) {
            case PR_CAPBSET_READ -> validCapability(arg2) ? 0 : -Errno.EINVAL; // the bounding set is empty
            case PR_CAPBSET_DROP -> -Errno.EPERM; // needs CAP_SETPCAP, checked before the number
            case PR_GET_SECUREBITS -> 0;
            case PR_SET_SECUREBITS -> -Errno.EPERM; // needs CAP_SETPCAP
            case PR_GET_KEEPCAPS -> 0;
            case PR_SET_KEEPCAPS -> Long.compareUnsigned(arg2, 1) > 0 ? -Errno.EINVAL : 0; // nothing to keep
            case PR_CAP_AMBIENT -> ambient(c, arg2);
            default -> -Errno.EINVAL;
        };
    }

    private static long ambient(Syscall c, long operation) {
        if (operation == PR_CAP_AMBIENT_CLEAR_ALL) {
            return (c.arg(2) | c.arg(3) | c.arg(4)) != 0 ? -Errno.EINVAL : 0;
        }
        if (!validCapability(c.arg(2)) || (c.arg(3) | c.arg(4)) != 0) {
            return -Errno.EINVAL;
        }
        if (operation == PR_CAP_AMBIENT_IS_SET || operation == PR_CAP_AMBIENT_LOWER) {
            return 0; // not set; lowering what is not set is fine
        }
        return operation == PR_CAP_AMBIENT_RAISE ? -Errno.EPERM : -Errno.EINVAL; // not permitted nor inheritable
    }

    private static boolean validCapability(long cap) {
        return Long.compareUnsigned(cap, CAP_LAST_CAP) <= 0;
    }
}
