package io.kvmserver.server;

/**
 * How one routed connection's request went, reported by the request VM that served it once the
 * request has ended and the VM is free again (reset, in ephemeral mode).
 *
 * @param vm           the request VM's id (as in {@link KvmServer#vms()})
 * @param outcome      how the request ended
 * @param failure      what went wrong, for an outcome other than {@link ServerStats.Outcome#OK}; null otherwise
 * @param requestNanos from the connection's accept to the request's end
 * @param exits        exits of the VM to the host in that time
 * @param resetPages   pages the VM's reset restored afterwards (0 without a reset)
 */
public record RequestReport(int vm, ServerStats.Outcome outcome, String failure, long requestNanos, long exits,
        long resetPages) {
}
