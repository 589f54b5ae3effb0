#!/usr/bin/env bash
# The C server, python3 asyncio and nginx, ephemeral with threads=1, pinned, once per JVM collector
# (Serial, G1, Parallel, ZGC), each in a JVM of its own: does the collector matter for a request?
# Needs a built harness and guests (run.sh once). Results on stdout (docs/benchmarks.md, "The JVM's
# collector"). Knobs: REQUESTS (4000), WARMUP (1000), MAX_SECONDS (12), PIN_CPU (0), KVMSERVER_MVN_LOCK.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
# shellcheck source=with-lock.sh
. "$ROOT/kvmserver-benchmarks/with-lock.sh"
hold_lock "$ROOT/kvmserver-benchmarks/collectors.sh" "$@"

B="$ROOT/kvmserver-benchmarks"
cd "$ROOT"
for gc in "-XX:+UseSerialGC -Xms256m -Xmx256m" "-XX:+UseG1GC" "-XX:+UseParallelGC -Xms256m -Xmx256m" \
    "-XX:+UseZGC -Xmx1g"; do
  echo "### JVM: $gc"
  # shellcheck disable=SC2086 # the collector's flags are words
  taskset -c "${PIN_CPU:-0}" java $gc -Dorg.slf4j.simpleLogger.defaultLogLevel=warn \
    -cp "$B/target/kvmserver-benchmarks.jar" io.kvmserver.benchmarks.ServerBenchmarks --root "$ROOT" \
    --programs "$B/target/guest" --c-client "$B/target/guest/http_client" --work "$B/target/guest-work" \
    --requests "${REQUESTS:-4000}" --warmup "${WARMUP:-1000}" --max-seconds "${MAX_SECONDS:-12}" \
    --plan "c:e1 python:e1 nginx:e1" --title "pinned, $gc"
done
