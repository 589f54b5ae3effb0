package io.kvmserver.server;

import io.kvmserver.config.KvmServerOptions;
import io.kvmserver.linux.FileDescription;
import io.kvmserver.vm.GuestVm;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Sends the warmup requests to the template before it is frozen, so that whatever the program
 * builds on its first requests (caches, JIT code) is part of every request VM's starting image:
 * N connections, each {@code GET <path> HTTP/1.1} with {@code Connection: close}, read to EOF.
 * When the last one is answered the template is told to freeze at its next wait.
 */
final class Warmup {

    private static final Logger log = LoggerFactory.getLogger(Warmup.class);

    private Warmup() {
    }

    static void run(GuestVm template, KvmServerOptions options) {
        try {
            FileDescription listener;
            while ((listener = template.syscallContext().listener()) == null) {
                Thread.sleep(5);
            }
            InetSocketAddress address = KvmServer.localAddress(listener.hostFd());
            if (address == null) {
                log.warn("warmup skipped: the program listens on a unix socket");
            } else {
                if (address.getAddress().isAnyLocalAddress()) {
                    address = new InetSocketAddress(InetAddress.getLoopbackAddress(), address.getPort());
                }
                byte[] request = ("GET " + options.warmupPath() + " HTTP/1.1\r\nHost: localhost\r\n"
                        + "Connection: close\r\n\r\n").getBytes(StandardCharsets.US_ASCII);
                for (int i = 0; i < options.warmup(); i++) {
                    try (Socket s = new Socket()) {
                        s.connect(address, 5_000);
                        s.setSoTimeout((int) Math.min(Integer.MAX_VALUE, options.maxRequestTime().toMillis()));
                        OutputStream out = s.getOutputStream();
                        out.write(request);
                        out.flush();
                        InputStream in = s.getInputStream();
                        in.transferTo(OutputStream.nullOutputStream());
                    }
                }
                log.info("kvmserver: sent {} warmup request(s) to {}", options.warmup(), address);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return;
        } catch (IOException e) {
            log.warn("warmup request failed: {}; freezing the template as it is", e.toString());
        }
        template.syscallContext().setFreezeOnListenerWait(true);
        // End the wait the template is in, once, so that it reaches the freeze point at its next one.
        template.waiter().wake();
    }

}
