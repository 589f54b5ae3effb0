package io.kvmserver.autoconfigure;

import io.kvmserver.config.KvmServerOptions;
import io.kvmserver.linux.GuestConsole;
import io.kvmserver.server.KvmServer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.apache.commons.logging.Log;
import org.apache.commons.logging.LogFactory;
import org.springframework.context.SmartLifecycle;
import org.springframework.core.io.ResourceLoader;

/**
 * Runs the kvmserver as part of the application context's lifecycle.
 *
 * <p>{@link #start()} runs while the context refreshes, before the application reports that it
 * is ready (and accepts traffic): it boots the program's template, freezes it when the program
 * waits for connections and starts the request VMs, so that readiness means the guest serves. A
 * failure stops the application with a {@link KvmServerStartupException}, which the failure
 * analyzer explains.
 *
 * <p>The server stops in {@link #PHASE}, the phase in which the web server shuts down
 * gracefully: request VMs stop accepting, requests in flight may finish within
 * {@code spring.lifecycle.timeout-per-shutdown-phase}, and then the VMs are cut.
 */
public class KvmServerLifecycle implements SmartLifecycle {

    /** The phase of web server graceful shutdown: both servers drain at the same time. */
    public static final int PHASE = SmartLifecycle.DEFAULT_PHASE - 1024;

    private static final Log logger = LogFactory.getLog(KvmServerLifecycle.class);

    private final KvmServerProperties properties;

    private final GuestConsole console;

    private final List<KvmServerOptionsCustomizer> customizers;

    private final ResourceLoader resourceLoader;

    private final Duration shutdownTimeout;

    private final Object monitor = new Object();

    private volatile KvmServer server;

    private GuestFiles files;

    /**
     * Creates the lifecycle; nothing runs until {@link #start()}.
     * @param properties the configuration
     * @param console where the guest's stdout and stderr go
     * @param customizers applied to the options after the properties, in order
     * @param resourceLoader resolves {@code classpath:} programs and arguments
     * @param shutdownTimeout how long requests in flight may take to finish on shutdown
     */
    public KvmServerLifecycle(KvmServerProperties properties, GuestConsole console,
            List<KvmServerOptionsCustomizer> customizers, ResourceLoader resourceLoader, Duration shutdownTimeout) {
        this.properties = properties;
        this.console = console;
        this.customizers = List.copyOf(customizers);
        this.resourceLoader = resourceLoader;
        this.shutdownTimeout = shutdownTimeout;
    }

    @Override
    public void start() {
        synchronized (this.monitor) {
            if (this.server != null) {
                return;
            }
            GuestFiles guestFiles = new GuestFiles(this.resourceLoader);
            BootOutputRecorder recorder = new BootOutputRecorder(this.console);
            String program = this.properties.getProgram();
            try {
                program = guestFiles.program(program);
                List<String> args = this.properties.getArgs().stream().map(guestFiles::argument).toList();
                Path extracted = guestFiles.directory();
                KvmServerOptions.Builder builder = this.properties.toOptions(program, args,
                        (extracted != null) ? List.of(extracted.toString()) : List.of());
                this.customizers.forEach((customizer) -> customizer.customize(builder));
                this.server = KvmServer.start(builder.build(), recorder, hostEnvironment());
                this.files = guestFiles;
            }
            catch (RuntimeException ex) {
                guestFiles.close();
                throw new KvmServerStartupException(program, recorder.lines(), ex);
            }
            finally {
                recorder.stop();
            }
        }
    }

    /** The host environment that {@code kvmserver.permissions.allow-env} selects from. */
    protected Map<String, String> hostEnvironment() {
        return System.getenv();
    }

    @Override
    public void stop() {
        synchronized (this.monitor) {
            KvmServer running = this.server;
            if (running == null) {
                return;
            }
            Duration grace = drainTime(this.shutdownTimeout);
            logger.info("kvmserver: stopping " + running.options().program() + ", waiting up to "
                    + grace.toMillis() + " ms for requests in flight");
            running.close(grace);
            this.files.close();
            this.server = null;
            this.files = null;
        }
    }

    /**
     * How long requests in flight may run on: most of the shutdown phase, keeping a fifth of it
     * (at most 2 s) to cut what is left and release the VMs, so that the lifecycle processor,
     * which waits no longer than the phase timeout, sees the server stopped.
     */
    static Duration drainTime(Duration phaseTimeout) {
        Duration reserve = phaseTimeout.dividedBy(5);
        if (reserve.compareTo(Duration.ofSeconds(2)) > 0) {
            reserve = Duration.ofSeconds(2);
        }
        return phaseTimeout.minus(reserve);
    }

    @Override
    public void stop(Runnable callback) {
        Thread stopper = new Thread(() -> {
            try {
                stop();
            }
            finally {
                callback.run();
            }
        }, "kvmserver-shutdown");
        stopper.start();
    }

    @Override
    public boolean isRunning() {
        return this.server != null;
    }

    @Override
    public int getPhase() {
        return PHASE;
    }

    /** The running server, or null before start and after stop. */
    public KvmServer getServer() {
        return this.server;
    }

    /** The configured program, as written in {@code kvmserver.program}. */
    public String getProgram() {
        return this.properties.getProgram();
    }

}
