package io.kvmserver.autoconfigure;

import io.kvmserver.linux.GuestConsole;
import io.kvmserver.server.KvmServer;
import java.time.Duration;
import java.util.List;
import org.springframework.beans.factory.ListableBeanFactory;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.beans.factory.support.BeanDefinitionRegistry;
import org.springframework.beans.factory.support.RootBeanDefinition;
import org.springframework.boot.SpringBootVersion;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.boot.context.properties.bind.Binder;
import org.springframework.context.EnvironmentAware;
import org.springframework.context.ResourceLoaderAware;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Conditional;
import org.springframework.context.annotation.Import;
import org.springframework.context.annotation.ImportBeanDefinitionRegistrar;
import org.springframework.core.env.Environment;
import org.springframework.core.io.ResourceLoader;
import org.springframework.core.type.AnnotationMetadata;

/**
 * {@link org.springframework.boot.autoconfigure.EnableAutoConfiguration Auto-configuration} for
 * the application's kvmservers: unmodified Linux server executables run in KVM, every
 * connection served by a copy-on-write fork of the program. The default server (configured at
 * {@code kvmserver.*}) is the {@code kvmServerLifecycle} bean; each named server (at
 * {@code kvmserver.servers.<name>.*}) is a {@link KvmServerLifecycle} bean of its own, named
 * {@code kvmServerLifecycle-<name>}.
 */
@AutoConfiguration
@ConditionalOnClass(KvmServer.class)
@ConditionalOnKvmServerEnabled
@EnableConfigurationProperties(KvmServerProperties.class)
@Import(KvmServerAutoConfiguration.NamedServers.class)
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
    @Conditional(OnDefaultKvmServerCondition.class)
    KvmServerLifecycle kvmServerLifecycle(KvmServerProperties properties, GuestConsole console,
            ObjectProvider<KvmServerOptionsCustomizer> customizers, ResourceLoader resourceLoader,
            Environment environment) {
        return new KvmServerLifecycle(properties, console, customizers.orderedStream().toList(), resourceLoader,
                shutdownTimeout(environment));
    }

    static Duration shutdownTimeout(Environment environment) {
        return Binder.get(environment)
            .bind("spring.lifecycle.timeout-per-shutdown-phase", Duration.class)
            .orElse(DEFAULT_SHUTDOWN_TIMEOUT);
    }

    /**
     * Registers a {@link KvmServerLifecycle} bean for each enabled named server: their names are
     * in the configuration, so they are known before any bean is created.
     */
    static final class NamedServers implements ImportBeanDefinitionRegistrar, EnvironmentAware, ResourceLoaderAware {

        private Environment environment;

        private ResourceLoader resourceLoader;

        @Override
        public void setEnvironment(Environment environment) {
            this.environment = environment;
        }

        @Override
        public void setResourceLoader(ResourceLoader resourceLoader) {
            this.resourceLoader = resourceLoader;
        }

        @Override
        public void registerBeanDefinitions(AnnotationMetadata metadata, BeanDefinitionRegistry registry) {
            for (String name : KvmServerNames.named(this.environment)) {
                RootBeanDefinition definition = new RootBeanDefinition(KvmServerLifecycle.class);
                definition.setInstanceSupplier(() -> create(name, (ListableBeanFactory) registry));
                registry.registerBeanDefinition("kvmServerLifecycle-" + name, definition);
            }
        }

        private KvmServerLifecycle create(String name, ListableBeanFactory beans) {
            KvmServerProperties.Server settings = beans.getBean(KvmServerProperties.class).getServers().get(name);
            GuestConsole console = beans.getBeanProvider(GuestConsole.class).getIfAvailable();
            if (console == null || console instanceof Slf4jGuestConsole) {
                // The auto-configured console logs the default server; each named server logs on loggers of its own.
                console = new Slf4jGuestConsole(name, settings.getOutput().getStdoutLevel(),
                        settings.getOutput().getStderrLevel());
            }
            List<KvmServerOptionsCustomizer> customizers = beans.getBeanProvider(KvmServerOptionsCustomizer.class)
                .orderedStream()
                .toList();
            return new KvmServerLifecycle(ServerNaming.of(name), settings, console, customizers, this.resourceLoader,
                    shutdownTimeout(this.environment));
        }

    }

}
