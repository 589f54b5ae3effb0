package io.kvmserver.vm;

import io.kvmserver.kvm.VcpuFd;
import io.kvmserver.linux.UserContext;

/** Access to a VM's internals for tests elsewhere that must set up what a run could leave behind. */
public final class VmInternals {

    private VmInternals() {
    }

    public static VcpuFd vcpu(GuestVm vm) {
        return vm.vcpu();
    }

    /** The thread state the host reads off the vCPU now, as a thread switch or a signal reads it. */
    public static UserContext capture(GuestVm vm) {
        UserContext ctx = new UserContext();
        vm.cpu().capture(ctx);
        return ctx;
    }

    /** What the VM does to its vCPU right before it enters the guest. */
    public static void prepareEntry(GuestVm vm) {
        vm.cpu().beforeEntry();
    }
}
