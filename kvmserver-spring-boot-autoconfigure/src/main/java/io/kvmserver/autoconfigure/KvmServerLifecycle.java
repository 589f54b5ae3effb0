package io.kvmserver.autoconfigure;

import io.kvmserver.config.KvmServerOptions;
import io.kvmserver.config.Option;
import io.kvmserver.elf.ElfFile;
import io.kvmserver.linux.GuestConsole;
import io.kvmserver.server.KvmServer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.apache.commons.logging.Log;
import org.apache.commons.logging.LogFactory;
import org.springframework.beans.factory.DisposableBean;
import org.springframework.beans.factory.InitializingBean;
import org.springframework.boot.availability.AvailabilityChangeEvent;
import org.springframework.boot.availability.LivenessState;
import org.springframework.context.ApplicationEventPublisher;
import org.springframework.context.ApplicationEventPublisherAware;
import org.springframework.context.SmartLifecycle;
import org.springframework.core.io.ResourceLoader;

/**
 * Runs the kvmserver as part of the application context's lifecycle.
 *
 * <p>Everything that can be checked without running the program is checked when the bean is
 * created, before the web server starts: the options (after customizers) and the program, which
 * must exist and be an x86-64 ELF executable ({@code classpath:} resources are extracted then).
 * {@link #start()} runs while the context refreshes, after the web server has started and before
 * the application reports that it is ready: it boots the program's template, freezes it when the
 * program waits for connections and starts the request VMs, so that readiness means the guest
 * serves. A failure stops the application with a {@link KvmServerStartupException}, which the
 * failure analyzer explains.
 *
 * <p>While it serves, a watchdog checks every second for a request VM stuck past its limits
 * ({@link StuckVms}) or no request VM left; it then publishes {@link LivenessState#BROKEN} (and
 * {@link LivenessState#CORRECT} again once that is over), so that the liveness probe restarts an
 * application whose server cannot recover.
 *
 * <p>The server stops in {@link #PHASE}, the phase in which the web server shuts down
 * gracefully: request VMs stop accepting, requests in flight may finish within
 * {@code spring.lifecycle.timeout-per-shutdown-phase}, and then the VMs are cut.
 */
public class KvmServerLifecycle
        implements SmartLifecycle, InitializingBean, DisposableBean, ApplicationEventPublisherAware {

    /** The phase of web server graceful shutdown: both servers drain at the same time. */
    public static final int PHASE = SmartLifecycle.DEFAULT_PHASE - 1024;

    private static final Duration WATCHDOG_PERIOD = Duration.ofSeconds(1);

    private static final Log logger = LogFactory.getLog(KvmServerLifecycle.class);

    /** Where the server is in its life, as health reports it. */
    public enum State {

        /** Created; the program has not been booted. */
        NEW,

        /** The program is booting in its template VM. */
        STARTING,

        /** The request VMs serve connections. */
        SERVING,

        /** Requests in flight are finishing; no new connection is taken. */
        STOPPING,

        /** Stopped after serving. */
        STOPPED,

        /** The program could not be started. */
        FAILED;

        /** The state as health details show it: {@code serving}. */
        public String tag() {
            return name().toLowerCase(Locale.ROOT);
        }

    }

    private final ServerNaming naming;

    private final KvmServerSettings settings;

    private final GuestConsole console;

    private final List<KvmServerOptionsCustomizer> customizers;

    private final ResourceLoader resourceLoader;

    private final Duration shutdownTimeout;

    private final Object monitor = new Object();

    private volatile KvmServer server;

    private volatile State state = State.NEW;

    private KvmServerOptions options;

    private GuestFiles files;

    private ApplicationEventPublisher publisher;

    private ScheduledExecutorService watchdog;

    private volatile boolean reportedBroken;

    /**
     * Creates the lifecycle of the default server; nothing runs until {@link #start()}.
     * @param properties the configuration
     * @param console where the guest's stdout and stderr go
     * @param customizers applied to the options after the properties, in order
     * @param resourceLoader resolves {@code classpath:} programs and arguments
     * @param shutdownTimeout how long requests in flight may take to finish on shutdown
     */
    public KvmServerLifecycle(KvmServerProperties properties, GuestConsole console,
            List<KvmServerOptionsCustomizer> customizers, ResourceLoader resourceLoader, Duration shutdownTimeout) {
        this(ServerNaming.DEFAULT, properties, console, customizers, resourceLoader, shutdownTimeout);
    }

    /**
     * Creates the lifecycle of one server; nothing runs until {@link #start()}.
     * @param naming the server's name, and how its properties are named
     * @param settings the server's configuration
     * @param console where the guest's stdout and stderr go
     * @param customizers applied to the options after the properties, in order
     * @param resourceLoader resolves {@code classpath:} programs and arguments
     * @param shutdownTimeout how long requests in flight may take to finish on shutdown
     */
    public KvmServerLifecycle(ServerNaming naming, KvmServerSettings settings, GuestConsole console,
            List<KvmServerOptionsCustomizer> customizers, ResourceLoader resourceLoader, Duration shutdownTimeout) {
        this.naming = naming;
        this.settings = settings;
        this.console = console;
        this.customizers = List.copyOf(customizers);
        this.resourceLoader = resourceLoader;
        this.shutdownTimeout = shutdownTimeout;
    }

    @Override
    public void setApplicationEventPublisher(ApplicationEventPublisher applicationEventPublisher) {
        this.publisher = applicationEventPublisher;
    }

    /** Checks the configuration and the program while the bean is created, before anything serves. */
    @Override
    public void afterPropertiesSet() {
        if (isAutoStartup()) {
            synchronized (this.monitor) {
                prepare();
            }
        }
    }

    /**
     * Resolves the program and its arguments, applies the customizers and checks the result,
     * including that the program is an x86-64 ELF executable.
     */
    private void prepare() {
        if (this.options != null) {
            return;
        }
        GuestFiles guestFiles = new GuestFiles(this.resourceLoader);
        String program = this.settings.getProgram();
        try {
            program = guestFiles.program(program);
            List<String> args = this.settings.getArgs().stream().map(guestFiles::argument).toList();
            Path extracted = guestFiles.directory();
            KvmServerOptions.Builder builder = this.settings.toOptions(program, args,
                    (extracted != null) ? List.of(extracted.toString()) : List.of(), this.naming);
            this.customizers.forEach((customizer) -> customizer.customize(this.naming.name(), builder));
            KvmServerOptions prepared = builder.build();
            ElfFile.read(Path.of(prepared.program()));
            this.options = prepared;
            this.files = guestFiles;
        }
        catch (RuntimeException ex) {
            guestFiles.close();
            this.state = State.FAILED;
            throw new KvmServerStartupException(this.naming, program, routeAddress(), List.of(), ex);
        }
    }

    @Override
    public void start() {
        synchronized (this.monitor) {
            if (this.server != null) {
                return;
            }
            prepare();
            this.state = State.STARTING;
            logger.info(logPrefix() + "starting " + this.options.program() + ", which has "
                    + this.naming.nameOf(Option.MAX_BOOT_TIME) + " " + this.options.maxBootTime().toMillis() / 1000.0
                    + " s to wait for connections");
            BootOutputRecorder recorder = new BootOutputRecorder(this.console);
            try {
                this.server = KvmServer.start(this.options, recorder, hostEnvironment());
                this.state = State.SERVING;
                startWatchdog();
            }
            catch (RuntimeException ex) {
                this.state = State.FAILED;
                String program = this.options.program();
                String routeAddress = this.options.routeAddress();
                release();
                throw new KvmServerStartupException(this.naming, program, routeAddress, recorder.lines(), ex);
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
            this.state = State.STOPPING;
            stopWatchdog();
            if (this.reportedBroken) {
                BrokenServers.recovered(this.publisher, this.naming.name()); // a stopped server is broken no more
                this.reportedBroken = false;
            }
            Duration grace = drainTime(this.shutdownTimeout);
            String program = running.options().program();
            logger.info(logPrefix() + "stopping " + program + ", waiting up to " + grace.toMillis()
                    + " ms for requests in flight");
            running.close(grace);
            this.server = null;
            release();
            this.state = State.STOPPED;
            logger.info(logPrefix() + "stopped " + program + " after " + running.stats().requests() + " request"
                    + ((running.stats().requests() == 1) ? "" : "s"));
        }
    }

    /**
     * Stops the server if it runs, and deletes what was extracted for it: also when the
     * application fails to start after this bean was made (another server's program missing, the
     * web server's port taken), which stops no lifecycle. Found by the review of 2026-12-05
     * (later): the extracted {@code classpath:} program stayed in the temporary directory.
     */
    @Override
    public void destroy() {
        stop();
        synchronized (this.monitor) {
            release();
        }
    }

    /** Deletes extracted files; the next start prepares again. */
    private void release() {
        if (this.files != null) {
            this.files.close();
        }
        this.files = null;
        this.options = null;
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

    /** Where the server is in its life. */
    public State getState() {
        return this.state;
    }

    /** The configured program, as written in {@code kvmserver.program}. */
    public String getProgram() {
        return this.settings.getProgram();
    }

    /** The server's name: {@value ServerNaming#DEFAULT_NAME}, or its key under {@code kvmserver.servers}. */
    public String getName() {
        return this.naming.name();
    }

    /** How the server's properties are named. */
    public ServerNaming getNaming() {
        return this.naming;
    }

    /** The server's configuration. */
    public KvmServerSettings getSettings() {
        return this.settings;
    }

    private String routeAddress() {
        String address = this.settings.getRoute().getAddress();
        return (address != null) ? address : "";
    }

    /** "kvmserver: " for the default server, "kvmserver render: " for a named one. */
    private String logPrefix() {
        return this.naming.isDefault() ? "kvmserver: " : "kvmserver " + this.naming.name() + ": ";
    }

    private void startWatchdog() {
        if (this.publisher == null) {
            return;
        }
        this.watchdog = Executors.newSingleThreadScheduledExecutor((task) -> {
            Thread thread = new Thread(task, "kvmserver-liveness");
            thread.setDaemon(true);
            return thread;
        });
        this.watchdog.scheduleWithFixedDelay(this::checkLiveness, WATCHDOG_PERIOD.toMillis(),
                WATCHDOG_PERIOD.toMillis(), TimeUnit.MILLISECONDS);
    }

    private void stopWatchdog() {
        if (this.watchdog != null) {
            this.watchdog.shutdownNow();
            this.watchdog = null;
        }
    }

    /** Publishes BROKEN while the server cannot recover by itself, CORRECT once it is over. */
    private void checkLiveness() {
        KvmServer running = this.server;
        if (running == null) {
            return;
        }
        List<KvmServer.VmState> stuck = StuckVms.of(running);
        boolean broken = !stuck.isEmpty() || running.aliveVms() == 0;
        // Under the lifecycle's lock, as stop() takes the server's report back: a check still
        // running when the server stops must not report it broken after that.
        synchronized (this.monitor) {
            if (this.server == running) {
                publishLiveness(running, stuck, broken);
            }
        }
    }

    private void publishLiveness(KvmServer running, List<KvmServer.VmState> stuck, boolean broken) {
        if (broken && !this.reportedBroken) {
            logger.error(logPrefix() + (stuck.isEmpty() ? "no request VM is alive"
                    : "request VM " + stuck.get(0).id() + " has run " + stuck.get(0).limitedMillis()
                            + " ms without going back to its wait for clients, past "
                            + StuckVms.threshold(running).toMillis() + " ms")
                    + "; reporting the application's liveness as BROKEN");
            BrokenServers.broken(this.publisher, this.naming.name());
            AvailabilityChangeEvent.publish(this.publisher, this, LivenessState.BROKEN);
            this.reportedBroken = true;
        }
        else if (!broken && this.reportedBroken) {
            this.reportedBroken = false;
            java.util.Set<String> others = BrokenServers.recovered(this.publisher, this.naming.name());
            if (others.isEmpty()) {
                logger.info(logPrefix() + "every request VM is serving again; liveness is CORRECT");
                AvailabilityChangeEvent.publish(this.publisher, this, LivenessState.CORRECT);
            }
            else {
                logger.info(logPrefix() + "every request VM is serving again; liveness stays BROKEN for "
                        + String.join(", ", new java.util.TreeSet<>(others)));
            }
        }
    }

}
