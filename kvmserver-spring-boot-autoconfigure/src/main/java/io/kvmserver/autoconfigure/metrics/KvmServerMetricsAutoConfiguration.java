package io.kvmserver.autoconfigure.metrics;

import io.kvmserver.autoconfigure.KvmServerAutoConfiguration;
import io.kvmserver.autoconfigure.KvmServerLifecycle;
import io.micrometer.core.instrument.MeterRegistry;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.micrometer.metrics.autoconfigure.CompositeMeterRegistryAutoConfiguration;
import org.springframework.boot.micrometer.metrics.autoconfigure.MetricsAutoConfiguration;
import org.springframework.context.annotation.Bean;

/**
 * {@link org.springframework.boot.autoconfigure.EnableAutoConfiguration Auto-configuration} for
 * the kvmserver's Micrometer meters, like Spring Boot's own meter binders: ordered after the
 * meter registries are configured (the composite registry included), and backing off when there
 * is no registry or no Micrometer. The binder is picked up by every meter registry.
 */
@AutoConfiguration(after = { MetricsAutoConfiguration.class, CompositeMeterRegistryAutoConfiguration.class,
        KvmServerAutoConfiguration.class })
@ConditionalOnClass({ MeterRegistry.class, MetricsAutoConfiguration.class })
@ConditionalOnBean({ MeterRegistry.class, KvmServerLifecycle.class })
public final class KvmServerMetricsAutoConfiguration {

    @Bean
    @ConditionalOnMissingBean
    KvmServerMetrics kvmServerMetrics(ObjectProvider<KvmServerLifecycle> lifecycles) {
        return new KvmServerMetrics(lifecycles.orderedStream().toList());
    }

}
