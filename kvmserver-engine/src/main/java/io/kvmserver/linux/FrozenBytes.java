package io.kvmserver.linux;

/**
 * What a template's pipes and socketpairs may hold in all when it freezes. Every request VM
 * starts with a copy of those bytes in new host pipes and sockets, made again at each reset, and
 * the engine keeps them in its heap for the server's life: without a bound, a template that filled
 * hundreds of socketpairs before it listened made the JVM hold hundreds of megabytes (or die of an
 * {@link OutOfMemoryError} at the freeze), beside every other server of the application. Found by
 * the review of 2026-12-05.
 */
final class FrozenBytes {

    /** The most a template's pipes and socketpairs may hold when it freezes, in all. */
    static final long LIMIT = 16L << 20;

    /**
     * What one message counts for at least: each is a host call at every fork and reset and an
     * object in the heap, so a template that fills datagram pairs with single bytes (278,000 of
     * them made every reset cost 0.6 s of host CPU, review of 2026-12-05) pays for them.
     */
    static final long MESSAGE_COST = 4096;

    private long kept;

    /**
     * Counts one more message of {@code n} bytes to keep (at least {@link #MESSAGE_COST}).
     * @throws FrozenStateException past {@link #LIMIT}, saying what to change
     */
    void keep(long n) {
        kept += Math.max(n, MESSAGE_COST);
        if (kept > LIMIT) {
            throw new FrozenStateException("the program's pipes and socketpairs held more than " + (LIMIT >> 20)
                    + " MiB when its template froze (a message counts as at least " + (MESSAGE_COST >> 10)
                    + " KiB): every request VM starts with a copy of what they hold, so at most that much is kept;"
                    + " read what they hold (or close them) before the program waits for connections");
        }
    }
}
