package io.kvmserver.autoconfigure;

import io.kvmserver.linux.GuestConsole;
import io.kvmserver.server.KvmServer;
import java.time.Duration;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.boot.SpringBootVersion;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.boot.context.properties.bind.Binder;
import org.springframework.context.annotation.Bean;
import org.springframework.core.env.Environment;
import org.springframework.core.io.ResourceLoader;

/**
 * {@link org.springframework.boot.autoconfigure.EnableAutoConfiguration Auto-configuration} for
 * a kvmserver: an unmodified Linux server executable run in KVM, every connection served by a
 * copy-on-write fork of it.
 */
@AutoConfiguration
@ConditionalOnClass(KvmServer.class)
@ConditionalOnKvmServerEnabled
@EnableConfigurationProperties(KvmServerProperties.class)
public final class KvmServerAutoConfiguration {

    /** Spring Boot's default of {@code spring.lifecycle.timeout-per-shutdown-phase}. */
    private static final Duration DEFAULT_SHUTDOWN_TIMEOUT = Duration.ofSeconds(30);

    /** Refuses to run on a Spring Boot older than the one the starter is built for. */
    KvmServerAutoConfiguration() {
        UnsupportedSpringBootException.check(SpringBootVersion.getVersion());
    }

    @Bean
    @ConditionalOnMissingBean
    GuestConsole kvmServerGuestConsole(KvmServerProperties properties) {
        return new Slf4jGuestConsole(properties.getOutput().getStdoutLevel(), properties.getOutput().getStderrLevel());
    }

    @Bean
    @ConditionalOnMissingBean
    KvmServerLifecycle kvmServerLifecycle(KvmServerProperties properties, GuestConsole console,
            ObjectProvider<KvmServerOptionsCustomizer> customizers, ResourceLoader resourceLoader,
            Environment environment) {
        Duration shutdownTimeout = Binder.get(environment)
            .bind("spring.lifecycle.timeout-per-shutdown-phase", Duration.class)
            .orElse(DEFAULT_SHUTDOWN_TIMEOUT);
        return new KvmServerLifecycle(properties, console, customizers.orderedStream().toList(), resourceLoader,
                shutdownTimeout);
    }

}
