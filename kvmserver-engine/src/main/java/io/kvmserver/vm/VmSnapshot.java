package io.kvmserver.vm;

import io.kvmserver.memory.GuestMemory;

import com.sun.jna.Memory;
import io.kvmserver.linux.Kernel;
import io.kvmserver.linux.LinuxProcess;

/**
 * A frozen template: its vCPU state at the entry of the wait for connections, its memory (the
 * template VM's memfd, never written again) and its emulated kernel state. Request VMs are
 * forked from it and reset to it.
 *
 * @param kernel   what all VMs of the program share
 * @param memory   the template's guest memory (request VMs map it privately)
 * @param process  the template's process state, never run again
 * @param regs     general registers, RIP pointing at the trap instruction that re-enters the wait
 * @param sregs    special registers (descriptor tables, CR*, segment bases)
 * @param xsave    FPU/SSE/AVX state
 * @param xcr0     enabled XSAVE features
 * @param pageTableCursor the page-table pool's allocation cursor
 */
public record VmSnapshot(Kernel kernel, GuestMemory memory, LinuxProcess process, Memory regs, Memory sregs,
        Memory xsave, long xcr0, long pageTableCursor) {
}
