#!/usr/bin/env bash
# The bench's stateful proxy calls (../shared/bench, "proxy") with the
# callers over TCP or TLS, kemi next to Kamailio's native config, in one
# run, rounds alternating: server CPU microseconds per call.
#
# usage: testdata/bench/stream-compare.sh tcp|tls ROUNDS [CALLS] [CONCURRENT] [ENGINES]
#   tcp  sipp callers on one TCP connection (-t t1), sipp callee on UDP
#        (the shared uac-rr.xml and uas-rr.xml), as compare.sh proxy.
#   tls  test/tlsload: CONCURRENT callers, each on a TLS connection of its
#        own, and its own UDP callee; Kamailio runs Debian's tls module
#        with the same tls.cfg and self-signed certificate (the README's
#        openssl command) as kemi.
#   ENGINES: kemi engines to run (default "lua"; "lua js star").
# Needs: make build (bin/kemi), sipp, kamailio with kamailio-tls-modules, openssl.
set -uo pipefail
mode=${1:?tcp or tls}; rounds=${2:-2}; calls=${3:-}; conc=${4:-}; engines=${5:-lua}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
shared=${SHARED:-$root/../shared}/bench/kamailio
bin=$root/bin/kemi
case $mode in
  tcp) calls=${calls:-10000}; conc=${conc:-100} ;;
  tls) calls=${calls:-5000}; conc=${conc:-50} ;;
  *) echo "mode: tcp or tls" >&2; exit 2 ;;
esac
work=$(mktemp -d)
if [ "$mode" = tls ]; then
  (cd "$work" && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 365 \
    -subj "/CN=sip.example.com" -addext "subjectAltName=DNS:sip.example.com,IP:127.0.0.1" \
    -keyout kemi-selfsigned.key -out kemi-selfsigned.pem) >/dev/null 2>&1 || { echo "openssl failed" >&2; exit 1; }
  printf '[server:default]\nmethod = TLSv1.2+\ncertificate = %s/kemi-selfsigned.pem\nprivate_key = %s/kemi-selfsigned.key\nverify_certificate = no\nrequire_certificate = no\n' "$work" "$work" >"$work/tls.cfg"
  (cd "$root" && go build -o "$work/tlsload" ./test/tlsload) || exit 1
fi
export TLSCFG=$work/tls.cfg
labels=(kamailio-native); for e in $engines; do labels+=("kemi-$e"); done
port=5500 uas=5600
tck=$(getconf CLK_TCK)
start() { # index port uas -> pid
  local i=$1 p=$2 u=$3
  if [ "$i" = 0 ]; then
    local d; d=$(mktemp -d -p "$work")
    sed "s/CHILDREN/1/;s/UASPORT/$u/;s/PORT/$p/" "$shared/proxy-native.cfg" >"$d/k.cfg"
    if [ "$mode" = tcp ]; then
      sed -i "s/^listen=udp:.*/&\nlisten=tcp:127.0.0.1:$p/" "$d/k.cfg"
    else
      sed -i "s/^listen=udp:.*/&\nenable_tls=yes\nlisten=tls:127.0.0.1:$p/" "$d/k.cfg"
      sed -i "s|^loadmodule \"tm.so\"|loadmodule \"tls.so\"\nmodparam(\"tls\", \"config\", \"$work/tls.cfg\")\n&|" "$d/k.cfg"
    fi
    kamailio -f "$d/k.cfg" -DD -E -m 256 -M 32 >"$d/log" 2>&1 &
    echo $!
  else
    "$here/proxy.sh" "$bin" "${labels[$i]#kemi-}" "$p" "$u" "$mode" >"$work/kemi-$i.log" 2>&1 &
    echo $!
  fi
}
results=$work/results
for ((r = 0; r < rounds; r++)); do
  for i in "${!labels[@]}"; do
    p=$((port + i)) u=$((uas + i * 10))
    pid=$(start "$i" "$p" "$u"); sleep 2
    if [ "$mode" = tcp ]; then
      timeout 300 sipp -sf "$shared/uas-rr.xml" -i 127.0.0.1 -p "$u" -nostdin >/dev/null 2>&1 &
      upid=$!; sleep 0.5
      c0=$("$shared/cpu-of.sh" "$pid"); t0=$(date +%s.%N)
      out=$(mktemp -p "$work")
      timeout 250 sipp -sf "$shared/uac-rr.xml" -t t1 -max_socket 100 -i 127.0.0.1 -p $((u + 3)) -m "$calls" -r 100000 -l "$conc" \
        -nostdin -recv_timeout 4000 127.0.0.1:"$p" >"$out" 2>&1
      c1=$("$shared/cpu-of.sh" "$pid")
      kill "$upid" 2>/dev/null; wait "$upid" 2>/dev/null
      ok=$(grep -E "Successful call" "$out" | tail -1 | awk -F'|' '{print $3}' | tr -d ' ')
      bad=$(grep -E "Failed call" "$out" | tail -1 | awk -F'|' '{print $3}' | tr -d ' ')
      cps=$(grep -E "^\s+Call Rate" "$out" | tail -1 | awk -F'|' '{print $3}' | awk '{print $1}')
    else
      c0=$("$shared/cpu-of.sh" "$pid")
      read -r cps ok bad < <(timeout 250 "$work/tlsload" -addr "127.0.0.1:$p" -ca "$work/kemi-selfsigned.pem" -sni sip.example.com \
        -uas "$u" -n "$calls" -c "$conc" 2>"$work/tlsload-$i-$r.err")
      c1=$("$shared/cpu-of.sh" "$pid")
    fi
    kill "$pid" 2>/dev/null; sleep 0.3; kill -9 "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
    us=$(awk -v a="$c0" -v b="$c1" -v t="$tck" -v n="${ok:-0}" 'BEGIN{ if(n>0) printf "%.2f", (b-a)/t*1e6/n; else print "nan"}')
    echo "$i ${cps:-0} ${ok:-0} ${bad:-0} $us" >>"$results"
  done
done
python3 - "$results" "$mode" "${labels[@]}" <<'PY'
import sys, statistics as st
rows = {}
for ln in open(sys.argv[1]):
    i, cps, ok, bad, us = ln.split()
    rows.setdefault(int(i), []).append((float(cps), int(ok), int(bad), float(us) if us != "nan" else float("inf")))
mode, labels = sys.argv[2], sys.argv[3:]
med = {i: st.median(x[3] for x in v) for i, v in rows.items()}
print(f"proxy calls, callers over {mode}")
print(f"{'server':24} {'cpu_us/call':>12} {'calls/s':>9} {'failed':>7} {'/k-native':>10}")
for i, l in enumerate(labels):
    if i not in rows: continue
    print(f"{l:24} {med[i]:12.2f} {st.median(x[0] for x in rows[i]):9.0f} {sum(x[2] for x in rows[i]):7d} {med[i]/med[0]:10.2f}")
PY
echo "logs: $work"
