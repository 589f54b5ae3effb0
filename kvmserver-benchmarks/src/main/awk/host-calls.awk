# Host calls of one thread in a `perf trace --tid` output: count and time per call and per ioctl
# command, one row per call, per request (a request = one accept4). Used by profile.sh.
# perf names KVM_SET_XSAVE KVM_SIGNAL_MSI: both are _IOW(KVMIO, 0xa5, ...).
{
  i = index($0, " ms): ")
  if (i == 0) next
  call = substr($0, i + 6)
  if (call ~ /^[^ (]+\/[0-9]+ /) sub(/^[^ ]+ /, "", call)   # "comm/tid " when several threads are traced
  if (call ~ /\.\.\. *$/ || call ~ /^\.\.\./) next          # halves of a call interrupted by another event
  name = call; sub(/\(.*/, "", name)
  if (name == "ioctl" && match(call, /cmd: [A-Za-z0-9_]+/)) name = "ioctl " substr(call, RSTART + 5, RLENGTH - 5)
  ms = substr($0, 1, i - 1); sub(/^.*\( */, "", ms)
  count[name]++; total[name] += ms; if (name == "accept4") requests++
}
END {
  if (requests == 0) exit
  for (n in count) printf "| %s | %.2f | %.1f | %.1f |\n", n, count[n] / requests, total[n] * 1000 / count[n], total[n] * 1000 / requests
}
