package io.kvmserver.linux;

import org.slf4j.Logger;

/**
 * What the host finds when it performs the syscall entry's queue that the entry never queues: a
 * program that wrote the queue page, or rang the entry's doorbell, itself (or a fault of the
 * engine's). Said once per VM at WARN, so that it is seen, and later at DEBUG, so that a program
 * doing it in a loop cannot flood the host's log.
 */
final class OddQueueWarning {

    private final Logger log;
    private boolean warned;

    OddQueueWarning(Logger log) {
        this.log = log;
    }

    void warn(String format, Object first, Object second) {
        if (!warned) {
            warned = true;
            log.warn(format + " (the program wrote the syscall entry's pages itself, or the engine is at fault;"
                    + " the VM's further such are logged at debug)", first, second);
        } else if (log.isDebugEnabled()) {
            log.debug(format, first, second);
        }
    }
}
