package io.kvmserver.autoconfigure;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import org.springframework.context.annotation.Conditional;

/**
 * Matches when the application wants a kvmserver: {@code kvmserver.enabled} is true, or it is
 * unset and {@code kvmserver.program} or a named server ({@code kvmserver.servers.*}) is set.
 * Adding the starter alone therefore changes nothing until a program is configured, and
 * {@code kvmserver.enabled=false} switches the configured servers off (for example in a profile
 * for machines without KVM).
 */
@Target({ ElementType.TYPE, ElementType.METHOD })
@Retention(RetentionPolicy.RUNTIME)
@Documented
@Conditional(OnKvmServerEnabledCondition.class)
public @interface ConditionalOnKvmServerEnabled {

}
