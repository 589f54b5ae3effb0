#!/usr/bin/env bash
# Two engines side by side in one session: this repository's and another checkout's (an older
# commit in a git worktree, say), with the same harness, guests and client, alternating the two in
# every pass (before/after, then after/before) so that drift of the shared machine falls on both.
# Prints markdown: the medians over passes with their ranges (CompareRuns), and the cost of path
# operations (stat, open+close) in each engine. Every pass's full tables go to OUT.
#
#   kvmserver-benchmarks/compare.sh /tmp/kvmserver-4f7ae8d > compare.md
#
# The other checkout's engine is built here (mvn package, offline) under the same lock. Knobs
# (environment): PASSES (4), REQUESTS (2000 per configuration), WARMUP (300), MAX_SECONDS (8),
# PLAN ("c:native,t1,e1 python:native,t1,e1 nginx-w:native,t1,e1": nginx-w runs on older engines too), PIN_CPU (0), PATH_ROUNDS (20),
# OUT (kvmserver-benchmarks/target/compare), SKIP_BUILD (0), KVMSERVER_MVN_LOCK.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SELF="$ROOT/kvmserver-benchmarks/compare.sh"
LOCK="${KVMSERVER_MVN_LOCK:-/tmp/kvmserver-mvn.lock}"
[ $# -ge 1 ] || { echo "usage: $0 OTHER_CHECKOUT" >&2; exit 2; }
OTHER="$(cd "$1" && pwd)"

held=no
for fd in /proc/$$/fd/*; do
  if [ "$(readlink "$fd" 2>/dev/null || true)" = "$LOCK" ]; then held=yes; fi
done
if [ "$held" = no ]; then
  echo "compare.sh: waiting for $LOCK ..." >&2
  exec flock "$LOCK" "$SELF" "$@"
fi

PASSES="${PASSES:-4}"
REQUESTS="${REQUESTS:-2000}"
WARMUP="${WARMUP:-300}"
MAX_SECONDS="${MAX_SECONDS:-8}"
PLAN="${PLAN:-c:native,t1,e1 python:native,t1,e1 nginx-w:native,t1,e1}"
PIN_CPU="${PIN_CPU:-0}"
PATH_ROUNDS="${PATH_ROUNDS:-20}"
BENCH="$ROOT/kvmserver-benchmarks"
GUEST="$BENCH/target/guest"
OUT="${OUT:-$BENCH/target/compare}"

if [ "${SKIP_BUILD:-0}" != 1 ]; then
  echo "compare.sh: building this engine and the benchmarks, and $OTHER's engine ..." >&2
  (cd "$ROOT" && mvn -q -B -o package -pl kvmserver-engine,kvmserver-benchmarks -Dmaven.test.skip=true >&2)
  (cd "$OTHER" && mvn -q -B -o package -pl kvmserver-engine -am -Dmaven.test.skip=true >&2)
fi
mkdir -p "$GUEST" "$OUT"
rm -f "$OUT/compare.csv" "$OUT/paths.txt"
gcc -O2 -Wall -Wno-unused-result -static -o "$GUEST/http_server" "$ROOT/kvmserver-engine/src/test/c/http_server.c" 2>/dev/null
gcc -O2 -Wall -static -o "$GUEST/path_loop" "$BENCH/src/main/c/path_loop.c"

BEFORE="$(git -C "$OTHER" rev-parse --short HEAD)"
AFTER="$(git -C "$ROOT" rev-parse --short HEAD)$(git -C "$ROOT" diff --quiet -- kvmserver-engine || echo '+changes')"
root_of() { if [ "$1" = "$BEFORE" ]; then echo "$OTHER"; else echo "$ROOT"; fi; }
# The engine's own jar first: its classes win over the copies shaded into the benchmarks jar.
java_with() {
  local root; root="$(root_of "$1")"
  echo java -XX:+UseSerialGC -Xms256m -Xmx256m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn \
    -cp "$root/kvmserver-engine/target/kvmserver-engine-0.1.0-SNAPSHOT.jar:$BENCH/target/kvmserver-benchmarks.jar"
}
STDLIB="$(dirname "$(dirname "$(readlink -f /usr/bin/python3)")")/lib/$(basename "$(readlink -f /usr/bin/python3)")"
# Files python3 opens or stats at start-up, at depths 4 to 6 below /.
PATHS=("$STDLIB/os.py" "$STDLIB/encodings/__init__.py" "$STDLIB/asyncio/__pycache__/base_events.cpython-311.pyc"
       "$STDLIB/collections/__init__.py" "$STDLIB/__pycache__/selectors.cpython-311.pyc")

echo "## Machine"
echo
echo "- date: $(date -u +%Y-%m-%dT%H:%MZ); before: $BEFORE ($OTHER), after: $AFTER ($ROOT)"
echo "- CPUs: $(nproc), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'); kernel $(uname -r)"
echo "- JDK: $(java -version 2>&1 | sed -n 2p)"
echo "- load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "- $PASSES passes, each: for pinned (taskset -c $PIN_CPU) and unpinned, both engines in alternating order;"
echo "  plan \`$PLAN\`, $REQUESTS requests after $WARMUP warm-up (at most $MAX_SECONDS s) per configuration"
echo

for pass in $(seq 1 "$PASSES"); do
  if [ $((pass % 2)) = 1 ]; then order=("$BEFORE" "$AFTER"); else order=("$AFTER" "$BEFORE"); fi
  for pin in pinned unpinned; do
    if [ "$pin" = pinned ]; then PIN=(taskset -c "$PIN_CPU"); else PIN=(); fi
    for e in "${order[@]}"; do
      echo "compare.sh: pass $pass, $pin, $e (load $(cut -d' ' -f1 /proc/loadavg)) ..." >&2
      # shellcheck disable=SC2046
      "${PIN[@]}" $(java_with "$e") io.kvmserver.benchmarks.ServerBenchmarks --root "$ROOT" \
        --c-server "$GUEST/http_server" --work "$BENCH/target/guest-work" --plan "$PLAN" \
        --requests "$REQUESTS" --warmup "$WARMUP" --max-seconds "$MAX_SECONDS" \
        --title "$e, $pin, pass $pass" --csv "$OUT/compare.csv" --label "$e/$pin" \
        > "$OUT/$e-$pin-$pass.md" 2> "$OUT/$e-$pin-$pass.err" || echo "compare.sh: $e $pin pass $pass failed" >&2
      result="$("${PIN[@]}" java -jar "$(root_of "$e")/kvmserver-engine/target/kvmserver-cli.jar" \
        --allow-read="$STDLIB" "$GUEST/path_loop" "$PATH_ROUNDS" "${PATHS[@]}" 2>>"$OUT/paths.err" || true)"
      echo "$e $pin $result" >> "$OUT/paths.txt"
    done
  done
done

echo "## Serving, medians over $PASSES passes"
echo
java -cp "$BENCH/target/kvmserver-benchmarks.jar" io.kvmserver.benchmarks.CompareRuns \
  --csv "$OUT/compare.csv" --before "$BEFORE" --after "$AFTER"
echo "## Path operations in the guest (path_loop, ${#PATHS[@]} python3 files × $PATH_ROUNDS rounds), per call"
echo
echo "| engine | pinning | stat (each pass) | open + close (each pass) |"
echo "|---|---|---|---|"
for e in "$BEFORE" "$AFTER"; do
  for pin in pinned unpinned; do
    awk -v e="$e" -v p="$pin" '$1 == e && $2 == p {
        split($3, s, "="); split($4, o, "="); st = st sprintf(" %.1f", s[2] / 1000); op = op sprintf(" %.1f", o[2] / 1000) }
      END { printf "| %s | %s | %s µs | %s µs |\n", e, p, st, op }' "$OUT/paths.txt"
  done
done
echo
echo "- load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
