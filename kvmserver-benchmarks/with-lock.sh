# Sourced by run.sh, compare.sh and profile.sh: `hold_lock "$0" "$@"` re-executes the script under
# the Maven lock (KVMSERVER_MVN_LOCK, /tmp/kvmserver-mvn.lock) unless it holds it already, so that
# no build competes for the CPUs while it measures. flock(1) leaves the lock's fd open in its
# child: a script that inherited it (`flock /tmp/kvmserver-mvn.lock ./run.sh`) sees it as its own.
KVMSERVER_MVN_LOCK="${KVMSERVER_MVN_LOCK:-/tmp/kvmserver-mvn.lock}"

hold_lock() {
  local script="$1" fd
  shift
  for fd in /proc/$$/fd/*; do
    if [ "$(readlink "$fd" 2>/dev/null || true)" = "$KVMSERVER_MVN_LOCK" ]; then return 0; fi
  done
  echo "$(basename "$script"): waiting for $KVMSERVER_MVN_LOCK ..." >&2
  exec flock "$KVMSERVER_MVN_LOCK" "$script" "$@"
}
