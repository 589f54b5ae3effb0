package io.kvmserver.autoconfigure.health;

import io.kvmserver.autoconfigure.KvmServerAutoConfiguration;
import io.kvmserver.autoconfigure.KvmServerLifecycle;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.health.autoconfigure.contributor.ConditionalOnEnabledHealthIndicator;
import org.springframework.boot.health.contributor.CompositeHealthContributor;
import org.springframework.boot.health.contributor.HealthContributor;
import org.springframework.boot.health.contributor.HealthIndicator;
import org.springframework.context.annotation.Bean;

/**
 * {@link org.springframework.boot.autoconfigure.EnableAutoConfiguration Auto-configuration} for
 * the {@code kvmserver} health contributor: the default server's indicator when it is the only
 * server, otherwise one indicator per server under {@code kvmserver} ({@code kvmserver/render}).
 * {@code management.health.kvmserver.enabled=false} turns it off.
 */
@AutoConfiguration(after = KvmServerAutoConfiguration.class)
@ConditionalOnClass(HealthIndicator.class)
@ConditionalOnBean(KvmServerLifecycle.class)
@ConditionalOnEnabledHealthIndicator("kvmserver")
public final class KvmServerHealthContributorAutoConfiguration {

    @Bean
    @ConditionalOnMissingBean(name = { "kvmserverHealthIndicator", "kvmserverHealthContributor" })
    HealthContributor kvmserverHealthContributor(ObjectProvider<KvmServerLifecycle> lifecycles) {
        List<KvmServerLifecycle> servers = lifecycles.orderedStream().toList();
        if (servers.size() == 1 && servers.get(0).getNaming().isDefault()) {
            return new KvmServerHealthIndicator(servers.get(0));
        }
        Map<String, HealthContributor> byName = new LinkedHashMap<>();
        servers.forEach((server) -> byName.put(server.getName(), new KvmServerHealthIndicator(server)));
        return CompositeHealthContributor.fromMap(byName);
    }

}
