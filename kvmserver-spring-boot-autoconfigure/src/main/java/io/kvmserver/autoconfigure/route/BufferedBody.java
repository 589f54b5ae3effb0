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
     */
    void write(byte[] bytes, int offset, int count) throws IOException {
        if (count > this.limit - this.length) {
            throw new TooLarge(this.limit);
        }
        if (!this.budget.take(count)) {
            throw new OverBudget(this.budget.limit());
        }
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
    }

    private void writeFully(ByteBuffer buffer) throws IOException {
        while (buffer.hasRemaining()) {
            this.file.write(buffer);
        }
    }

    /** The body's length so far. */
    long length() {
        return this.length;
    }

    /** The whole body, for the program's request, with its length (so a chunked body gets a Content-Length). */
    Request.Content content(String contentType) throws IOException {
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
    public void close() {
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
