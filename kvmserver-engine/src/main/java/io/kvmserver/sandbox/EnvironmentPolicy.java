package io.kvmserver.sandbox;

import io.kvmserver.config.KvmServerOptions;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Builds the guest's environment, which by default holds nothing of the host's: host variables
 * can carry secrets (tokens, database passwords) that a hostile program must not read.
 *
 * <ul>
 *   <li>{@code --allow-env=NAME} passes the host's value of {@code NAME};
 *       {@code PREFIX_*} every host variable whose name starts with {@code PREFIX_};
 *       {@code *} (or {@code --allow-env} alone, or {@code --allow-all}) every variable;</li>
 *   <li>{@code --env NAME=VALUE} sets a variable explicitly and wins over a passed one;
 *       of two {@code --env} for one name, the later wins;</li>
 *   <li>{@code USER=nobody} is added when no {@code USER} was passed or set.</li>
 * </ul>
 *
 * <p>Passed variables come in name order and explicit ones after them, so the guest's
 * environment does not depend on the iteration order of the host's map.
 */
public final class EnvironmentPolicy {

    private final boolean passAll;
    private final List<String> names;
    private final List<String> prefixes;
    private final List<String> explicit;

    public EnvironmentPolicy(KvmServerOptions options) {
        List<String> allowEnv = options.allowEnv();
        passAll = options.allowAll() || allowEnv.contains("*");
        names = allowEnv.stream().filter(p -> !p.endsWith("*")).toList();
        prefixes = allowEnv.stream().filter(p -> p.endsWith("*")).map(p -> p.substring(0, p.length() - 1)).toList();
        explicit = options.env();
    }

    /** True if the host's variable {@code name} is passed to the guest. */
    public boolean passes(String name) {
        return passAll || names.contains(name) || prefixes.stream().anyMatch(name::startsWith);
    }

    /**
     * The guest's environment as {@code NAME=VALUE} strings, ready for the initial stack.
     *
     * @param hostEnv the host's environment, such as {@link System#getenv()}
     */
    public List<String> guestEnvironment(Map<String, String> hostEnv) {
        Map<String, String> env = new LinkedHashMap<>();
        new TreeMap<>(hostEnv).forEach((name, value) -> {
            if (passes(name)) {
                env.put(name, value);
            }
        });
        for (String assignment : explicit) {
            int equals = assignment.indexOf('=');
            String name = assignment.substring(0, equals);
            env.remove(name);
            env.put(name, assignment.substring(equals + 1));
        }
        env.putIfAbsent("USER", "nobody");
        List<String> result = new ArrayList<>(env.size());
        env.forEach((name, value) -> result.add(name + "=" + value));
        return List.copyOf(result);
    }
}
