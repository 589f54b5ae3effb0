package io.kvmserver.autoconfigure.route;

import java.util.List;
import java.util.Map;
import org.springframework.boot.autoconfigure.condition.ConditionMessage;
import org.springframework.boot.autoconfigure.condition.ConditionOutcome;
import org.springframework.boot.autoconfigure.condition.SpringBootCondition;
import org.springframework.boot.context.properties.bind.Bindable;
import org.springframework.boot.context.properties.bind.Binder;
import org.springframework.context.annotation.ConditionContext;
import org.springframework.core.type.AnnotatedTypeMetadata;

/** Whether any server has routes: {@code kvmserver.route.paths} or {@code kvmserver.servers.<name>.route.paths}. */
class OnKvmServerRouteCondition extends SpringBootCondition {

    @Override
    public ConditionOutcome getMatchOutcome(ConditionContext context, AnnotatedTypeMetadata metadata) {
        ConditionMessage.Builder message = ConditionMessage.forCondition("kvmserver routes");
        Binder binder = Binder.get(context.getEnvironment());
        if (!paths(binder, "kvmserver.route.paths").isEmpty()) {
            return ConditionOutcome.match(message.because("kvmserver.route.paths is set"));
        }
        Map<String, Object> servers = binder.bind("kvmserver.servers", Bindable.mapOf(String.class, Object.class))
            .orElse(Map.of());
        for (String name : servers.keySet()) {
            if (!paths(binder, "kvmserver.servers[" + name + "].route.paths").isEmpty()) {
                return ConditionOutcome.match(message.because("kvmserver.servers." + name + ".route.paths is set"));
            }
        }
        return ConditionOutcome.noMatch(message.because("no server has route paths"));
    }

    private static List<String> paths(Binder binder, String property) {
        return binder.bind(property, Bindable.listOf(String.class)).orElse(List.of());
    }

}
