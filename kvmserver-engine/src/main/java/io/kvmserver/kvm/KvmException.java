package io.kvmserver.kvm;

import io.kvmserver.host.HostCallException;

/**
 * A KVM call failed ({@code /dev/kvm}, a VM or vCPU ioctl). Carries the errno, as every failed
 * host call does ({@link HostCallException}).
 */
public class KvmException extends HostCallException {

    private static final long serialVersionUID = 1L;

    public KvmException(String message, int errno) {
        super(message, errno);
    }

    public KvmException(String message) {
        this(message, 0);
    }
}
