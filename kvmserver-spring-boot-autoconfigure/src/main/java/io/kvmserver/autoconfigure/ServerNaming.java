package io.kvmserver.autoconfigure;

import io.kvmserver.config.Option;
import io.kvmserver.config.OptionNaming;
import java.util.regex.Pattern;

/**
 * The Spring names of one server's settings: {@code kvmserver.threads} for the application's
 * default server, {@code kvmserver.servers.render.threads} for the server named {@code render}, so
 * that every message about a setting names the property the user wrote.
 *
 * @param server the server's name, or null for the default server (configured at {@code kvmserver.*})
 */
public record ServerNaming(String server) implements OptionNaming {

    /** The default server's naming: the catalog's Spring properties as they are. */
    public static final ServerNaming DEFAULT = new ServerNaming(null);

    /** The name the default server goes by in health, meters and the endpoint. */
    public static final String DEFAULT_NAME = "default";

    /** What a server's name may be: it appears in property names, bean names and meter tags. */
    private static final Pattern NAME = Pattern.compile("[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?");

    private static final String PREFIX = "kvmserver.";

    /** The naming of the server called {@code name} ({@link #DEFAULT_NAME} for the default server). */
    public static ServerNaming of(String name) {
        return DEFAULT_NAME.equals(name) ? DEFAULT : new ServerNaming(name);
    }

    /** Whether {@code name} may name a server: lower-case letters, digits and inner hyphens. */
    static boolean isValidName(String name) {
        return NAME.matcher(name).matches();
    }

    /** The server's name: its key under {@code kvmserver.servers}, or {@link #DEFAULT_NAME}. */
    public String name() {
        return (this.server != null) ? this.server : DEFAULT_NAME;
    }

    /** Whether this is the default server, configured at {@code kvmserver.*}. */
    public boolean isDefault() {
        return this.server == null;
    }

    /** Where this server's settings are: {@code kvmserver.} or {@code kvmserver.servers.render.}. */
    public String prefix() {
        return (this.server != null) ? PREFIX + "servers." + this.server + "." : PREFIX;
    }

    /** A property of this server, from its path below the prefix: {@code route.paths}. */
    public String property(String relative) {
        return prefix() + relative;
    }

    @Override
    public String nameOf(Option option) {
        return option.springProperty()
            .map((property) -> property(property.substring(PREFIX.length())))
            .orElseGet(option::flag);
    }

    /** The naming the engine's options carry: {@link OptionNaming#SPRING_BOOT} for the default server. */
    OptionNaming forOptions() {
        return isDefault() ? OptionNaming.SPRING_BOOT : this;
    }

}
