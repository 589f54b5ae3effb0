package io.kvmserver.server;

import io.kvmserver.config.KvmServerOptions;
import io.kvmserver.linux.FileDescription;
import io.kvmserver.linux.RouteSocket;
import io.kvmserver.linux.WarmupClients;
import io.kvmserver.vm.GuestVm;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
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

    /** One warmup request: sent, and its answer read to the end. */
    private static void send(OutputStream out, InputStream in, KvmServerOptions options) throws IOException {
        out.write(("GET " + options.warmupPath() + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                .getBytes(StandardCharsets.US_ASCII));
        out.flush();
        in.transferTo(OutputStream.nullOutputStream());
    }

    static void run(GuestVm template, KvmServerOptions options, WarmupClients clients) {
        try {
            FileDescription listener;
            while ((listener = template.syscallContext().listener()) == null) {
                Thread.sleep(5);
            }
            RouteSocket route = template.syscallContext().kernel().route();
            InetSocketAddress address = KvmServer.localAddress(listener.hostFd());
            if (route != null && route.isListening()) {
                for (int i = 0; i < options.warmup(); i++) {
                    clients.begin();
                    try (SocketChannel channel = SocketChannel.open(UnixDomainSocketAddress.of(route.socket()))) {
                        send(Channels.newOutputStream(channel), Channels.newInputStream(channel), options);
                    }
                }
                log.info("kvmserver: sent {} warmup request(s) to {} through its route socket", options.warmup(),
                        route.address());
            } else if (address == null) {
                log.warn("warmup skipped: the program listens on a unix socket");
            } else {
                if (address.getAddress().isAnyLocalAddress()) {
                    address = new InetSocketAddress(InetAddress.getLoopbackAddress(), address.getPort());
                }
                for (int i = 0; i < options.warmup(); i++) {
                    clients.begin();
                    try (Socket s = new Socket()) {
                        // Bound first: the template knows this connection by its address when it accepts it.
                        s.bind(new InetSocketAddress(address.getAddress(), 0));
                        InetSocketAddress local = (InetSocketAddress) s.getLocalSocketAddress();
                        clients.expect(local);
                        try {
                            s.connect(address, 5_000);
                            s.setSoTimeout((int) Math.min(Integer.MAX_VALUE, options.maxRequestTime().toMillis()));
                            send(s.getOutputStream(), s.getInputStream(), options);
                        } finally {
                            clients.done(local);
                        }
                    }
                }
                log.info("kvmserver: sent {} warmup request(s) to {}", options.warmup(), address);
            }
        } catch (InterruptedException | java.nio.channels.ClosedByInterruptException e) {
            // The boot ended (the program crashed or exited on a warmup request, or its time ran
            // out): the start reports that, and nothing is frozen.
            Thread.currentThread().interrupt();
            return;
        } catch (IOException e) {
            log.warn("kvmserver: a warmup request to {} failed ({}); freezing the template as it is",
                    options.warmupPath(), (e.getMessage() != null) ? e.getMessage() : e.getClass().getSimpleName());
        }
        template.syscallContext().setFreezeOnListenerWait(true);
        // End the wait the template is in, once, so that it reaches the freeze point at its next one.
        template.waiter().wake();
    }

}
