package io.kvmserver.vm;

import io.kvmserver.kvm.VcpuFd;

/** Access to a VM's internals for tests elsewhere that must set up what a run could leave behind. */
public final class VmInternals {

    private VmInternals() {
    }

    public static VcpuFd vcpu(GuestVm vm) {
        return vm.vcpu();
    }
}
