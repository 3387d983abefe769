#!/usr/bin/env bash
# Idle footprint: one OpenCL context per device (none spanning several:
# NVIDIA commits a context on every GPU it names), and engine workers
# whose stacks are not glibc's 8 MiB, which mlockall would lock whole.
. "$(dirname "$0")/functions.sh"

start_vramd --verbose
line=$(grep "pool: .* OpenCL contexts" "$tmpdir/vramd.log") || fail "no context count logged"
read -r ndev nctx <<<"$(sed -E 's/.*pool: ([0-9]+) devices in ([0-9]+) OpenCL contexts.*/\1 \2/' <<<"$line")"
[ "$ndev" -ge 2 ] || fail "expected two PoCL devices: $line"
[ "$nctx" = "$ndev" ] || fail "expected one context per device: $line"
pass "$ndev devices in $nctx contexts"

# The stack mapping of each worker holds its stack pointer (syscall's
# second-last field); its size is the worker's stack.
n=0
for t in /proc/"$vramd_pid"/task/*; do
  case $(cat "$t/comm") in vd-cpu*) ;; *) continue ;; esac
  sp=$(( $(awk '{ print $(NF-1) }' "$t/syscall") ))
  kb=
  while read -r range _; do
    lo=$((16#${range%-*})) hi=$((16#${range#*-}))
    if [ "$sp" -ge "$lo" ] && [ "$sp" -lt "$hi" ]; then kb=$(( (hi - lo) / 1024 )); break; fi
  done <"/proc/$vramd_pid/maps"
  [ -n "$kb" ] || fail "no mapping holds $(cat "$t/comm")'s stack pointer $sp"
  [ "$kb" -le 1024 ] || fail "$(cat "$t/comm")'s stack is $kb KiB (expected 512)"
  n=$((n + 1))
done
[ "$n" -ge 2 ] || fail "expected two engine workers, found $n"
pass "$n engine workers with stacks of 1 MiB at most"
