# Splits each reset in a `perf trace --tid` output of a request VM thread into its host calls and
# the gaps between them (Java): the run of KVM_RESET_DIRTY_RINGS, KVM_SET_XSAVE (which perf names
# KVM_SIGNAL_MSI; none on PVM since fe9374d, where the guest restores its FPU state itself) and the
# next KVM_RUN, which also applies the special registers (sync regs, since fa610e0; a
# KVM_SET_SREGS of an older engine is counted as a call inside the reset). The frozen wait's host
# calls (ppoll, accept4) come between the XSAVE (or the dirty rings) and that KVM_RUN. Used by
# profile.sh.
function parse(line,   i, ts, dur, rest) {
  i = index(line, " ms): "); if (i == 0) return 0
  ts = line; sub(/^ */, "", ts); split(ts, a, " "); T = a[1] + 0
  dur = substr(line, 1, i - 1); sub(/^.*\( */, "", dur); D = dur + 0
  rest = substr(line, i + 6); N = rest; sub(/\(.*/, "", N)
  if (N == "ioctl" && match(rest, /cmd: [A-Za-z0-9_]+/)) N = substr(rest, RSTART + 5, RLENGTH - 5)
  return 1
}
{
  if ($0 ~ /\.\.\./ || !parse($0)) { state = 0; next }
  if (N == "KVM_RESET_DIRTY_RINGS" && state == 0 && last_end > 0) { g1 = T - last_end; rdr = D; e = T + D; g2 = 0; xsave = 0; gp = -1; polled = 0; state = 1 }
  else if (state == 1 && N == "KVM_SIGNAL_MSI") { g2 = T - e; xsave = D; e = T + D; state = 2 }
  else if (state != 0 && N == "KVM_RUN") { g3 = T - e; n++; s1 += g1; s2 += rdr; s3 += g2; s4 += xsave; s5 += g3; run += D; if (state == 2) nx++; if (gp >= 0) { np++; sp += gp }; state = 0 }
  else if (state != 0) { other[N]++; if (N == "ppoll" && !polled) { gp = T - e; polled = 1 } }
  last_end = T + D
}
END {
  if (n == 0) { print "resets: 0 (no KVM_RESET_DIRTY_RINGS, KVM_RUN sequence in the trace)"; exit }
  printf "resets: %d (µs averages; %d with a KVM_SET_XSAVE, the others restore the FPU in the guest)\n", n, nx
  printf "from the previous host call to KVM_RESET_DIRTY_RINGS: %.1f\nKVM_RESET_DIRTY_RINGS: %.1f\nto KVM_SET_XSAVE (page copies, process fork; 0 without one): %.1f\nKVM_SET_XSAVE: %.1f\nto the next KVM_RUN (the frozen wait, made on the host, and without a KVM_SET_XSAVE the page copies and process fork too): %.1f\nthat KVM_RUN (special registers applied, then the guest): %.1f\n", s1*1000/n, s2*1000/n, s3*1000/n, s4*1000/n, s5*1000/n, run*1000/n
  if (np > 0) printf "of which before the frozen wait's ppoll (the page copies and process fork, where no KVM_SET_XSAVE came first): %.1f (%d resets)\n", sp*1000/np, np
  for (k in other) printf "other calls inside resets: %s %d\n", k, other[k]
}
