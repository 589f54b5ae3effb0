package io.kvmserver.autoconfigure.metrics;

import io.kvmserver.autoconfigure.KvmServerAutoConfiguration;
import io.kvmserver.autoconfigure.KvmServerLifecycle;
import io.micrometer.core.instrument.binder.MeterBinder;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.context.annotation.Bean;

/**
 * {@link org.springframework.boot.autoconfigure.EnableAutoConfiguration Auto-configuration} for
 * the kvmserver's Micrometer meters. The binder is picked up by every meter registry Spring Boot
 * configures.
 */
@AutoConfiguration(after = KvmServerAutoConfiguration.class)
@ConditionalOnClass(MeterBinder.class)
@ConditionalOnBean(KvmServerLifecycle.class)
public final class KvmServerMetricsAutoConfiguration {

    @Bean
    @ConditionalOnMissingBean
    KvmServerMetrics kvmServerMetrics(KvmServerLifecycle lifecycle) {
        return new KvmServerMetrics(lifecycle);
    }

}
