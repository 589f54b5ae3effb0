#!/usr/bin/env bash
# Engines side by side in one session: the engines of two or more checkouts (older commits in git
# worktrees, say; "." is this repository), run by this repository's harness, guests and client,
# in an order that alternates every pass (A B, then B A; A B C, then C B A) so that drift of the
# shared machine falls on all of them. Prints markdown: for each engine against the first (and
# each against the one before it), the medians over passes with their ranges (CompareRuns), and
# what single system calls cost in each engine (syscall_costs: getppid, stat, open+close of
# python3's files, a console write). Every pass's full tables go to OUT.
#
#   kvmserver-benchmarks/compare.sh /tmp/kvmserver-4f7ae8d . > compare.md
#   kvmserver-benchmarks/compare.sh /tmp/kvmserver-4f7ae8d /tmp/kvmserver-09310f7 . > compare.md
#
# The checkouts' engines are built here (mvn package, offline) under the same lock. Knobs
# (environment): PASSES (4), REQUESTS (2000 per configuration), WARMUP (300), MAX_SECONDS (8),
# PLAN ("c:native,t1,e1 python:native,t1,e1 nginx-w:native,t1,e1"; nginx-w runs on older engines
# too), PIN_CPU (0), CALL_ROUNDS (400), OUT (kvmserver-benchmarks/target/compare), SKIP_BUILD (0),
# KVMSERVER_MVN_LOCK.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
[ $# -ge 2 ] || { echo "usage: $0 CHECKOUT CHECKOUT..." >&2; exit 2; }
# shellcheck source=with-lock.sh
. "$ROOT/kvmserver-benchmarks/with-lock.sh"
# shellcheck source=servers.sh
. "$ROOT/kvmserver-benchmarks/servers.sh"
hold_lock "$ROOT/kvmserver-benchmarks/compare.sh" "$@"

PASSES="${PASSES:-4}"
REQUESTS="${REQUESTS:-2000}"
WARMUP="${WARMUP:-300}"
MAX_SECONDS="${MAX_SECONDS:-8}"
PLAN="${PLAN:-c:native,t1,e1 python:native,t1,e1 nginx-w:native,t1,e1}"
PIN_CPU="${PIN_CPU:-0}"
CALL_ROUNDS="${CALL_ROUNDS:-400}"
BENCH="$ROOT/kvmserver-benchmarks"
GUEST="$BENCH/target/guest"
OUT="${OUT:-$BENCH/target/compare}"

# Each engine's name (its short commit) and checkout.
NAMES=()
declare -A CHECKOUT
for dir in "$@"; do
  dir="$(cd "$dir" && pwd)"
  name="$(git -C "$dir" rev-parse --short HEAD)$(git -C "$dir" diff --quiet -- kvmserver-engine || echo '+changes')"
  NAMES+=("$name")
  CHECKOUT[$name]="$dir"
done

if [ "${SKIP_BUILD:-0}" != 1 ]; then
  echo "compare.sh: building the benchmarks and the engines of $* ..." >&2
  (cd "$ROOT" && mvn -q -B -o package -pl kvmserver-engine,kvmserver-benchmarks -Dmaven.test.skip=true >&2)
  for name in "${NAMES[@]}"; do
    (cd "${CHECKOUT[$name]}" && mvn -q -B -o package -pl kvmserver-engine -am -Dmaven.test.skip=true >&2)
  done
fi
mkdir -p "$GUEST" "$OUT"
rm -f "$OUT/compare.csv" "$OUT/calls.txt"
build_servers "$GUEST" 2>/dev/null
gcc -O2 -Wall -static -o "$GUEST/syscall_costs" "$BENCH/src/main/c/syscall_costs.c"

root_of() { echo "${CHECKOUT[$1]}"; }
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
echo "- date: $(date -u +%Y-%m-%dT%H:%MZ); harness: $(git -C "$ROOT" rev-parse --short HEAD) ($ROOT)"
for name in "${NAMES[@]}"; do echo "- engine $name: ${CHECKOUT[$name]}"; done
echo "- CPUs: $(nproc), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'); kernel $(uname -r)"
echo "- JDK: $(java -version 2>&1 | sed -n 2p)"
echo "- load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "- $PASSES passes, each: for pinned (taskset -c $PIN_CPU) and unpinned, the engines in alternating order;"
echo "  plan \`$PLAN\`, $REQUESTS requests after $WARMUP warm-up (at most $MAX_SECONDS s) per configuration"
echo

for pass in $(seq 1 "$PASSES"); do
  order=("${NAMES[@]}")
  if [ $((pass % 2)) = 0 ]; then
    order=()
    for ((i = ${#NAMES[@]} - 1; i >= 0; i--)); do order+=("${NAMES[$i]}"); done
  fi
  for pin in pinned unpinned; do
    if [ "$pin" = pinned ]; then PIN=(taskset -c "$PIN_CPU"); else PIN=(); fi
    for e in "${order[@]}"; do
      echo "compare.sh: pass $pass, $pin, $e (load $(cut -d' ' -f1 /proc/loadavg)) ..." >&2
      # shellcheck disable=SC2046
      "${PIN[@]}" $(java_with "$e") io.kvmserver.benchmarks.ServerBenchmarks --root "$ROOT" \
        --programs "$GUEST" --work "$BENCH/target/guest-work" --plan "$PLAN" \
        --requests "$REQUESTS" --warmup "$WARMUP" --max-seconds "$MAX_SECONDS" \
        --title "$e, $pin, pass $pass" --csv "$OUT/compare.csv" --label "$e/$pin" \
        > "$OUT/$e-$pin-$pass.md" 2> "$OUT/$e-$pin-$pass.err" || echo "compare.sh: $e $pin pass $pass failed" >&2
      # stdout (the console writes) to /dev/null, the result line from stderr.
      result="$("${PIN[@]}" java -jar "$(root_of "$e")/kvmserver-engine/target/kvmserver-cli.jar" \
        --allow-read="$STDLIB" "$GUEST/syscall_costs" "$CALL_ROUNDS" "${PATHS[@]}" 2>&1 >/dev/null \
        | grep '^getppid_ns=' || true)"
      echo "$e $pin $result" >> "$OUT/calls.txt"
    done
  done
done

echo "## Serving, medians over $PASSES passes"
echo
pairs=()
for ((i = 1; i < ${#NAMES[@]}; i++)); do
  pairs+=("${NAMES[0]} ${NAMES[$i]}")
  [ "$i" -gt 1 ] && pairs+=("${NAMES[$((i - 1))]} ${NAMES[$i]}")
done
for pair in "${pairs[@]}"; do
  read -r before after <<< "$pair"
  echo "### $before → $after"
  echo
  java -cp "$BENCH/target/kvmserver-benchmarks.jar" io.kvmserver.benchmarks.CompareRuns \
    --csv "$OUT/compare.csv" --before "$before" --after "$after"
done
echo "## Single system calls in the guest (syscall_costs, ${#PATHS[@]} python3 files × $CALL_ROUNDS rounds), per call"
echo
echo "Run to completion by each engine's CLI (a booted VM, not a request VM), timed by the guest's own clock,"
echo "the second of two identical passes (the first warms the JVM's compiled code). Each pass's value:"
echo
echo "| engine | pinning | getppid | stat | open + close | write 32 B to stdout |"
echo "|---|---|---|---|---|---|"
for e in "${NAMES[@]}"; do
  for pin in pinned unpinned; do
    awk -v e="$e" -v p="$pin" '$1 == e && $2 == p {
        for (i = 3; i <= 6; i++) { split($i, kv, "="); col[i] = col[i] sprintf(" %.1f", kv[2] / 1000) } }
      END { printf "| %s | %s | %s µs | %s µs | %s µs | %s µs |\n", e, p, col[3], col[4], col[5], col[6] }' \
      "$OUT/calls.txt"
  done
done
echo
echo "- load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
