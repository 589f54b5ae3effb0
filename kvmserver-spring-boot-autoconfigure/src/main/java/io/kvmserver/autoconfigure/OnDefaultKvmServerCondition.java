package io.kvmserver.autoconfigure;

import org.springframework.boot.autoconfigure.condition.ConditionMessage;
import org.springframework.boot.autoconfigure.condition.ConditionOutcome;
import org.springframework.boot.autoconfigure.condition.SpringBootCondition;
import org.springframework.context.annotation.ConditionContext;
import org.springframework.core.type.AnnotatedTypeMetadata;

/**
 * Whether the settings at {@code kvmserver.*} configure a server: {@code kvmserver.program} is
 * set, or no named server is (then the missing program is the mistake the properties report).
 * See {@link KvmServerProperties#hasDefaultServer()}.
 */
class OnDefaultKvmServerCondition extends SpringBootCondition {

    @Override
    public ConditionOutcome getMatchOutcome(ConditionContext context, AnnotatedTypeMetadata metadata) {
        ConditionMessage.Builder message = ConditionMessage.forCondition("default kvmserver");
        if (context.getEnvironment().containsProperty("kvmserver.program")) {
            return ConditionOutcome.match(message.because("kvmserver.program is set"));
        }
        if (!KvmServerNames.anyNamed(context.getEnvironment())) {
            return ConditionOutcome.match(message.because("no named server is configured"));
        }
        return ConditionOutcome.noMatch(message.because("only named servers are configured"));
    }

}
