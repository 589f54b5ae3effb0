package io.kvmserver.linux;

/** Access to the console buffer's accounting for tests elsewhere (the hostile suite). */
public final class ConsoleInternals {

    private ConsoleInternals() {
    }

    /** Bytes of {@code console}'s buffer set aside for writes answered in the guest, now. */
    public static int reserved(BufferedConsole console) {
        return console.reserved();
    }

    /** The buffer's size: what every VM's output shares. */
    public static int capacity() {
        return BufferedConsole.CAPACITY;
    }
}
