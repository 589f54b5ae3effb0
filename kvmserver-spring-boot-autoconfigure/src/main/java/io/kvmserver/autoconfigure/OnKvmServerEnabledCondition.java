package io.kvmserver.autoconfigure;

import org.springframework.boot.autoconfigure.condition.ConditionMessage;
import org.springframework.boot.autoconfigure.condition.ConditionOutcome;
import org.springframework.boot.autoconfigure.condition.SpringBootCondition;
import org.springframework.context.annotation.ConditionContext;
import org.springframework.core.env.Environment;
import org.springframework.core.type.AnnotatedTypeMetadata;

/** The condition behind {@link ConditionalOnKvmServerEnabled}. */
class OnKvmServerEnabledCondition extends SpringBootCondition {

    @Override
    public ConditionOutcome getMatchOutcome(ConditionContext context, AnnotatedTypeMetadata metadata) {
        ConditionMessage.Builder message = ConditionMessage.forCondition(ConditionalOnKvmServerEnabled.class);
        Environment environment = context.getEnvironment();
        Boolean enabled = environment.getProperty("kvmserver.enabled", Boolean.class);
        if (enabled != null) {
            return new ConditionOutcome(enabled, message.because("kvmserver.enabled is " + enabled));
        }
        if (environment.containsProperty("kvmserver.program")) {
            return ConditionOutcome.match(message.because("kvmserver.program is set"));
        }
        if (KvmServerNames.anyNamed(environment)) {
            return ConditionOutcome.match(message.because("kvmserver.servers is set"));
        }
        return ConditionOutcome.noMatch(
                message.because("neither kvmserver.program, kvmserver.servers nor kvmserver.enabled is set"));
    }

}
