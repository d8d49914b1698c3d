#!/usr/bin/env bash
# Server CPU per request with a new TCP connection per request (sipp -t tn),
# servers alternating round by round, measured as the on-CPU time of every
# thread of the server's process tree from /proc/PID/task/*/schedstat
# (nanoseconds, not clock ticks). Before each run it waits (up to 60 s)
# for the loopback's TIME_WAIT sockets to drop below TW (default 4000):
# with tens of thousands of them sipp crawls, requests arrive one by one,
# and every server's CPU per request rises (kemi's by 2-3x), which swamps
# the difference measured.
# usage: testdata/bench/tcpn-cpu.sh ROUNDS REQUESTS label=kam|label=KEMI_BINARY ...
#   e.g. testdata/bench/tcpn-cpu.sh 5 1500 kemi=bin/kemi kam=kam
# The load is paced (sipp -l 50 -r 3000); LIMIT=200 RATE=1000000 TW=1500
# gives compare.sh's closed loop at full rate instead.
# Needs: sipp, kamailio, ../shared/bench/kamailio (run-kamailio.sh, options.xml).
set -uo pipefail
rounds=$1 n=$2; shift 2
here=$(cd "$(dirname "$0")" && pwd)
shared=${SHARED:-$here/../../../shared}/bench/kamailio
cfg=$here/seed-lua.cfg xml=$shared/options.xml
port=${PORT0:-6200}
res=$(mktemp)
cpu_tree() { local t=0 p
  for p in $1 $(pgrep -P "$1"); do
    t=$((t + $(cat /proc/$p/task/*/schedstat | awk '{s+=$1} END{printf "%d", s}'))); done; echo $t; }
for r in $(seq "$rounds"); do
  for spec in "$@"; do
    label=${spec%%=*} cmd=${spec#*=}; port=$((port + 1))
    for _ in $(seq 60); do [ "$(ss -tan state time-wait | wc -l)" -lt "${TW:-4000}" ] && break; sleep 1; done
    if [ "$cmd" = kam ]; then
      pid=$(TRANSPORT=tcpn "$shared/run-kamailio.sh" native $port 1 2>/dev/null)
    else
      "$cmd" serve -f "$cfg" -l tcp:127.0.0.1:$port >/dev/null 2>&1 & pid=$!
    fi
    sleep 1.5
    sipp -nostdin -max_socket 1000 -t tn -sf "$xml" -m 100 -l 50 -r 3000 127.0.0.1:$port >/dev/null 2>&1 </dev/null
    t0=$(cpu_tree "$pid")
    ok=$(timeout 60 sipp -nostdin -max_socket 1000 -t tn -sf "$xml" -m "$n" -l "${LIMIT:-50}" -r "${RATE:-3000}" 127.0.0.1:$port 2>&1 </dev/null |
      awk -F'|' '/Successful call/{gsub(/ /,"",$3); print $3}')
    t1=$(cpu_tree "$pid")
    if [ "${ok:-0}" -gt 0 ]; then
      us=$(awk -v a="$t0" -v b="$t1" -v n="$ok" 'BEGIN{printf "%.1f", (b-a)/1000/n}')
      echo "$label round $r: $us us/request"; echo "$label $us" >>"$res"
    else echo "$label round $r: failed"; fi
    if [ "$cmd" = kam ]; then kill $(pgrep -P "$pid") "$pid"; else kill "$pid"; fi
    wait "$pid" 2>/dev/null; sleep 0.5
  done
done
python3 - "$res" <<'PY'
import sys, statistics as st
v = {}
for ln in open(sys.argv[1]):
    k, us = ln.split(); v.setdefault(k, []).append(float(us))
for k, x in v.items():
    print(f"{k:10} median {st.median(x):6.1f} us/request  ({' '.join(f'{y:.1f}' for y in x)})")
PY
