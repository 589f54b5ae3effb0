package io.kvmserver.vm;

import io.kvmserver.kvm.VmFd;
import io.kvmserver.memory.GuestMemory;

/**
 * The KVM memory slots of one VM: one per {@linkplain GuestMemory#chunkSize() chunk} of guest
 * memory that its page tables can reach, registered when the chunk is first exposed and kept until
 * the VM is closed (slot number = chunk index, so that a dirty-ring entry names its chunk).
 *
 * <p>Why not one slot for the whole memory: the guest's memory spans its address range
 * ({@code max-address-space}, 128 GiB by default) so that runtimes can reserve tens of GiB they never
 * touch, and KVM's metadata follows a slot's size, not its use. Measured on the nested PVM host
 * (shadow paging) with {@code /proc/meminfo}'s VmallocUsed: a 128 GiB slot costs ~330 MiB of kernel
 * memory and 75-330 ms to create, per VM; a 64 MiB one ~175 KiB and ~0.05 ms. Virtual machine
 * monitors solve the same problem the same way for sparse guest memory (QEMU's virtio-mem maps its
 * device memory as many slots and only the plugged ones).
 *
 * <p>What bounds them: a program may spread its accessible mappings over at most
 * {@link io.kvmserver.linux.AddressSpace#EXPOSURE_SLACK} chunks more than they fill (more is
 * {@code ENOMEM}), so that scattering single pages cannot buy slots (kernel memory) beyond what its
 * {@code max-main-memory} would cost as one slot. A request VM keeps the slots its requests
 * gained across resets (they hold no data: the page tables decide what the guest reaches, and
 * deleting a slot makes KVM drop its shadow pages, which is slow here), unless a reset finds more
 * than {@link #KEPT_AFTER_RESET} of them: then they go, so that one request cannot leave the VM
 * short of slots for the next.
 */
final class MemorySlots {

    /** Chunks beyond the template's that a request VM keeps at its reset. */
    static final int KEPT_AFTER_RESET = 16;

    private MemorySlots() {
    }

    /**
     * Registers every chunk {@code memory} has exposed, and every chunk it exposes from now on, as
     * a slot of {@code vm} with {@code flags} ({@link VmFd#MEM_LOG_DIRTY_PAGES} for a request VM).
     */
    static void attach(VmFd vm, GuestMemory memory, int flags) {
        memory.setExposureListener(new GuestMemory.ExposureListener() {
            @Override
            public void exposed(int index, long address, long length) {
                vm.setUserMemoryRegion(index, flags, address, length, memory.hostBase() + address);
            }

            @Override
            public void withdrawn(int index, long address, long length) {
                vm.setUserMemoryRegion(index, flags, address, 0, memory.hostBase() + address); // size 0 deletes
            }
        });
    }
}
