package io.kvmserver.autoconfigure.route;

import io.micrometer.observation.Observation;
import io.micrometer.observation.ObservationConvention;

/**
 * The names and key values of the observations of routed requests; define a bean of this type
 * to change them (see {@link DefaultKvmServerRouteObservationConvention}).
 */
public interface KvmServerRouteObservationConvention extends ObservationConvention<KvmServerRouteObservationContext> {

    @Override
    default boolean supportsContext(Observation.Context context) {
        return context instanceof KvmServerRouteObservationContext;
    }

}
