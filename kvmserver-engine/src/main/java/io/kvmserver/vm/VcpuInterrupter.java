package io.kvmserver.vm;

import com.sun.jna.LastErrorException;
import com.sun.jna.Memory;
import com.sun.jna.NativeLibrary;
import com.sun.jna.Pointer;
import io.kvmserver.kvm.KvmException;
import io.kvmserver.host.LibC;

/**
 * Stops a vCPU that is running guest code, from another thread: the only way to end a guest
 * that loops without exiting. {@code kvm_run.immediate_exit} covers the window before
 * {@code KVM_RUN}; a signal to the vCPU's native thread kicks a run already in the guest, and
 * {@code KVM_RUN} returns {@code EINTR}.
 *
 * <p>The signal is a real-time one the JVM does not use, and its handler is a C library function
 * that ignores its argument and has no side effects ({@code getpid}): a Java callback would run
 * on a signal stack where the JVM cannot run Java. The handler exists only so that the signal is
 * not ignored (an ignored signal would not interrupt {@code KVM_RUN}).
 */
public final class VcpuInterrupter {

    /** SIGRTMIN + 6 with glibc (SIGRTMIN is 34): unused by HotSpot and by glibc itself. */
    public static final int SIGNAL = 40;
    private static final int SA_RESTART = 0x10000000;
    private static final int SIGACTION_SIZE = 152;
    private static volatile boolean installed;

    private VcpuInterrupter() {
    }

    /** Installs the no-op handler once per process. */
    public static synchronized void install() {
        if (installed) {
            return;
        }
        Pointer handler = NativeLibrary.getInstance("c").getFunction("getpid");
        try (Memory action = new Memory(SIGACTION_SIZE)) {
            action.clear();
            action.setPointer(0, handler); // sa_handler
            action.setInt(136, SA_RESTART); // sa_flags: KVM_RUN returns EINTR regardless
            sigaction(SIGNAL, action, null);
        } catch (LastErrorException e) {
            throw new KvmException("cannot install the vCPU interrupt signal handler", e.getErrorCode());
        }
        installed = true;
    }

    private static void sigaction(int signal, Memory action, Pointer old) {
        NativeLibrary.getInstance("c").getFunction("sigaction")
                .invokeInt(new Object[] {signal, action, old});
    }

    /** Sends the kick to a native thread (as returned by {@code pthread_self} on it). */
    public static void kick(long pthread) {
        LibC.pthread_kill(pthread, SIGNAL);
    }
}
