package io.kvmserver.benchmarks;

/** An empty main class: the JVM start-up baseline for the CLI row of {@link EngineBenchmarks}. */
public final class NoOp {

    private NoOp() {
    }

    public static void main(String[] args) {
    }
}
