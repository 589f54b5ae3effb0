package io.kvmserver.autoconfigure.testing;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Marks a test that needs {@code /dev/kvm}. Without KVM it is skipped with a message that says
 * so, unless {@code KVMSERVER_REQUIRE_KVM=1}: then it runs and fails loudly instead of hiding.
 */
@Target({ ElementType.TYPE, ElementType.METHOD })
@Retention(RetentionPolicy.RUNTIME)
@ExtendWith(KvmCondition.class)
public @interface RequiresKvm {

}
