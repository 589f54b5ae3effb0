package io.kvmserver.config;

/**
 * How the people who configured a server name its settings, so that every message the engine
 * writes about a setting uses their words: a command-line user reads {@code --max-request-time},
 * a Spring Boot user reads {@code kvmserver.limits.max-request-time}. The engine never spells a
 * setting itself; it asks {@link KvmServerOptions#nameOf(Option)}.
 */
@FunctionalInterface
public interface OptionNaming {

    /** The command line's flags ({@code --threads}), which are also the configuration file's keys. */
    OptionNaming COMMAND_LINE = Option::flag;

    /**
     * Spring Boot's properties ({@code kvmserver.threads}); a setting without a property (only
     * {@code --print-config}) keeps its flag.
     */
    OptionNaming SPRING_BOOT = option -> option.springProperty().orElseGet(option::flag);

    /** The name of {@code option} as its users write it. */
    String nameOf(Option option);
}
