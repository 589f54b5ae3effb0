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

    /**
     * The program accepted a connection from the listener whose client has the address
     * {@code peer} (the host's {@code sockaddr}): for a tracker that follows routed connections.
     */
    default void acceptedFrom(byte[] peer) {
        accepted();
    }

    /** The program closed (the last fd of) a connection it accepted. */
    void closed();

    /**
     * Whether a connection closed now with bytes unread may close gently ({@link LingeringClose}):
     * when the program closes it, as it answered; never when the engine closes it because the
     * request failed (a crash, a time limit), where Linux's reset tells the client the answer may
     * be cut short.
     */
    default boolean closesGently() {
        return true;
    }

    /** Whether the VM's request is over, so its run should end at the next system call. */
    default boolean finished() {
        return false;
    }

    /** A connection of the request was installed as a guest socket on host fd {@code hostFd}. */
    default void connectionOpened(int hostFd) {
    }

    /** The program read from or wrote to a connection of the request. */
    default void connectionUsed() {
    }

    /**
     * The host fd of the request's connection to watch while the program waits, so that the
     * request ends when the client has hung up and nothing is left to read; -1 for none.
     */
    default int hangupWatchFd() {
        return -1;
    }

    /** The program read bytes its client sent on a connection of the request. */
    default void clientSpoke() {
    }

    /**
     * The client of the watched connection hung up (its side is shut down: closed, or only shut
     * for writing) with nothing left to read, while the program waited: whether that ends the
     * request. A client that never sent a byte (a health probe) is gone; one whose request the
     * program read may only have shut down its side, and waits for the response.
     */
    default boolean clientHungUp() {
        return false;
    }

    /** The client hung up but data is left to read: no need to watch until the program reads. */
    default void clientHungUpWithData() {
    }
}
