package io.kvmserver.kvm;

/**
 * {@code /dev/kvm} is missing or cannot be opened. The message says how to fix it, because this is
 * the first thing a new user meets on a laptop, in a container or in CI.
 */
public final class KvmUnavailableException extends KvmException {

    private static final long serialVersionUID = 1L;

    public KvmUnavailableException(String message, int errno) {
        super(message, errno);
    }

    static KvmUnavailableException forOpenFailure(String device, int errno) {
        String advice = switch (errno) {
            case 2 -> device + " does not exist: this machine has no KVM. Enable virtualization in the"
                    + " firmware, load the kvm_intel or kvm_amd module, or run on a host (or nested"
                    + " VM) that exposes KVM; in a container pass --device /dev/kvm.";
            case 13, 1 -> "no permission to open " + device + ": add the user to the 'kvm' group"
                    + " (sudo usermod -aG kvm $USER, then log in again); in a container pass"
                    + " --device /dev/kvm --group-add $(getent group kvm | cut -d: -f3).";
            default -> "cannot open " + device;
        };
        return new KvmUnavailableException(advice, errno);
    }
}
