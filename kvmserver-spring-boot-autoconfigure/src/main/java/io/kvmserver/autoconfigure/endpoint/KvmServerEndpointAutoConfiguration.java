package io.kvmserver.autoconfigure.endpoint;

import io.kvmserver.autoconfigure.KvmServerAutoConfiguration;
import io.kvmserver.autoconfigure.KvmServerLifecycle;
import org.springframework.boot.actuate.autoconfigure.endpoint.condition.ConditionalOnAvailableEndpoint;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.boot.actuate.endpoint.SanitizingFunction;
import org.springframework.context.annotation.Bean;

/**
 * {@link org.springframework.boot.autoconfigure.EnableAutoConfiguration Auto-configuration} for
 * the {@code kvmserver} Actuator endpoint. Like every endpoint it is only exposed over HTTP when
 * listed in {@code management.endpoints.web.exposure.include}; sensitive values follow
 * {@code management.endpoint.kvmserver.show-values}.
 */
@AutoConfiguration(after = KvmServerAutoConfiguration.class)
@ConditionalOnClass(ConditionalOnAvailableEndpoint.class)
@ConditionalOnBean(KvmServerLifecycle.class)
@ConditionalOnAvailableEndpoint(KvmServerEndpoint.class)
@EnableConfigurationProperties(KvmServerEndpointProperties.class)
public final class KvmServerEndpointAutoConfiguration {

    @Bean
    @ConditionalOnMissingBean
    KvmServerEndpoint kvmServerEndpoint(ObjectProvider<KvmServerLifecycle> lifecycles,
            KvmServerEndpointProperties properties, ObjectProvider<SanitizingFunction> sanitizingFunctions) {
        return new KvmServerEndpoint(lifecycles.orderedStream().toList(), sanitizingFunctions.orderedStream().toList(),
                properties.getShowValues(), properties.getRoles());
    }

}
