package io.kvmserver.testing;

import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.LifecycleMethodExecutionExceptionHandler;
import org.junit.jupiter.api.extension.TestExecutionExceptionHandler;
import org.opentest4j.TestAbortedException;

/**
 * Where CI requires KVM ({@code KVMSERVER_REQUIRE_KVM=1}), a test that would skip fails instead:
 * an assumption that does not hold (a missing {@code as}, {@code objcopy}, header or runtime) is a
 * broken CI machine, not a reason to pass with less tested. Registered for every test through
 * {@code META-INF/services} and {@code junit-platform.properties}.
 */
public final class NoSkipsWhenKvmIsRequired implements TestExecutionExceptionHandler,
        LifecycleMethodExecutionExceptionHandler {

    @Override
    public void handleTestExecutionException(ExtensionContext context, Throwable throwable) throws Throwable {
        throw failIfRequired(throwable);
    }

    @Override
    public void handleBeforeAllMethodExecutionException(ExtensionContext context, Throwable throwable)
            throws Throwable {
        throw failIfRequired(throwable);
    }

    @Override
    public void handleBeforeEachMethodExecutionException(ExtensionContext context, Throwable throwable)
            throws Throwable {
        throw failIfRequired(throwable);
    }

    private static Throwable failIfRequired(Throwable throwable) {
        if (throwable instanceof TestAbortedException && KvmCondition.required()) {
            return new AssertionError("KVMSERVER_REQUIRE_KVM=1: this test may not skip, but it would: "
                    + throwable.getMessage(), throwable);
        }
        return throwable;
    }
}
