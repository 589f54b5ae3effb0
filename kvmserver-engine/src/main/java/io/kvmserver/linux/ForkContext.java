package io.kvmserver.linux;

import com.sun.jna.Memory;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * One fork of a frozen process into a request VM (at its start and at every reset): what the
 * forked file descriptions need to build their own host objects.
 *
 * <p>Host objects the template made before it was frozen (a pipe, a socketpair) are shared by
 * several of its descriptions: both ends of a pipe, two fds of one {@code dup}. Each fork makes
 * one replica per object, found here by the template's object, so that the new descriptions stay
 * connected to each other and to nothing of the template's or another VM's. Parts of a replica
 * that no forked description claimed (the template had closed that end) are closed by
 * {@link #finish()}.
 */
public final class ForkContext {

    /** A replica whose unclaimed parts are released when the fork is complete. */
    interface Replica {
        void releaseUnclaimed();
    }

    private final AddressSpace memory;
    // Sized for the few host objects a template shares between descriptions (a fork is made at
    // every reset, and the default sizes would be most of what it allocates); they grow if needed.
    private final Map<Object, Object> replicas = new IdentityHashMap<>(4);
    private final List<Replica> toFinish = new ArrayList<>(2);

    private Memory scratch;

    ForkContext(AddressSpace memory) {
        this.memory = memory;
    }

    /** The forked process's memory (for descriptions that describe it, such as {@code /proc/self/maps}). */
    AddressSpace memory() {
        return memory;
    }

    /** The replica of {@code original} in this fork, made by {@code make} the first time. */
    @SuppressWarnings("unchecked")
    <T> T replica(Object original, Supplier<T> make) {
        Object copy = replicas.get(original);
        if (copy == null) {
            copy = make.get();
            replicas.put(original, copy);
            if (copy instanceof Replica r) {
                toFinish.add(r);
            }
        }
        return (T) copy;
    }

    /** 32 bytes of native memory for the host calls of one description's fork, freed with the fork. */
    Memory scratch() {
        if (scratch == null) {
            scratch = new Memory(32);
        }
        return scratch;
    }

    /** Releases what no forked description took. */
    void finish() {
        toFinish.forEach(Replica::releaseUnclaimed);
        if (scratch != null) {
            scratch.close();
            scratch = null;
        }
    }
}
