package io.kvmserver.linux;

import io.kvmserver.host.Errno;

import com.sun.jna.Memory;
import com.sun.jna.Pointer;
import io.kvmserver.host.LibC;
import java.util.ArrayDeque;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Guest output between the VMs and wherever it goes (the runner's stdout, a logger): a bounded
 * buffer that a thread of its own drains into the real console.
 *
 * <p>Why: the real console can block (a full pipe to a slow reader, a stalled log appender). A VM
 * thread must never block in the host on its guest's behalf, or a request outlives its time
 * limit and a server with one VM stops serving. Here a guest write only copies into the buffer;
 * when the buffer is full it waits in the VM's waiter (so the request's time limit and shutdown
 * still end it), never on the real console. Nothing the guest wrote is dropped. The copy is in
 * bounded chunks: no allocation is sized by what the guest passes.
 */
public final class BufferedConsole implements GuestConsole, AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(BufferedConsole.class);
    /** Bytes held at most: guest writes beyond it wait for the real console to catch up. */
    static final int CAPACITY = 256 * 1024;
    /**
     * Bytes set aside at most, for all VMs together: however many run at once, writes through the
     * host (every VM's first log line, any line longer than the entry takes) always find at least
     * the rest of the buffer once the real console has taken what it holds.
     */
    static final int RESERVED_MAX = CAPACITY / 2;
    /** The largest piece handed to the real console at once. */
    private static final int CHUNK = 64 * 1024;
    /** Linux's {@code PIPE_BUF}: writes up to this size reach the console whole. */
    static final int ATOMIC = 4096;
    private static final long FULL_RETRY_NANOS = 1_000_000L;

    private record Segment(int stream, int length) {
    }

    /** Not bytes: the place in the output where {@link #endOfOutput} was called. */
    private static final Segment END_OF_OUTPUT = new Segment(-1, 0);

    private final GuestConsole target;
    private final Memory ring = new Memory(CAPACITY);
    private final ArrayDeque<Segment> segments = new ArrayDeque<>();
    private final Object lock = new Object();
    private int head;
    private int used;
    /**
     * Bytes set aside for writes the PVM syscall entry answers in the guest ({@link #reserve}):
     * no other write may take them, so that the entry's answer (every byte written) stays true
     * until the host copies them in at the VM's next exit.
     */
    private int reserved;
    private boolean draining;
    private boolean closed;
    /** Whether bytes were written since the last {@link #endOfOutput} (or ever). */
    private boolean writtenSinceEnd;
    private Thread drainer;

    private BufferedConsole(GuestConsole target) {
        this.target = target;
    }

    /** Buffers writes to {@code target}, which may block; {@code target} is called from one thread. */
    public static BufferedConsole of(GuestConsole target) {
        return target instanceof BufferedConsole b ? b : new BufferedConsole(target);
    }

    /** A write from outside any VM: waits for space with a plain sleep. */
    @Override
    public long write(int stream, long hostAddress, long length) {
        return write(null, stream, hostAddress, length);
    }

    /**
     * Copies what fits of {@code length} bytes (at most {@link #CHUNK}) and returns that count, as
     * a short write to a pipe would; waits in the VM's {@code waiter} while the buffer is full,
     * {@code -EINTR} if the VM is kicked meanwhile. A write of at most {@link #ATOMIC} bytes is
     * copied whole or waits, as a pipe takes it: a short write would let other VMs' output land
     * between its parts, inside the line a program wrote at once (one request's bytes in another
     * request's log line, found by the review of 2026-12-04 late).
     */
    public long write(HostWaiter waiter, int stream, long hostAddress, long length) {
        if (length <= 0) {
            return 0;
        }
        int want = (int) Math.min(length, CHUNK);
        int whole = want <= ATOMIC ? want : 1;
        while (true) {
            synchronized (lock) {
                if (closed) {
                    return -Errno.EPIPE;
                }
                int free = CAPACITY - used - reserved;
                if (free >= whole) {
                    int n = Math.min(want, free);
                    copyIn(stream, hostAddress, n);
                    startDrainer();
                    lock.notifyAll();
                    return n;
                }
            }
            int waited = waitForSpace(waiter);
            if (waited == HostWaiter.WAIT_PARKED) {
                return Syscall.RESTART;
            }
            if (waited == HostWaiter.WAIT_KICKED) {
                return -Errno.EINTR;
            }
        }
    }

    /**
     * Sets aside up to {@code want} bytes of free space for writes answered in the guest, without
     * waiting: returns how many (0 when the buffer is full or closed, or when {@link #RESERVED_MAX}
     * is set aside already). The caller gives them back with {@link #writeReserved} and
     * {@link #release}, before it waits on the host for anything.
     */
    int reserve(int want) {
        synchronized (lock) {
            if (closed || want <= 0) {
                return 0;
            }
            int n = Math.max(0, Math.min(want, Math.min(CAPACITY - used, RESERVED_MAX) - reserved));
            reserved += n;
            return n;
        }
    }

    /** Bytes set aside now and not yet written or given back. */
    int reserved() {
        synchronized (lock) {
            return reserved;
        }
    }

    /**
     * Gives back {@code n} bytes set aside and not written. Wakes nobody: a writer that found the
     * buffer full looks again on its own, and the drainer has nothing new (a VM gives space back at
     * every exit; waking the drainer each time would cost a switch of threads per exit).
     */
    void release(int n) {
        if (n <= 0) {
            return;
        }
        synchronized (lock) {
            reserved -= n;
        }
    }

    /**
     * Copies {@code n} bytes into space set aside by {@link #reserve} (at least {@code n} of it):
     * never waits, never short. Dropped once the console is closed (the server is stopping).
     */
    void writeReserved(int stream, long hostAddress, int n) {
        synchronized (lock) {
            reserved -= n;
            if (closed) {
                return;
            }
            copyIn(stream, hostAddress, n);
            startDrainer();
            lock.notifyAll();
        }
    }

    private void copyIn(int stream, long from, int n) {
        int tail = (head + used) % CAPACITY;
        int first = Math.min(n, CAPACITY - tail);
        LibC.memcpy(Pointer.nativeValue(ring) + tail, from, first);
        if (first < n) {
            LibC.memcpy(Pointer.nativeValue(ring), from + first, n - first);
        }
        used += n;
        writtenSinceEnd = true;
        Segment last = segments.peekLast();
        if (last != null && last.stream == stream) {
            segments.pollLast();
            segments.addLast(new Segment(stream, last.length + n));
        } else {
            segments.addLast(new Segment(stream, n));
        }
    }

    private static int waitForSpace(HostWaiter waiter) {
        if (waiter != null) {
            return waiter.sleep(FULL_RETRY_NANOS);
        }
        try {
            Thread.sleep(1);
            return HostWaiter.WAIT_TIMED_OUT;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return HostWaiter.WAIT_KICKED;
        }
    }

    /** Passes {@link GuestConsole#endOfOutput} on to the real console once what was written before has reached it. */
    @Override
    public void endOfOutput() {
        synchronized (lock) {
            if (closed || !writtenSinceEnd) {
                return; // nothing was written since the output last ended: nothing to end
            }
            writtenSinceEnd = false;
            segments.addLast(END_OF_OUTPUT);
            startDrainer();
            lock.notifyAll();
        }
    }

    private void startDrainer() {
        if (drainer == null) {
            drainer = new Thread(this::drain, "kvmserver-console");
            drainer.setDaemon(true);
            drainer.start();
        }
    }

    private void drain() {
        while (true) {
            int stream;
            int start;
            int n;
            synchronized (lock) {
                while (segments.isEmpty() && !closed) {
                    try {
                        lock.wait();
                    } catch (InterruptedException e) {
                        return;
                    }
                }
                if (segments.isEmpty()) {
                    return;
                }
                Segment s = segments.peekFirst();
                stream = s.stream;
                start = head;
                n = Math.min(Math.min(s.length, CHUNK), CAPACITY - head);
                draining = true;
            }
            if (stream == END_OF_OUTPUT.stream) {
                passEndOfOutput();
                synchronized (lock) {
                    segments.pollFirst();
                    draining = false;
                    lock.notifyAll();
                }
                continue;
            }
            writeFully(stream, Pointer.nativeValue(ring) + start, n);
            synchronized (lock) {
                Segment s = segments.pollFirst();
                if (s.length > n) {
                    segments.addFirst(new Segment(s.stream, s.length - n));
                }
                head = (head + n) % CAPACITY;
                used -= n;
                draining = false;
                lock.notifyAll();
            }
        }
    }

    private void passEndOfOutput() {
        try {
            target.endOfOutput();
        } catch (RuntimeException e) {
            log.warn("guest output could not be ended: {}", e.toString());
        }
    }

    private void writeFully(int stream, long address, int length) {
        long done = 0;
        while (done < length) {
            long n;
            try {
                n = target.write(stream, address + done, length - done);
            } catch (RuntimeException e) {
                log.warn("guest output could not be written: {}", e.toString());
                return;
            }
            if (n <= 0) {
                if (n != -Errno.EINTR && n != -Errno.EAGAIN) {
                    return; // the real console is gone (EPIPE): nothing more can reach it
                }
                continue;
            }
            done += n;
        }
    }

    /**
     * Waits until everything written so far has reached the real console, for at most
     * {@code timeout} (negative: as long as it takes). Returns whether it all did.
     */
    public boolean flush(long timeout, TimeUnit unit) {
        long deadline = timeout < 0 ? Long.MAX_VALUE : System.nanoTime() + unit.toNanos(timeout);
        synchronized (lock) {
            while (!segments.isEmpty() || draining) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    return false;
                }
                try {
                    TimeUnit.NANOSECONDS.timedWait(lock, Math.min(left, 100_000_000L));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return false;
                }
            }
            return true;
        }
    }

    /**
     * Ends the output, flushes (for at most 5 s) and stops the draining thread; later writes fail
     * with {@code EPIPE}.
     */
    @Override
    public void close() {
        endOfOutput();
        if (!flush(5, TimeUnit.SECONDS)) {
            log.warn("guest output still waiting after 5 s was dropped: the console did not take it");
        }
        synchronized (lock) {
            closed = true;
            lock.notifyAll();
        }
    }
}
