package io.kvmserver.autoconfigure;

import io.kvmserver.config.KvmServerOptions;

/**
 * Changes the engine options after the {@code kvmserver.*} properties have been applied, for
 * settings that are computed rather than configured (a port found at runtime, a path from
 * another bean). Every bean of this type is applied, in {@link org.springframework.core.Ordered
 * order}; the engine validates the result.
 */
@FunctionalInterface
public interface KvmServerOptionsCustomizer {

    /**
     * Customizes the options.
     * @param builder the builder, holding the options from the properties
     */
    void customize(KvmServerOptions.Builder builder);

}
