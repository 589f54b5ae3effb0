#!/usr/bin/env bash
# Builds the engine and the benchmark harnesses, compiles the guest C programs with gcc, and runs
# every benchmark, printing markdown (results on stdout, progress on stderr).
#
#   ./kvmserver-benchmarks/run.sh            # takes /tmp/kvmserver-mvn.lock itself, for the whole run
#   flock /tmp/kvmserver-mvn.lock ./kvmserver-benchmarks/run.sh   # also fine: an inherited lock is seen
#
# Knobs (environment): REQUESTS (5000 per server configuration), WARMUP (12000: steady state, see
# docs/benchmarks.md "How to run"), MAX_SECONDS (15 per
# server configuration: the slow guests stop there), RUNS (200 hello runs), CLI_RUNS (10), LOOP_CALLS
# (20000 getppid calls in the VM), CLOCK_CALLS (1000000 clock_gettime calls), TRAP_CALLS (10000 calls
# per trap_paths.c path), PIN_CPU (0), UNPINNED
# (1: also run the server benchmarks without taskset), GUESTS ("python nginx php": the guests run
# beside the C server, from .ci/install-guests), SERVERS (1: run them), RUNTIMES ("go tokio redis bun
# python-http php deno": issue 10's runtimes, natively, threads=1, ephemeral and ephemeral after
# RUNTIME_WARMUP (20) warmup requests, pinned; "" for none), SETTLED ("deno": runtimes also run
# warmed and settled for SETTLE_SECONDS (12), the engine's --settle-time), ENGINE (1: run EngineBenchmarks),
# ROUTES (1: also the routes benchmark on the sample application), LATENCIES (a directory: each
# configuration's single request latencies, in the order sent), SKIP_BUILD (0), KVMSERVER_MVN_LOCK.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
# shellcheck source=with-lock.sh
. "$ROOT/kvmserver-benchmarks/with-lock.sh"
# shellcheck source=servers.sh
. "$ROOT/kvmserver-benchmarks/servers.sh"
hold_lock "$ROOT/kvmserver-benchmarks/run.sh" "$@"

REQUESTS="${REQUESTS:-5000}"
WARMUP="${WARMUP:-12000}"
MAX_SECONDS="${MAX_SECONDS:-15}"
GUESTS="${GUESTS:-python nginx php}"
SERVERS="${SERVERS:-1}"
RUNTIMES="${RUNTIMES-go tokio redis bun python-http php deno}"
RUNTIME_WARMUP="${RUNTIME_WARMUP:-20}"
SETTLED="${SETTLED-deno}"
SETTLE_SECONDS="${SETTLE_SECONDS:-12}"
ENGINE="${ENGINE:-1}"
RUNS="${RUNS:-200}"
CLI_RUNS="${CLI_RUNS:-10}"
LOOP_CALLS="${LOOP_CALLS:-20000}"
CLOCK_CALLS="${CLOCK_CALLS:-1000000}"
TRAP_CALLS="${TRAP_CALLS:-10000}"
PIN_CPU="${PIN_CPU:-0}"
UNPINNED="${UNPINNED:-1}"
BENCH="$ROOT/kvmserver-benchmarks"
GUEST="$BENCH/target/guest"

cd "$ROOT"
ROUTES="${ROUTES:-1}"
if [ "${SKIP_BUILD:-0}" != 1 ]; then
  echo "run.sh: building kvmserver-engine and kvmserver-benchmarks ..." >&2
  mvn -q -B -o package -pl kvmserver-engine,kvmserver-benchmarks -Dmaven.test.skip=true >&2
  if [ "$ROUTES" = 1 ]; then
    echo "run.sh: building the sample application ..." >&2
    mvn -q -B -o package -pl sample-app -am -Dmaven.test.skip=true >&2
  fi
fi

echo "run.sh: compiling the guest programs ..." >&2
mkdir -p "$GUEST"
CFLAGS="-O2 -Wall"
gcc $CFLAGS -static -o "$GUEST/hello-static" "$BENCH/src/main/c/hello.c"
gcc $CFLAGS -o "$GUEST/hello-dynamic" "$BENCH/src/main/c/hello.c"
gcc $CFLAGS -static -o "$GUEST/getppid_loop" "$BENCH/src/main/c/getppid_loop.c"
gcc $CFLAGS -static -o "$GUEST/clock_loop" "$BENCH/src/main/c/clock_loop.c"
gcc $CFLAGS -o "$GUEST/spawn_bench" "$BENCH/src/main/c/spawn_bench.c"
gcc $CFLAGS -o "$GUEST/http_client" "$BENCH/src/main/c/http_client.c"
gcc $CFLAGS -o "$GUEST/trap_paths" "$BENCH/src/main/c/trap_paths.c"
# The same servers the engine's tests run: the C epoll server, the Go and tokio counters.
build_servers "$GUEST"

JAVA=(java -XX:+UseSerialGC -Xms256m -Xmx256m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn
      -cp "$BENCH/target/kvmserver-benchmarks.jar")
PIN=(taskset -c "$PIN_CPU")

echo "## Machine"
echo
echo "- date: $(date -u +%Y-%m-%dT%H:%MZ), commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$ROOT" diff --quiet 2>/dev/null || echo ' + local changes')"
echo "- CPUs: $(nproc), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
echo "- kernel: $(uname -r); KVM modules: $(ls /sys/module | grep -E '^kvm' | tr '\n' ' ')($(grep -qwE 'vmx|svm' /proc/cpuinfo && echo 'vmx/svm flag present' || echo 'no vmx/svm flag: nested PVM'))"
echo "- JDK: $(java -version 2>&1 | sed -n 2p)"
echo "- gcc: $(gcc --version | head -1)"
echo "- load average before the run: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
if [ "$ENGINE" = 1 ]; then
  echo "## Engine: start to exit, syscall round trip, exits (pinned: taskset -c $PIN_CPU)"
  "${PIN[@]}" "${JAVA[@]}" io.kvmserver.benchmarks.EngineBenchmarks \
    --hello "$GUEST/hello-static" --hello-dynamic "$GUEST/hello-dynamic" --loop "$GUEST/getppid_loop" \
    --spawn "$GUEST/spawn_bench" --cli-jar "$ROOT/kvmserver-engine/target/kvmserver-cli.jar" \
    --runs "$RUNS" --cli-runs "$CLI_RUNS" --loop-calls "$LOOP_CALLS" \
    --clock-loop "$GUEST/clock_loop" --clock-calls "$CLOCK_CALLS"
  # The host's own price of a trap, which bounds what any engine can do here: a system call that
  # reaches the host (the doorbell), one the trap stub answers in the guest (on nested PVM,
  # `syscall` alone), and an exit KVM handles in the kernel.
  echo
  echo "#### What a trap costs on this host (trap_paths.c: a bare VM of its own, no engine; $TRAP_CALLS calls)"
  echo
  echo "| path | what the probe measured |"
  echo "|---|---|"
  for p in doorbell in-guest cpuid; do
    line=$("${PIN[@]}" "$GUEST/trap_paths" "$TRAP_CALLS" "$p" 2>&1 | grep "^$p: [0-9]" | tail -1)
    echo "| \`$p\` | ${line:-"$p: no figure: this host does not take that path (run the probe by hand)"} |" | sed "s/| $p: /| /"
  done
fi

# One plan per pinning: the C server in every configuration, each other guest natively, not
# ephemeral, ephemeral, and ephemeral from a template warmed with RUNTIME_WARMUP requests (on PVM
# it rewrote the call sites those ran: SyscallSiteRewriter); see ServerBenchmarks for the names.
plan() {
  local p="c:$1" g
  for g in $GUESTS; do p="$p $g:$2"; done
  echo "$p"
}
SERVER=(io.kvmserver.benchmarks.ServerBenchmarks --root "$ROOT" --programs "$GUEST"
        --c-client "$GUEST/http_client" --work "$BENCH/target/guest-work"
        --requests "$REQUESTS" --warmup "$WARMUP" --max-seconds "$MAX_SECONDS"
        ${LATENCIES:+--latencies "$LATENCIES"})
if [ "$SERVERS" = 1 ]; then
  echo "## Server: one request per new connection"
  echo "- load average before the pinned run: $(cut -d' ' -f1-3 /proc/loadavg)"
  "${PIN[@]}" "${JAVA[@]}" "${SERVER[@]}" \
    --plan "$(plan native,native-c,t1,e1,e1-w$RUNTIME_WARMUP,e1-small,e1-c,e1-notail,e2,e4 native,t1,e1,e1-w$RUNTIME_WARMUP,e1-notail)" \
    --title "pinned: client, server and JVM on CPU $PIN_CPU (taskset -c $PIN_CPU)"
fi
if [ "$SERVERS" = 1 ] && [ "$UNPINNED" = 1 ]; then
  echo "- load average before the unpinned run: $(cut -d' ' -f1-3 /proc/loadavg)"
  "${JAVA[@]}" "${SERVER[@]}" \
    --plan "$(plan native,native-c,t1,e1,e1-w$RUNTIME_WARMUP,e2,e4 native,t1,e1,e1-w$RUNTIME_WARMUP,e2)" \
    --title "unpinned: scheduler's choice of the $(nproc) CPUs"
fi
if [ -n "$RUNTIMES" ]; then
  echo "## Runtimes (issue 10): native, threads=1, ephemeral, ephemeral after $RUNTIME_WARMUP warmup requests"
  echo "- load average before the runtimes: $(cut -d' ' -f1-3 /proc/loadavg)"
  p=""
  for g in $RUNTIMES; do
    p="$p $g:native,t1,e1,e1-w$RUNTIME_WARMUP"
    case " $SETTLED " in *" $g "*) p="$p,e1-w$RUNTIME_WARMUP-s$SETTLE_SECONDS" ;; esac
  done
  "${PIN[@]}" "${JAVA[@]}" "${SERVER[@]}" --plan "$p" \
    --title "pinned: client, server and JVM on CPU $PIN_CPU (taskset -c $PIN_CPU)"
fi
if [ "$ROUTES" = 1 ]; then
  echo "## Routes: what the application adds (one request per new connection)"
  "${PIN[@]}" "${JAVA[@]}" io.kvmserver.benchmarks.RouteBenchmarks \
    --app "$ROOT/sample-app/target/sample-app.jar" --requests "$REQUESTS" --warmup "$WARMUP" --max-seconds 60 \
    --title "pinned: client, application and request VMs on CPU $PIN_CPU (taskset -c $PIN_CPU)"
fi
echo "- load average after the run: $(cut -d' ' -f1-3 /proc/loadavg)"
