package io.kvmserver.autoconfigure.route;

import io.kvmserver.autoconfigure.KvmServerAutoConfiguration;
import io.kvmserver.autoconfigure.KvmServerLifecycle;
import io.micrometer.observation.ObservationRegistry;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BiConsumer;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.beans.factory.annotation.Qualifier;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnNotWebApplication;
import org.springframework.boot.autoconfigure.condition.ConditionalOnWebApplication;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Conditional;
import org.springframework.context.annotation.Configuration;

/**
 * {@link org.springframework.boot.autoconfigure.EnableAutoConfiguration Auto-configuration} for
 * routes: the requests of the application that match a server's {@code route.paths} are
 * forwarded to a request VM of that server, through the application's filters, by Spring MVC or
 * WebFlux, whichever serves the application. Each route is a request mapping of the application,
 * registered like a controller's: a controller with a more specific pattern wins, the same
 * pattern on both is refused at start (whatever methods the controller takes), and the application's
 * {@code @ControllerAdvice} handles a route's failures ({@link KvmServerRouteException}).
 */
@AutoConfiguration(after = KvmServerAutoConfiguration.class,
        afterName = "org.springframework.boot.micrometer.observation.autoconfigure.ObservationAutoConfiguration")
@ConditionalOnClass(name = "org.eclipse.jetty.client.HttpClient")
@ConditionalOnBean(KvmServerLifecycle.class)
@Conditional(OnKvmServerRouteCondition.class)
public final class KvmServerRouteAutoConfiguration {

    @Bean
    @ConditionalOnMissingBean
    KvmServerRoutes kvmServerRoutes(ObjectProvider<KvmServerLifecycle> lifecycles,
            ObjectProvider<ObservationRegistry> observations,
            ObjectProvider<KvmServerRouteObservationConvention> convention) {
        return new KvmServerRoutes(lifecycles.orderedStream().toList(),
                observations.getIfAvailable(() -> ObservationRegistry.NOOP), convention.getIfAvailable());
    }

    @Configuration(proxyBeanMethods = false)
    @ConditionalOnWebApplication(type = ConditionalOnWebApplication.Type.SERVLET)
    @ConditionalOnClass(name = "org.springframework.web.servlet.DispatcherServlet")
    static class ServletRoutes {

        @Bean
        RouteMappings kvmServerRouteMappings(KvmServerRoutes routes,
                @Qualifier("requestMappingHandlerMapping")
                org.springframework.web.servlet.mvc.method.annotation.RequestMappingHandlerMapping mapping) {
            Map<String, String> mapped = new HashMap<>();
            mapping.getHandlerMethods().forEach((info, method) -> info.getPatternValues()
                .forEach((pattern) -> mapped.putIfAbsent(pattern, method.toString())));
            return RouteMappings.register(routes, mapped, (paths, server) -> mapping.registerMapping(
                    org.springframework.web.servlet.mvc.method.RequestMappingInfo.paths(paths)
                        .options(mapping.getBuilderConfiguration())
                        .build(),
                    new ServletRouteHandler(routes, server), ServletRouteHandler.HANDLE));
        }

        @Bean
        org.springframework.boot.web.servlet.FilterRegistrationBean<CutAnswerErrorFilter> kvmServerCutAnswerErrorFilter() {
            org.springframework.boot.web.servlet.FilterRegistrationBean<CutAnswerErrorFilter> registration =
                    new org.springframework.boot.web.servlet.FilterRegistrationBean<>(new CutAnswerErrorFilter());
            // Tomcat dispatches the error page of a committed response as an include.
            registration.setDispatcherTypes(jakarta.servlet.DispatcherType.ERROR, jakarta.servlet.DispatcherType.INCLUDE);
            registration.setOrder(org.springframework.core.Ordered.HIGHEST_PRECEDENCE);
            return registration;
        }

    }

    @Configuration(proxyBeanMethods = false)
    @ConditionalOnWebApplication(type = ConditionalOnWebApplication.Type.REACTIVE)
    @ConditionalOnClass(name = "org.springframework.web.reactive.DispatcherHandler")
    static class ReactiveRoutes {

        @Bean
        RouteMappings kvmServerRouteMappings(KvmServerRoutes routes,
                @Qualifier("requestMappingHandlerMapping")
                org.springframework.web.reactive.result.method.annotation.RequestMappingHandlerMapping mapping) {
            org.springframework.web.reactive.result.method.RequestMappingInfo.BuilderConfiguration options =
                    new org.springframework.web.reactive.result.method.RequestMappingInfo.BuilderConfiguration();
            options.setPatternParser(mapping.getPathPatternParser());
            Map<String, String> mapped = new HashMap<>();
            mapping.getHandlerMethods().forEach((info, method) -> info.getPatternsCondition().getPatterns()
                .forEach((pattern) -> mapped.putIfAbsent(pattern.getPatternString(), method.toString())));
            return RouteMappings.register(routes, mapped, (paths, server) -> mapping.registerMapping(
                    org.springframework.web.reactive.result.method.RequestMappingInfo.paths(paths)
                        .options(options)
                        .build(),
                    new ReactiveRouteHandler(routes, server), ReactiveRouteHandler.HANDLE));
        }

    }

    /**
     * The path patterns mapped to routes, in the application's request mappings: each route is a
     * request mapping of the application, registered like a controller's handler method.
     *
     * @param paths every route's patterns
     */
    public record RouteMappings(List<String> paths) {

        /**
         * Maps each server's patterns with {@code register}, which the web stack provides, after
         * checking that none is a pattern of the application's own handlers ({@code mapped}, by
         * pattern): the web stack refuses a second mapping only when its methods are the same too,
         * so a route on a GET-only controller's path would silently take its other methods.
         */
        static RouteMappings register(KvmServerRoutes routes, Map<String, String> mapped,
                BiConsumer<String[], RoutedServer> register) {
            for (RoutedServer server : routes.servers()) {
                for (String path : server.paths()) {
                    String handler = mapped.get(path);
                    if (handler != null) {
                        String property = server.property("paths");
                        throw new io.kvmserver.config.InvalidOptionException(io.kvmserver.config.Option.ROUTE_ADDRESS,
                                property, property + " '" + path + "' is also a path of the application's " + handler
                                        + ": a request would go to one or the other by its method; route another"
                                        + " path, or take the controller's mapping off it", null);
                    }
                }
            }
            routes.servers().forEach((server) -> register.accept(server.paths().toArray(String[]::new), server));
            return new RouteMappings(routes.servers().stream().flatMap((server) -> server.paths().stream()).toList());
        }

    }

    /** Routes need a web application to receive requests: a configuration that has none is a mistake. */
    @Configuration(proxyBeanMethods = false)
    @ConditionalOnNotWebApplication
    static class NoWebApplication {

        NoWebApplication() {
            throw new io.kvmserver.config.InvalidOptionException(io.kvmserver.config.Option.ROUTE_ADDRESS,
                    "kvmserver.route.paths",
                    "kvmserver.route.paths needs a web application to take the requests it routes: add"
                            + " spring-boot-starter-webmvc or spring-boot-starter-webflux",
                    null);
        }

    }

}
