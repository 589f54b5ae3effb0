package io.kvmserver.autoconfigure;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import io.kvmserver.autoconfigure.testing.GuestPrograms;
import io.kvmserver.autoconfigure.testing.RequiresKvm;
import io.kvmserver.kvm.KvmUnavailableException;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.boot.WebApplicationType;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.boot.diagnostics.FailureAnalysis;
import org.springframework.context.annotation.Configuration;
import org.springframework.context.annotation.Import;

/**
 * The failure analysis of each start failure, from real failed application starts (except for a
 * missing /dev/kvm, which a test cannot arrange on a machine that has one).
 */
class KvmServerFailureAnalyzerTests {

    private final KvmServerFailureAnalyzer analyzer = new KvmServerFailureAnalyzer();

    @Test
    void noKvm() {
        KvmServerStartupException failure = new KvmServerStartupException("/srv/server", List.of(),
                new KvmUnavailableException("no permission to open /dev/kvm: add the user to the 'kvm' group", 13));
        FailureAnalysis analysis = this.analyzer.analyze(new IllegalStateException("start failed", failure));
        assertThat(analysis.getDescription()).contains("kvmserver needs KVM", "no permission to open /dev/kvm");
        assertThat(analysis.getAction()).contains("'kvm' group", "--device /dev/kvm", "kvmserver.enabled=false");
    }

    @Test
    void programNotFound() {
        FailureAnalysis analysis = analyzeStart("kvmserver.program=/nonexistent/server");
        assertThat(analysis.getDescription()).contains("/nonexistent/server was not found");
        assertThat(analysis.getAction()).contains("Set kvmserver.program to an existing executable");
    }

    @Test
    void classpathProgramNotFound() {
        FailureAnalysis analysis = analyzeStart("kvmserver.program=classpath:guest/missing");
        assertThat(analysis.getDescription()).contains("classpath:guest/missing does not exist");
        assertThat(analysis.getAction()).contains("Set kvmserver.program to an existing executable");
    }

    @Test
    void programIsNotAnElfExecutable(@TempDir Path dir) throws IOException {
        Path script = Files.writeString(dir.resolve("server.py"), "print('hello')\n");
        FailureAnalysis analysis = analyzeStart("kvmserver.program=" + script);
        assertThat(analysis.getDescription()).contains(script + " cannot be run");
        assertThat(analysis.getAction()).contains("x86-64 Linux ELF", "kvmserver.args");
    }

    @Test
    @RequiresKvm
    void programExitsBeforeWaiting() {
        FailureAnalysis analysis = analyzeStart("kvmserver.program=" + GuestPrograms.notAServer(),
                "kvmserver.limits.max-main-memory=256MB");
        assertThat(analysis.getDescription()).contains("exited with status 3 before it waited for connections",
                "Last output of the program:", "not a server after all");
        assertThat(analysis.getAction()).contains("listen and wait for connections");
    }

    @Test
    @RequiresKvm
    void programTimesOutBeforeWaiting() {
        FailureAnalysis analysis = analyzeStart("kvmserver.program=" + GuestPrograms.bootLoop(),
                "kvmserver.limits.max-boot-time=500ms", "kvmserver.limits.max-main-memory=256MB");
        assertThat(analysis.getDescription()).contains("did not wait for connections within --max-boot-time");
        assertThat(analysis.getAction()).contains("Raise kvmserver.limits.max-boot-time");
    }

    @Test
    @RequiresKvm
    void listenAddressDenied() {
        int port = GuestPrograms.freePort();
        FailureAnalysis analysis = analyzeStart("kvmserver.program=" + GuestPrograms.httpServer(),
                "kvmserver.args=" + port, "kvmserver.limits.max-main-memory=256MB");
        assertThat(analysis.getDescription()).contains("denied", "bind: Permission denied");
        assertThat(analysis.getAction()).contains("kvmserver.permissions.allow-listen");
    }

    @Test
    @RequiresKvm
    void listenAddressInUse() throws IOException {
        try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            int port = taken.getLocalPort();
            FailureAnalysis analysis = analyzeStart("kvmserver.program=" + GuestPrograms.httpServer(),
                    "kvmserver.args=" + port, "kvmserver.permissions.allow-listen=127.0.0.1:" + port,
                    "kvmserver.limits.max-main-memory=256MB");
            assertThat(analysis.getDescription()).contains("already in use", "bind: Address already in use");
            assertThat(analysis.getAction()).contains("ss -ltnp");
        }
    }

    private FailureAnalysis analyzeStart(String... properties) {
        Throwable failure = catchThrowable(() -> new SpringApplicationBuilder(Application.class)
            .web(WebApplicationType.NONE)
            .properties(properties)
            .properties("spring.main.banner-mode=off")
            .run()
            .close());
        assertThat(failure).as("the application must fail to start").isNotNull();
        FailureAnalysis analysis = this.analyzer.analyze(failure);
        assertThat(analysis).as("analysis of %s", failure).isNotNull();
        return analysis;
    }

    @Configuration(proxyBeanMethods = false)
    @Import(KvmServerAutoConfiguration.class)
    static class Application {

    }

}
