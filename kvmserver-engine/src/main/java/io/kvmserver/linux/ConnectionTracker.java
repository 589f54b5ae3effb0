package io.kvmserver.linux;

/**
 * What a VM does with connections from the shared listening socket. A request VM in ephemeral
 * mode takes one connection per request and ends the request when the program closes it; the
 * template and non-ephemeral VMs take as many as they like.
 */
public interface ConnectionTracker {

    /** Takes every connection and ignores their ends: the template, and non-ephemeral VMs. */
    ConnectionTracker UNLIMITED = new ConnectionTracker() {
        @Override
        public boolean mayAccept() {
            return true;
        }

        @Override
        public void accepted() {
        }

        @Override
        public void closed() {
        }
    };

    /** Whether the VM may take another connection from the listener now. */
    boolean mayAccept();

    /** The program accepted a connection from the listener. */
    void accepted();

    /** The program closed (the last fd of) a connection it accepted. */
    void closed();

    /** Whether the VM's request is over, so its run should end at the next system call. */
    default boolean finished() {
        return false;
    }
}
