package io.kvmserver.kvm;

/**
 * Why {@link VcpuFd#run()} returned, decoded from {@code struct kvm_run}: one type per exit reason,
 * each carrying only the fields of {@code kvm_run} that are valid for that reason (as rust-vmm's
 * {@code VcpuExit}). Switch on {@link #reason()}, then use the type's fields.
 *
 * <p>The vCPU loop allocates nothing per exit: exits without data are constants, and the MMIO exit
 * (every system call makes one) and the port I/O exit (every exception) are one object each per
 * vCPU, filled again at each exit and valid until the next {@code run()}. The rare exits that end a
 * run carry their data in new records.
 */
public sealed interface VcpuExit {

    /** The exit reasons the engine tells apart ({@code KVM_EXIT_*}). */
    enum Reason {
        IO, MMIO, INTERRUPTED, HLT, SHUTDOWN, DIRTY_RING_FULL, INTERNAL_ERROR, FAIL_ENTRY, OTHER
    }

    Reason reason();

    /** {@code KVM_EXIT_IO}: the guest executed {@code in} or {@code out} on a port. */
    final class Io implements VcpuExit {
        private int port;
        private boolean out;
        private int size;

        Io() {
        }

        void set(int port, boolean out, int size) {
            this.port = port;
            this.out = out;
            this.size = size;
        }

        @Override
        public Reason reason() {
            return Reason.IO;
        }

        public int port() {
            return port;
        }

        /** {@code out} (guest to host) rather than {@code in}. */
        public boolean isOut() {
            return out;
        }

        /** Bytes per access: 1, 2 or 4. */
        public int size() {
            return size;
        }
    }

    /**
     * {@code KVM_EXIT_MMIO}: the guest accessed a guest-physical address no memory slot covers.
     * KVM has decoded the instruction; a write is complete once the vCPU runs again (nothing of it
     * is left to do), a read waits for {@link #data} to be filled and completes at the next
     * {@code KVM_RUN}, which also moves RIP past the instruction.
     */
    final class Mmio implements VcpuExit {
        private long address;
        private long data;
        private int length;
        private boolean write;

        Mmio() {
        }

        void set(long address, long data, int length, boolean write) {
            this.address = address;
            this.data = data;
            this.length = length;
            this.write = write;
        }

        @Override
        public Reason reason() {
            return Reason.MMIO;
        }

        /** The guest-physical address accessed. */
        public long address() {
            return address;
        }

        /** What a write stored, little-endian in the low {@link #length} bytes (zero-extended). */
        public long data() {
            return data;
        }

        /** Bytes accessed: 1 to 8. */
        public int length() {
            return length;
        }

        public boolean isWrite() {
            return write;
        }
    }

    /**
     * {@code KVM_RUN} returned {@code EINTR} ({@code KVM_EXIT_INTR} or an interrupted call): a
     * signal or {@code immediate_exit} asked the vCPU to come back.
     */
    VcpuExit INTERRUPTED = new Simple(Reason.INTERRUPTED);
    /** {@code KVM_EXIT_HLT}. */
    VcpuExit HLT = new Simple(Reason.HLT);
    /** {@code KVM_EXIT_SHUTDOWN}: a triple fault. */
    VcpuExit SHUTDOWN = new Simple(Reason.SHUTDOWN);
    /** {@code KVM_EXIT_DIRTY_RING_FULL}: harvest the dirty ring, then run again. */
    VcpuExit DIRTY_RING_FULL = new Simple(Reason.DIRTY_RING_FULL);

    /** An exit that carries no data. */
    record Simple(Reason reason) implements VcpuExit {
        @Override
        public String toString() {
            return reason.name();
        }
    }

    /** {@code KVM_EXIT_INTERNAL_ERROR}: KVM could not handle something (an instruction it cannot emulate). */
    record InternalError(long suberror) implements VcpuExit {
        @Override
        public Reason reason() {
            return Reason.INTERNAL_ERROR;
        }
    }

    /** {@code KVM_EXIT_FAIL_ENTRY}: the hardware refused to enter the guest. */
    record FailEntry(long hardwareReason) implements VcpuExit {
        @Override
        public Reason reason() {
            return Reason.FAIL_ENTRY;
        }
    }

    /** Any other {@code KVM_EXIT_*}, by number. */
    record Other(int exitReason) implements VcpuExit {
        @Override
        public Reason reason() {
            return Reason.OTHER;
        }
    }
}
