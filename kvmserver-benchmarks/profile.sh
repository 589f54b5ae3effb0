#!/usr/bin/env bash
# Where a request's time goes on the host side: runs one guest in one configuration under
# ServerBenchmarks for a while and, once it is warm, looks at the JVM from outside with perf:
#   1. `perf trace -s` for TRACE_SECONDS: every host system call of every JVM thread, with counts
#      and times; then `perf trace` of the request VM thread alone for one second, call by call,
#      summed per call and per ioctl command (KVM_RUN, KVM_SET_XSAVE...) and divided by the
#      requests it served meanwhile (its host accept4 calls, one per request), and each reset
#      split into its host calls and the Java between them;
#   2. `perf record -g` for RECORD_SECONDS: CPU samples of every thread with call chains, Java
#      frames named through the JIT's perf map (-XX:+DumpPerfMapAtExit, -XX:+PreserveFramePointer);
#      reported per thread, self time by symbol, and the callers of the reset.
# The JVM also logs its collections (-Xlog:gc). Everything goes to OUT; the summary to stdout.
#
#   kvmserver-benchmarks/profile.sh c e1          # guest key and configuration (see ServerBenchmarks)
#
# Knobs: PIN_CPU (0; empty to leave the JVM unpinned), WARM_SECONDS (12), TRACE_SECONDS (4),
# RECORD_SECONDS (6), FREQ (1999 samples/s), OUT (kvmserver-benchmarks/target/profile-GUEST-CONFIG),
# SKIP_BUILD (1: run.sh or compare.sh built the jar), KVMSERVER_MVN_LOCK.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
[ $# -eq 2 ] || { echo "usage: $0 GUEST CONFIG" >&2; exit 2; }
# shellcheck source=with-lock.sh
. "$ROOT/kvmserver-benchmarks/with-lock.sh"
# shellcheck source=servers.sh
. "$ROOT/kvmserver-benchmarks/servers.sh"
hold_lock "$ROOT/kvmserver-benchmarks/profile.sh" "$@"

GUEST_KEY="$1"
CONFIG="$2"
PIN_CPU="${PIN_CPU-0}"
WARM_SECONDS="${WARM_SECONDS:-12}"
TRACE_SECONDS="${TRACE_SECONDS:-4}"
RECORD_SECONDS="${RECORD_SECONDS:-6}"
FREQ="${FREQ:-1999}"
BENCH="$ROOT/kvmserver-benchmarks"
GUEST="$BENCH/target/guest"
OUT="${OUT:-$BENCH/target/profile-$GUEST_KEY-$CONFIG}"
command -v perf >/dev/null || { echo "profile.sh: perf is not installed (apt-get install linux-perf)" >&2; exit 1; }
if [ "${SKIP_BUILD:-1}" != 1 ]; then
  (cd "$ROOT" && mvn -q -B -o package -pl kvmserver-engine,kvmserver-benchmarks -Dmaven.test.skip=true >&2)
fi
mkdir -p "$OUT" "$GUEST"
[ -x "$GUEST/http_server" ] && [ -x "$GUEST/go-counter" ] && [ -x "$GUEST/tokio-counter" ] || build_servers "$GUEST"

PIN=()
[ -n "$PIN_CPU" ] && PIN=(taskset -c "$PIN_CPU")
TOTAL=$((WARM_SECONDS + TRACE_SECONDS + RECORD_SECONDS + 10))
echo "profile.sh: $GUEST_KEY $CONFIG, load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
"${PIN[@]}" java -XX:+UseSerialGC -Xms256m -Xmx256m -Xlog:gc:file="$OUT/gc.log" \
  -XX:+UnlockDiagnosticVMOptions -XX:+DumpPerfMapAtExit -XX:+PreserveFramePointer \
  -Dorg.slf4j.simpleLogger.defaultLogLevel=warn -cp "$BENCH/target/kvmserver-benchmarks.jar" \
  io.kvmserver.benchmarks.ServerBenchmarks --root "$ROOT" --programs "$GUEST" \
  --work "$BENCH/target/guest-work" --plan "$GUEST_KEY:$CONFIG" --requests 1000000 --warmup 1000 \
  --max-seconds "$TOTAL" --title "profile" > "$OUT/tables.md" 2> "$OUT/stderr.txt" &
JVM=$!
sleep "$WARM_SECONDS"
perf trace -s -p "$JVM" -o "$OUT/trace-summary.txt" -- sleep "$TRACE_SECONDS" 2>/dev/null || true
VM_TID=""
for task in /proc/"$JVM"/task/*; do
  if [ "$(cat "$task/comm" 2>/dev/null)" = kvmserver-reque ]; then VM_TID="${task##*/}"; break; fi
done
if [ -n "$VM_TID" ]; then
  perf trace --tid "$VM_TID" -o "$OUT/trace-vm-thread.txt" -- sleep 1 2>/dev/null || true
  awk -f "$BENCH/src/main/awk/host-calls.awk" "$OUT/trace-vm-thread.txt" | sort -t'|' -k5 -rn > "$OUT/vm-thread-calls.rows" || true
  {
    echo "Host calls of the request VM thread in 1 s: $(grep -c ' accept4(' "$OUT/trace-vm-thread.txt") requests (accept4)"
    echo
    echo "| host call | per request | µs per call | µs per request |"
    echo "|---|---:|---:|---:|"
    cat "$OUT/vm-thread-calls.rows"
  } > "$OUT/vm-thread-calls.md"
  awk -f "$BENCH/src/main/awk/reset-steps.awk" "$OUT/trace-vm-thread.txt" > "$OUT/reset-steps.txt" || true
fi
perf record -F "$FREQ" -g -p "$JVM" -o "$OUT/perf.data" -- sleep "$RECORD_SECONDS" 2>"$OUT/perf-record.err" || true
wait "$JVM" || true
perf report -i "$OUT/perf.data" --no-children --sort comm,sym --stdio 2>/dev/null > "$OUT/report-self.txt" || true
perf report -i "$OUT/perf.data" --children --comm kvmserver-reque --sort sym --stdio -g none 2>/dev/null \
  > "$OUT/report-vm-thread-children.txt" || true
echo "profile.sh: results in $OUT" >&2
