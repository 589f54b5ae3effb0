package io.kvmserver.testing;

import com.sun.jna.Pointer;
import io.kvmserver.linux.GuestConsole;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/** A guest console that keeps everything the guest printed, both streams together. */
public final class CapturedConsole implements GuestConsole {

    private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();

    @Override
    public synchronized long write(int stream, long hostAddress, long length) {
        byte[] chunk = new Pointer(hostAddress).getByteArray(0, (int) length);
        bytes.write(chunk, 0, chunk.length);
        return length;
    }

    public synchronized String text() {
        return bytes.toString(StandardCharsets.UTF_8);
    }
}
