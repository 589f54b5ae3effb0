package io.kvmserver.autoconfigure.endpoint;

import java.util.HashSet;
import java.util.Set;
import org.springframework.boot.actuate.endpoint.Show;
import org.springframework.boot.context.properties.ConfigurationProperties;

/**
 * Configuration of the {@code kvmserver} endpoint: when it shows values that may be sensitive
 * (the program's arguments, the last failure), as Spring Boot's {@code env} and
 * {@code configprops} endpoints do.
 */
@ConfigurationProperties("management.endpoint.kvmserver")
public class KvmServerEndpointProperties {

    /**
     * When to show the program's arguments and the last failure unsanitized; otherwise they are
     * replaced by '******'.
     */
    private Show showValues = Show.NEVER;

    /**
     * Roles used to determine whether a user is authorized to be shown unsanitized values. When
     * empty, all authenticated users are authorized.
     */
    private final Set<String> roles = new HashSet<>();

    public Show getShowValues() {
        return this.showValues;
    }

    public void setShowValues(Show showValues) {
        this.showValues = showValues;
    }

    public Set<String> getRoles() {
        return this.roles;
    }

}
