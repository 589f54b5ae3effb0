package io.kvmserver.autoconfigure.route;

import io.kvmserver.sandbox.EngineDirectory;
import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import org.eclipse.jetty.client.ByteBufferRequestContent;
import org.eclipse.jetty.client.InputStreamRequestContent;
import org.eclipse.jetty.client.Request;

/**
 * A client's request body, read whole before a request VM is taken ({@code route.request-buffering}):
 * its first 64 KiB in memory, the rest in a file with no name ({@link EngineDirectory#unnamedFile()}),
 * which no guest and no other process can open and which is gone when the request is. A client
 * that sends its body slowly then holds a thread of the application, never a request VM others
 * wait for; what the host keeps for one client is bounded by {@code route.max-body-size}, and for
 * all of a server's clients together by its {@link BodyBudget} ({@code route.max-buffered-size}).
 */
final class BufferedBody implements Closeable {

    /** The part of a body kept in memory; the rest goes to the file. */
    static final int IN_MEMORY = 64 * 1024;

    /** The buffer a body starts with, doubled as it comes up to {@link #IN_MEMORY}. */
    private static final int FIRST_BUFFER = 4 * 1024;

    private final long limit;

    private final BodyBudget budget;

    private byte[] memory;

    private FileChannel file;

    private long length;

    /** Closed: what it held is given back, and nothing more is taken (a write racing the close fails). */
    private boolean closed;

    /**
     * @param limit the largest body accepted, in bytes
     * @param budget what the bodies being read for the server may hold together
     * @param expected the client's {@code Content-Length}, or -1 when it is not known
     */
    BufferedBody(long limit, BodyBudget budget, long expected) {
        this.limit = limit;
        this.budget = budget;
        // A little: a client's headers alone (a length it then never sends) make the host allocate
        // no more than that; the buffer grows as the body arrives, up to what stays in memory.
        this.memory = new byte[(int) ((expected >= 0) ? Math.min(expected, FIRST_BUFFER) : FIRST_BUFFER)];
    }

    /**
     * Appends the next bytes of the body.
     * @throws TooLarge when the body grows past the limit (nothing of these bytes is kept)
     * @throws OverBudget when the server's bodies would hold more than their budget
     * @throws NotStored when the bytes could not be kept (the temporary file's disk is full): the
     * budget they took is given back
     */
    synchronized void write(byte[] bytes, int offset, int count) throws IOException {
        if (this.closed) {
            throw new NotStored(new java.nio.channels.ClosedChannelException());
        }
        if (count > this.limit - this.length) {
            throw new TooLarge(this.limit);
        }
        if (!this.budget.take(count)) {
            throw new OverBudget(this.budget.limit());
        }
        boolean stored = false;
        try {
            if (this.file == null && this.length + count <= IN_MEMORY) {
                if (this.length + count > this.memory.length) {
                    this.memory = java.util.Arrays.copyOf(this.memory,
                            (int) Math.min(IN_MEMORY, Math.max(this.memory.length * 2L, this.length + count)));
                }
                System.arraycopy(bytes, offset, this.memory, (int) this.length, count);
            }
            else {
                if (this.file == null) {
                    this.file = EngineDirectory.unnamedFile();
                    writeFully(ByteBuffer.wrap(this.memory, 0, (int) this.length));
                }
                writeFully(ByteBuffer.wrap(bytes, offset, count));
            }
            this.length += count;
            stored = true;
        }
        catch (IOException | java.io.UncheckedIOException ex) {
            throw new NotStored(ex);
        }
        finally {
            if (!stored) {
                // Only what the body holds is the budget's: a failed write (a full disk) must not
                // keep its share for good, or each failure would shrink the budget of every later body.
                this.budget.give(count);
            }
        }
    }

    private void writeFully(ByteBuffer buffer) throws IOException {
        while (buffer.hasRemaining()) {
            this.file.write(buffer);
        }
    }

    /** The body's length so far. */
    synchronized long length() {
        return this.length;
    }

    /** The whole body, for the program's request, with its length (so a chunked body gets a Content-Length). */
    synchronized Request.Content content(String contentType) throws IOException {
        if (this.file == null) {
            return new ByteBufferRequestContent(contentType, ByteBuffer.wrap(this.memory, 0, (int) this.length));
        }
        this.file.position(0);
        long size = this.length;
        return new InputStreamRequestContent(contentType, Channels.newInputStream(this.file)) {

            @Override
            public long getLength() {
                return size;
            }

        };
    }

    /**
     * Frees the file, if the body needed one (a file with no name is gone once closed, whatever
     * close reports), and gives the body's bytes back to the budget. Once; later calls do nothing.
     */
    @Override
    public synchronized void close() {
        if (this.closed) {
            return;
        }
        this.closed = true;
        this.budget.give(this.length);
        this.length = 0;
        if (this.file != null) {
            try {
                this.file.close();
            }
            catch (IOException ex) {
                // the descriptor is released all the same
            }
            this.file = null;
        }
    }

    /** Bytes of a body that could not be kept (the temporary file's disk is full, or the body was closed). */
    static final class NotStored extends IOException {

        private static final long serialVersionUID = 1L;

        NotStored(Throwable cause) {
            super("the request body could not be kept: " + cause.getMessage(), cause);
        }

    }

    /** A request body the server's bodies have no room for now ({@code route.max-buffered-size}). */
    static final class OverBudget extends IOException {

        private static final long serialVersionUID = 1L;

        OverBudget(long limit) {
            super("the request bodies being read hold " + limit + " bytes, all they may", null);
        }

    }

    /** A request body larger than {@code route.max-body-size}. */
    static final class TooLarge extends IOException {

        private static final long serialVersionUID = 1L;

        TooLarge(long limit) {
            super("the request body is larger than " + limit + " bytes", null);
        }

    }

}
