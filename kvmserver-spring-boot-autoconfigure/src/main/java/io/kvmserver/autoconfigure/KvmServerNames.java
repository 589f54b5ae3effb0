package io.kvmserver.autoconfigure;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.springframework.boot.context.properties.bind.Bindable;
import org.springframework.boot.context.properties.bind.Binder;
import org.springframework.core.env.Environment;

/**
 * The servers the configuration names, read before the properties are bound (to register a bean
 * for each, and for conditions): their validation is the properties' own, when they are bound.
 */
final class KvmServerNames {

    private KvmServerNames() {
    }

    /** The enabled named servers, in configuration order; none when {@code kvmserver.enabled} is false. */
    static List<String> named(Environment environment) {
        Binder binder = Binder.get(environment);
        if (!binder.bind("kvmserver.enabled", Boolean.class).orElse(true)) {
            return List.of();
        }
        List<String> names = new ArrayList<>();
        for (String name : servers(binder).keySet()) {
            if (binder.bind("kvmserver.servers[" + name + "].enabled", Boolean.class).orElse(true)) {
                names.add(name);
            }
        }
        return names;
    }

    /** Whether any {@code kvmserver.servers.*} key is set. */
    static boolean anyNamed(Environment environment) {
        return !servers(Binder.get(environment)).isEmpty();
    }

    private static Map<String, Object> servers(Binder binder) {
        return binder.bind("kvmserver.servers", Bindable.mapOf(String.class, Object.class)).orElse(Map.of());
    }

}
