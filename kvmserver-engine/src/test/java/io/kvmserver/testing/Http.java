package io.kvmserver.testing;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;

/** A plain HTTP/1.1 client, one connection per request, as a guest server expects. */
public final class Http {

    private Http() {
    }

    /** GET {@code path} on 127.0.0.1; returns the body, or "ERROR:" and the exception's class name. */
    public static String get(int port, String path) {
        return getFrom(null, port, path);
    }

    /**
     * GET {@code path} on 127.0.0.1 from the local address {@code from} (any if null), by which a
     * test server may tell its clients apart before it reads anything: the body,
     * "NO-RESPONSE:" and what came if no header ended, or "ERROR:" and the exception's class name.
     */
    public static String getFrom(String from, int port, String path) {
        try (Socket socket = new Socket()) {
            if (from != null) {
                socket.bind(new InetSocketAddress(from, 0));
            }
            socket.connect(new InetSocketAddress("127.0.0.1", port), 5_000);
            socket.setSoTimeout(30_000);
            OutputStream out = socket.getOutputStream();
            out.write(("GET " + path + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            out.flush();
            InputStream in = socket.getInputStream();
            String response = new String(in.readAllBytes(), StandardCharsets.UTF_8);
            int body = response.indexOf("\r\n\r\n");
            return body < 0 ? "NO-RESPONSE:" + response : response.substring(body + 4);
        } catch (IOException e) {
            return "ERROR:" + e.getClass().getSimpleName();
        }
    }

    /** A TCP port free on this machine right now. */
    public static int freePort() {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }
}
