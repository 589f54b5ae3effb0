package io.kvmserver.autoconfigure.health;

import io.kvmserver.autoconfigure.KvmServerAutoConfiguration;
import io.kvmserver.autoconfigure.KvmServerLifecycle;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.health.autoconfigure.contributor.ConditionalOnEnabledHealthIndicator;
import org.springframework.boot.health.contributor.HealthIndicator;
import org.springframework.context.annotation.Bean;

/**
 * {@link org.springframework.boot.autoconfigure.EnableAutoConfiguration Auto-configuration} for
 * the {@code kvmserver} health indicator; {@code management.health.kvmserver.enabled=false}
 * turns it off.
 */
@AutoConfiguration(after = KvmServerAutoConfiguration.class)
@ConditionalOnClass(HealthIndicator.class)
@ConditionalOnBean(KvmServerLifecycle.class)
@ConditionalOnEnabledHealthIndicator("kvmserver")
public final class KvmServerHealthContributorAutoConfiguration {

    @Bean
    @ConditionalOnMissingBean(name = "kvmserverHealthIndicator")
    KvmServerHealthIndicator kvmserverHealthIndicator(KvmServerLifecycle lifecycle) {
        return new KvmServerHealthIndicator(lifecycle);
    }

}
