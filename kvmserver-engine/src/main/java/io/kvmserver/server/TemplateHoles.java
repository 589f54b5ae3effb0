package io.kvmserver.server;

import io.kvmserver.memory.GuestMemory;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps the template's memory as it was frozen. Request VMs map the template's memfd privately:
 * their writes are copies of their own (counted, and dropped by the reset), but their reads of a
 * hole (memory they mapped afresh, or memory the template mapped and never touched) make the host
 * kernel fill the hole with a zeroed page of the shared memfd itself, where Linux would map its
 * zero page. Nothing counts those pages and no reset takes them back: a request that reads a GiB of
 * fresh memory in every request grew the host's memory by a GiB a request, for good. A periodic
 * check (the time limit's period, at most 100 ms) punches the template's holes again whenever its
 * memfd has grown, so what reads can pile up is bounded by what they reach in one period; no guest
 * sees a difference (those pages read as zeros before and after).
 */
final class TemplateHoles implements Runnable {

    private static final Logger log = LoggerFactory.getLogger(TemplateHoles.class);
    /** Growth tolerated before the holes are punched again: the engine's own reads of a few pages. */
    static final long SLACK = 4L << 20;

    private final GuestMemory template;
    private final long[] holes;
    private final long frozenBytes;
    private volatile long freedBytes;
    private boolean told;

    TemplateHoles(GuestMemory template) {
        this.template = template;
        this.holes = template.holes();
        this.frozenBytes = template.allocatedBytes();
    }

    @Override
    public void run() {
        long grown = template.allocatedBytes() - frozenBytes;
        if (grown <= SLACK) {
            return;
        }
        template.punchHoles(holes);
        long freed = grown - Math.max(0, template.allocatedBytes() - frozenBytes);
        freedBytes += freed;
        if (!told) {
            told = true;
            log.info("kvmserver: request VMs read {} MiB of memory the template never wrote, which the host had"
                    + " filled with zeroed pages of the template's image; freed (and so whenever it grows)",
                    grown >> 20);
        }
    }

    /** Host memory freed so far from the template's holes. */
    long freedBytes() {
        return freedBytes;
    }
}
