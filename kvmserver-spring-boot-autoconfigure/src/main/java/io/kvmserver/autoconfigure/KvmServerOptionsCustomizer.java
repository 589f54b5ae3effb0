package io.kvmserver.autoconfigure;

import io.kvmserver.config.KvmServerOptions;

/**
 * Changes the engine options after the {@code kvmserver.*} properties have been applied, for
 * settings that are computed rather than configured (a port found at runtime, a path from
 * another bean). Every bean of this type is applied to every server, in
 * {@link org.springframework.core.Ordered order}; the engine validates the result. A customizer
 * that concerns one server only overrides {@link #customize(String, KvmServerOptions.Builder)}.
 */
@FunctionalInterface
public interface KvmServerOptionsCustomizer {

    /**
     * Customizes the options.
     * @param builder the builder, holding the options from the properties
     */
    void customize(KvmServerOptions.Builder builder);

    /**
     * Customizes the options of one server; by default as {@link #customize(KvmServerOptions.Builder)}.
     * @param server the server's name: {@value ServerNaming#DEFAULT_NAME}, or its key under
     * {@code kvmserver.servers}
     * @param builder the builder, holding the options from the properties
     */
    default void customize(String server, KvmServerOptions.Builder builder) {
        customize(builder);
    }

}
