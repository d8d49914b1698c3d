#!/usr/bin/env bash
# REGISTER over WSS (RFC 7118) with digest authentication, kemi beside
# Kamailio (websocket + tls modules) running the same KEMI script,
# testdata/websocket/ws.lua: registrations per second, server CPU
# microseconds per registration, and the server's memory per idle WSS
# connection. The load client is test/browser/wsload (Go, test-only).
#
# usage: ws-compare.sh KEMI_BIN [ROUNDS] [N] [CONNS] [IDLE]
#   KEMI_BIN  kemi's binary
#   ROUNDS    times each server is measured; servers alternate
#   N         registrations per measurement (after 1000 of warm-up),
#             default 20000
#   CONNS     WSS connections, each with one registration in flight,
#             default 50
#   IDLE      connections held open for the memory figure, default 5000;
#             0 skips it
#
# 200 subscribers u0..u199 (password pwN); connection i registers u(i mod
# 200), so each connection updates its own binding. Each server runs with
# 2 workers (children=2, tcp_children=2).
#
# CPU: user+system ticks of the server and its descendants (/proc/PID/stat)
# over the measured registrations, divided by them; median over rounds.
# Memory: Pss (smaps_rollup, summed over the process tree: Kamailio's
# shared memory counted once) after IDLE connections each registered once,
# minus before, over IDLE; Rss likewise. The servers run without
# authentication there, and connection i registers its own user ui, so
# that each holds one binding (kemi allows 12 per AoR by default).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
kemi=${1:?usage: ws-compare.sh KEMI_BIN [ROUNDS] [N] [CONNS] [IDLE]}
kemi=$(cd "$(dirname "$kemi")" && pwd)/$(basename "$kemi")
rounds=${2:-3} n=${3:-20000} conns=${4:-50} idlen=${5:-5000}
work=$(mktemp -d)
wsload=$work/wsload
(cd "$repo" && go build -o "$wsload" ./test/browser/wsload) || { echo "ws-compare: building wsload failed" >&2; exit 1; }
command -v openssl >/dev/null || { echo "ws-compare: openssl is needed for the certificate" >&2; exit 1; }
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
  -keyout "$work/key.pem" -out "$work/cert.pem" -days 1 -subj /CN=127.0.0.1 \
  -addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1 || { echo "ws-compare: openssl req failed" >&2; exit 1; }

# Subscribers: kemi's database and a db_text directory for Kamailio.
mkdir -p "$work/dbtext"
printf 'id(int,auto) table_name(string) table_version(int) \n0:subscriber:7\n' >"$work/dbtext/version"
printf 'id(int,auto) username(string) domain(string) password(string) ha1(string) ha1b(string) \n' >"$work/dbtext/subscriber"
for i in $(seq 0 199); do
  ha1=$(printf '%s' "u$i:127.0.0.1:pw$i" | md5sum | cut -d' ' -f1)
  ha1b=$(printf '%s' "u$i@127.0.0.1:127.0.0.1:pw$i" | md5sum | cut -d' ' -f1)
  echo "$((i + 1)):u$i:127.0.0.1:pw$i:$ha1:$ha1b" >>"$work/dbtext/subscriber"
  "$kemi" user add -db "$work/kemi.db" "u$i@127.0.0.1" "pw$i" >/dev/null || exit 1
done

labels=(kamailio-lua kemi-lua)
if [ ! -x /usr/sbin/kamailio ] || [ ! -f /usr/lib/x86_64-linux-gnu/kamailio/modules/websocket.so ]; then
  echo "ws-compare: Kamailio with its websocket module is not installed: no Kamailio row" >&2
  labels=(kemi-lua)
fi
# freeports prints two distinct TCP ports of 127.0.0.1 that are free now.
freeports() { python3 -c 'import socket
a, b = socket.socket(), socket.socket()
a.bind(("127.0.0.1", 0)); b.bind(("127.0.0.1", 0))
print(a.getsockname()[1], b.getsockname()[1])'; }

# start LABEL [noauth] -> starts the server on fresh ports; sets pid and wss
start() {
  local label=$1 wsp wssp cfg=$work/$1.cfg auth=(-A WITH_AUTH)
  [ "${2:-}" = noauth ] && auth=()
  read -r wsp wssp < <(freeports)
  local sub="s/WSSPORT/$wssp/;s/WSPORT/$wsp/;s#CERT#$work/cert.pem#;s#KEY#$work/key.pem#;s/CHILDREN/2/g;s#SCRIPT#$repo/testdata/websocket/ws.lua#;s#DBDIR#$work/dbtext#"
  case $label in
    kamailio-lua)
      sed "$sub" "$repo/testdata/websocket/kamailio.cfg" >"$cfg"
      setsid /usr/sbin/kamailio -f "$cfg" -DD -E -m 2048 -M 16 "${auth[@]}" -P "$work/k.pid" >"$work/$label.log" 2>&1 &
      ;;
    kemi-lua)
      sed "$sub;s/ENGINEMOD/app_lua/g;s/cfgengine \"ENGINE\"/cfgengine \"lua\"/" "$repo/testdata/websocket/kemi.cfg" >"$cfg"
      setsid "$kemi" serve -f "$cfg" "${auth[@]}" -A "AUTHDB=\"$work/kemi.db\"" >"$work/$label.log" 2>&1 &
      ;;
  esac
  pid=$! wss=wss://127.0.0.1:$wssp
  for _ in $(seq 100); do
    (exec 3<>/dev/tcp/127.0.0.1/"$wssp") 2>/dev/null && return 0
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "ws-compare: $label does not listen on $wssp; log: $work/$label.log" >&2
  return 1
}
stop() { kill "$1" 2>/dev/null; sleep 0.5; kill -9 "$1" 2>/dev/null; wait "$1" 2>/dev/null; }

results=$work/results
for ((r = 0; r < rounds; r++)); do
  for i in "${!labels[@]}"; do
    start "${labels[$i]}" || continue
    sleep 1
    out=$("$wsload" -url "$wss" -pid "$pid" -c "$conns" -n "$n" 2>&1)
    echo "${labels[$i]} round $r: $out" >&2
    stop "$pid"
    reg=$(sed -n 's/.*registrations=\([0-9]*\).*/\1/p' <<<"$out")
    bad=$(sed -n 's/.*failed=\([0-9]*\).*/\1/p' <<<"$out")
    rate=$(sed -n 's/.*rate=\([0-9.]*\).*/\1/p' <<<"$out")
    us=$(sed -n 's/.*cpu_us_per_reg=\([0-9.]*\).*/\1/p' <<<"$out")
    echo "reg $i ${rate:-0} ${reg:-0} ${bad:-$n} ${us:-nan}" >>"$results"
  done
done
if [ "$idlen" -gt 0 ]; then
  for i in "${!labels[@]}"; do
    start "${labels[$i]}" noauth || continue
    sleep 1
    out=$("$wsload" -url "$wss" -pid "$pid" -idle "$idlen" -noauth -users "$idlen" 2>&1)
    echo "${labels[$i]} idle: $out" >&2
    stop "$pid"
    pss=$(sed -n 's/.*pss_bytes_per_conn=\([0-9.-]*\).*/\1/p' <<<"$out")
    rss=$(sed -n 's/.*rss_bytes_per_conn=\([0-9.-]*\).*/\1/p' <<<"$out")
    echo "idle $i ${pss:-nan} ${rss:-nan}" >>"$results"
  done
fi

python3 - "$results" "$n" "$conns" "$idlen" "${labels[@]}" <<'PY'
import sys, statistics as st
n, conns, idle = sys.argv[2], sys.argv[3], sys.argv[4]
labels = sys.argv[5:]
reg, mem = {}, {}
for ln in open(sys.argv[1]):
    f = ln.split()
    if f[0] == "reg":
        reg.setdefault(int(f[1]), []).append((float(f[2]), int(f[3]), int(f[4]), float(f[5])))
    else:
        mem[int(f[1])] = (float(f[2]), float(f[3]))
print(f"REGISTER over WSS with digest auth, {n} per round, {conns} connections")
print(f"{'server':14} {'cpu_us/reg':>10} {'reg/s':>8} {'failed':>7} {'/kamailio':>10}")
ref = st.median(x[3] for x in reg[0]) if labels[0] == "kamailio-lua" and 0 in reg else float("nan")
for i, l in enumerate(labels):
    if i not in reg: continue
    v = reg[i]
    us = st.median(x[3] for x in v)
    print(f"{l:14} {us:10.1f} {st.median(x[0] for x in v):8.0f} {sum(x[2] for x in v):7d} {us/ref:10.2f}")
if mem:
    print(f"memory per idle WSS connection, {idle} open (registered once each)")
    print(f"{'server':14} {'pss_B/conn':>10} {'rss_B/conn':>10}")
    for i, l in enumerate(labels):
        if i in mem:
            print(f"{l:14} {mem[i][0]:10.0f} {mem[i][1]:10.0f}")
PY
echo "configs and server logs: $work"
