package io.kvmserver.testing;

import io.kvmserver.kvm.Kvm;
import io.kvmserver.kvm.KvmException;
import org.junit.jupiter.api.extension.ConditionEvaluationResult;
import org.junit.jupiter.api.extension.ExecutionCondition;
import org.junit.jupiter.api.extension.ExtensionContext;

/** The condition behind {@link RequiresKvm}. */
public final class KvmCondition implements ExecutionCondition {

    private static final String REQUIRE = "KVMSERVER_REQUIRE_KVM";

    public static boolean required() {
        return "1".equals(System.getenv(REQUIRE)) || "true".equalsIgnoreCase(System.getenv(REQUIRE));
    }

    @Override
    public ConditionEvaluationResult evaluateExecutionCondition(ExtensionContext context) {
        String problem = null;
        try (Kvm ignored = Kvm.open()) {
            return ConditionEvaluationResult.enabled("/dev/kvm is available");
        } catch (KvmException e) {
            problem = e.getMessage();
        }
        if (required()) {
            // Run the test anyway: it fails at its first KVM call with the reason.
            return ConditionEvaluationResult.enabled(REQUIRE + "=1 and KVM is unusable: " + problem);
        }
        return ConditionEvaluationResult.disabled("skipped: KVM is not usable on this machine (" + problem
                + "); set " + REQUIRE + "=1 to make this a failure");
    }
}
