package io.kvmserver.autoconfigure;

import io.kvmserver.config.InvalidOptionException;
import io.kvmserver.config.Option;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.springframework.boot.context.properties.bind.UnboundConfigurationPropertiesException;
import org.springframework.boot.context.properties.source.ConfigurationProperty;
import org.springframework.boot.context.properties.source.ConfigurationPropertyName;
import org.springframework.boot.context.properties.source.ConfigurationPropertySource;
import org.springframework.boot.context.properties.source.ConfigurationPropertySources;
import org.springframework.boot.diagnostics.FailureAnalysis;
import org.springframework.boot.diagnostics.FailureAnalyzer;
import org.springframework.core.Ordered;
import org.springframework.core.env.Environment;

/**
 * Explains a kvmserver configuration that the application cannot start with: a property with a
 * value the engine refuses (named by its property, with where it was set), an unknown
 * {@code kvmserver.*} key (with the property that was probably meant), or a Spring Boot version
 * the starter does not support. It runs before Spring Boot's own binding analyzers, whose
 * generic text it replaces for these cases.
 */
class KvmServerConfigurationFailureAnalyzer implements FailureAnalyzer, Ordered {

    private static final String PREFIX = "kvmserver.";

    private static final String VOLUMES = "kvmserver.permissions.volumes";

    private final Environment environment;

    KvmServerConfigurationFailureAnalyzer(Environment environment) {
        this.environment = environment;
    }

    @Override
    public int getOrder() {
        return Ordered.HIGHEST_PRECEDENCE;
    }

    @Override
    public FailureAnalysis analyze(Throwable failure) {
        UnsupportedSpringBootException unsupported = findCause(failure, UnsupportedSpringBootException.class);
        if (unsupported != null) {
            return new FailureAnalysis(unsupported.getMessage() + ".",
                    "Upgrade the application to Spring Boot " + UnsupportedSpringBootException.REQUIRED_MAJOR
                            + ", or use the kvmserver engine (io.kvmserver:kvmserver-engine) directly, without the"
                            + " starter.",
                    unsupported);
        }
        InvalidOptionException invalid = findCause(failure, InvalidOptionException.class);
        if (invalid != null) {
            String property = invalid.settingName()
                .orElseGet(() -> invalid.option().springProperty().orElse(invalid.option().flag()));
            return new FailureAnalysis("Invalid kvmserver configuration: " + invalid.getMessage() + "."
                    + origin(property).map((origin) -> "\n\n" + property + " is set in " + origin + ".").orElse(""),
                    "Change " + property + " (or the KvmServerOptionsCustomizer that sets it). Every kvmserver"
                            + " property, its default and its unit is listed in the README.",
                    invalid);
        }
        UnboundConfigurationPropertiesException unbound = findCause(failure,
                UnboundConfigurationPropertiesException.class);
        if (unbound != null) {
            List<ConfigurationProperty> unknown = unbound.getUnboundProperties()
                .stream()
                .filter((property) -> property.getName().toString().startsWith(PREFIX))
                .toList();
            if (!unknown.isEmpty()) {
                return analyzeUnknown(unknown, unbound);
            }
        }
        return null;
    }

    private FailureAnalysis analyzeUnknown(List<ConfigurationProperty> unknown, Throwable cause) {
        StringBuilder description = new StringBuilder();
        List<String> suggestions = new ArrayList<>();
        for (ConfigurationProperty property : unknown) {
            String name = property.getName().toString();
            if (suggest(name).filter(name::equals).isPresent()) {
                // Spring leaves a known key with an empty value unbound, and it comes here as unknown.
                description.append((description.length() > 0) ? "\n" : "")
                    .append(name)
                    .append(" has no value")
                    .append((property.getOrigin() != null) ? " (set in " + property.getOrigin() + ")" : "")
                    .append('.');
                suggestions.add("Give " + name + " a value, or remove the key to take its default.");
                continue;
            }
            description.append((description.length() > 0) ? "\n" : "")
                .append(name)
                .append(" is not a kvmserver property")
                .append((property.getOrigin() != null) ? " (set in " + property.getOrigin() + ")" : "")
                .append('.');
            suggest(name).ifPresent((known) -> suggestions.add("Did you mean " + known + " instead of " + name + "?"));
        }
        if (description.indexOf(" is not a kvmserver property") >= 0) {
            description.append("\nkvmserver refuses unknown keys, because a misspelt permission or limit must not go"
                    + " unnoticed.");
        }
        return new FailureAnalysis(description.toString(), String.join(" ", suggestions)
                + ((suggestions.isEmpty()) ? "" : " ")
                + "Correct or remove the key; the README lists every kvmserver property.", cause);
    }

    /**
     * The known property that {@code name} most likely misspells, if one is close enough; for a
     * named server's key, the same property of that server.
     */
    static Optional<String> suggest(String name) {
        String servers = PREFIX + "servers.";
        int dot = name.indexOf('.', servers.length());
        if (name.startsWith(servers) && dot > 0) {
            String server = name.substring(servers.length(), dot);
            return suggestSetting(PREFIX + name.substring(dot + 1))
                .filter((known) -> !known.equals(PREFIX + "servers"))
                .map((known) -> servers + server + "." + known.substring(PREFIX.length()));
        }
        return suggestSetting(name);
    }

    private static Optional<String> suggestSetting(String name) {
        String normalized = name.replaceAll("\\[\\d+\\]", "");
        String lastSegment = normalized.substring(normalized.lastIndexOf('.') + 1);
        List<String> known = knownProperties();
        Optional<String> sameLastSegment = known.stream()
            .filter((candidate) -> candidate.endsWith("." + lastSegment))
            .findFirst();
        if (sameLastSegment.isPresent()) {
            return sameLastSegment;
        }
        return known.stream()
            .min(Comparator.comparingInt((String candidate) -> distance(candidate, normalized)))
            .filter((candidate) -> distance(candidate, normalized) <= Math.max(2, normalized.length() / 6));
    }

    private static List<String> knownProperties() {
        return Stream.of(Arrays.stream(Option.values()).flatMap((option) -> option.springProperty().stream()),
                KvmServerProperties.SPRING_ONLY.stream(),
                Stream.of(VOLUMES + ".host", VOLUMES + ".guest", VOLUMES + ".mode"))
            .flatMap((names) -> names)
            .collect(Collectors.toList());
    }

    /** Levenshtein distance. */
    private static int distance(String a, String b) {
        int[] previous = new int[b.length() + 1];
        int[] current = new int[b.length() + 1];
        for (int j = 0; j <= b.length(); j++) {
            previous[j] = j;
        }
        for (int i = 1; i <= a.length(); i++) {
            current[0] = i;
            for (int j = 1; j <= b.length(); j++) {
                int substitution = previous[j - 1] + ((a.charAt(i - 1) == b.charAt(j - 1)) ? 0 : 1);
                current[j] = Math.min(substitution, Math.min(previous[j], current[j - 1]) + 1);
            }
            int[] swap = previous;
            previous = current;
            current = swap;
        }
        return previous[b.length()];
    }

    /** Where {@code property} (or its first list element) was set, when the environment knows. */
    private Optional<String> origin(String property) {
        if (this.environment == null || !ConfigurationPropertyName.isValid(property)) {
            return Optional.empty();
        }
        for (ConfigurationPropertySource source : ConfigurationPropertySources.get(this.environment)) {
            for (String candidate : List.of(property, property + "[0]")) {
                ConfigurationProperty found = source.getConfigurationProperty(ConfigurationPropertyName.of(candidate));
                if (found != null && found.getOrigin() != null) {
                    return Optional.of(found.getOrigin().toString());
                }
            }
        }
        return Optional.empty();
    }

    static <T extends Throwable> T findCause(Throwable failure, Class<T> type) {
        for (Throwable candidate = failure; candidate != null; candidate = candidate.getCause()) {
            if (type.isInstance(candidate)) {
                return type.cast(candidate);
            }
        }
        return null;
    }

}
