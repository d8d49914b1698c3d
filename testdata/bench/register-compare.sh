#!/usr/bin/env bash
# REGISTER load through Kamailio's example KEMI Lua script, kemi beside
# Kamailio in one run: server CPU microseconds per registration.
#
# usage: register-compare.sh KEMI_BIN [ROUNDS] [N] [LIMIT]
#   KEMI_BIN  kemi's binary
#   ROUNDS    times each server is measured; servers alternate (A B C A B C ...)
#   N, LIMIT  registrations per measurement and at most LIMIT in flight
#             (sipp closed loop), default 20000 and 100
#
# Two modes:
#   noauth  REGISTER -> 200 (auth modules not loaded: the script then skips
#           authentication, since it checks KSR.auth)
#   auth    REGISTER -> 401, REGISTER with digest credentials -> 200; the
#           figure is per registration (two requests)
# Servers: kamailio-lua (Kamailio 5.6 + the example script, usrloc in
# memory; its subscribers in a db_text directory), kemi-example-lua (kemi +
# the same script), and kemi's own registrar scripts in Lua, JS and
# Starlark. 200 subscribers u0..u199 exist; u0 registers over and over
# (sipp cannot take per-call credentials here), so one binding is updated,
# not piled up. Each server runs with 2 workers (children=2).
#
# Figures: CPU ticks of the server's process tree over the sipp run
# (../../../shared/bench/kamailio/cpu-of.sh, or $SHARED/bench/kamailio),
# divided by successful registrations; the median over the rounds.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
kemi=${1:?usage: register-compare.sh KEMI_BIN [ROUNDS] [N] [LIMIT]}
kemi=$(cd "$(dirname "$kemi")" && pwd)/$(basename "$kemi")
rounds=${2:-3} n=${3:-20000} limit=${4:-100}
shared=${SHARED:-$repo/../shared}
cpuof=$shared/bench/kamailio/cpu-of.sh
example=/usr/share/doc/kamailio/examples/kemi/kamailio-basic-kemi-lua.lua
[ -x "$cpuof" ] || { echo "register-compare: $cpuof not found (set SHARED)" >&2; exit 1; }
command -v sipp >/dev/null || { echo "register-compare: sipp is not installed" >&2; exit 1; }
# Without the example script there is nothing to compare: skip, so that
# make bench goes on.
[ -f "$example" ] || { echo "register-compare: skipped: $example is missing (apt-get install kamailio)" >&2; exit 0; }
tck=$(getconf CLK_TCK)
work=$(mktemp -d)
# freeport prints a UDP port of 127.0.0.1 that is free right now.
freeport() { python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# Subscribers: kemi's database and a db_text directory for Kamailio.
mkdir -p "$work/dbtext"
printf 'id(int,auto) table_name(string) table_version(int) \n0:subscriber:7\n' >"$work/dbtext/version"
printf 'id(int,auto) username(string) domain(string) password(string) ha1(string) ha1b(string) \n' >"$work/dbtext/subscriber"
for i in $(seq 0 199); do
  # db_text reads an empty column as null, which the table forbids: the
  # HA1 columns get their values (unused, since calculate_ha1 is on).
  ha1=$(printf '%s' "u$i:127.0.0.1:pw$i" | md5sum | cut -d' ' -f1)
  ha1b=$(printf '%s' "u$i@127.0.0.1:127.0.0.1:pw$i" | md5sum | cut -d' ' -f1)
  echo "$((i + 1)):u$i:127.0.0.1:pw$i:$ha1:$ha1b" >>"$work/dbtext/subscriber"
  "$kemi" user add -db "$work/kemi.db" "u$i@127.0.0.1" "pw$i" >/dev/null || exit 1
done

labels=(kamailio-lua kemi-example-lua kemi-own-lua kemi-own-js kemi-own-star)
if ! command -v kamailio >/dev/null; then
  echo "register-compare: kamailio is not installed: no Kamailio row" >&2
  labels=("${labels[@]:1}")
fi
# cfg LABEL MODE PORT -> writes a config, prints the command that runs it
server_cmd() {
  local label=$1 mode=$2 p=$3 cfg=$work/$1-$2.cfg
  local mod=app_lua eng=lua script=$example
  case $label in
    kamailio-lua)
      sed "s/CHILDREN/2/;s/PORT/$p/;s#SCRIPT#$example#;s#DBDIR#$work/dbtext#" "$here/register-kamailio.cfg" >"$cfg"
      local a=""; [ "$mode" = auth ] && a="-A WITH_AUTH"
      echo "kamailio -f $cfg -DD -E -m 256 -M 32 $a -P $work/k.pid"
      return ;;
    kemi-own-lua) script=$repo/testdata/registrar/kemi.lua ;;
    kemi-own-js) mod=app_jsdt eng=jsdt script=$repo/testdata/registrar/kemi.js ;;
    kemi-own-star) mod=app_starlark eng=starlark script=$repo/testdata/registrar/kemi.star ;;
  esac
  sed "s/CHILDREN/2/;s/PORT/$p/;s#SCRIPT#$script#;s/ENGINEMOD/$mod/g;s/cfgengine \"ENGINE\"/cfgengine \"$eng\"/" "$here/register-kemi.cfg" >"$cfg"
  if [ "$mode" = auth ]; then
    echo "$kemi serve -f $cfg -A 'AUTHDB=\"$work/kemi.db\"'"
  else
    echo "$kemi serve -f $cfg -A NOAUTH"
  fi
}

stop() { kill "$1" 2>/dev/null; sleep 0.3; kill -9 "$1" 2>/dev/null; wait "$1" 2>/dev/null; }

results=$work/results
for mode in noauth auth; do
  for ((r = 0; r < rounds; r++)); do
    for i in "${!labels[@]}"; do
      p=$(freeport)
      cmd=$(server_cmd "${labels[$i]}" "$mode" "$p")
      setsid bash -c "exec $cmd" >"$work/${labels[$i]}-$mode-$r.log" 2>&1 &
      pid=$!
      sleep 2
      out=$work/sipp.out
      c0=$("$cpuof" "$pid")
      timeout 180 sipp -sf "$here/register-$mode.xml" -s u0 -au u0 -ap pw0 -m "$n" -r 1000000 -l "$limit" \
        -i 127.0.0.1 -nostdin -recv_timeout 3000 "127.0.0.1:$p" >"$out" 2>&1
      c1=$("$cpuof" "$pid")
      stop "$pid"
      ok=$(grep -E "Successful call" "$out" | tail -1 | awk -F'|' '{print $3}' | tr -d ' ')
      bad=$(grep -E "Failed call" "$out" | tail -1 | awk -F'|' '{print $3}' | tr -d ' ')
      cps=$(grep -E "^\s+Call Rate" "$out" | tail -1 | awk -F'|' '{print $3}' | awk '{print $1}')
      us=$(awk -v a="$c0" -v b="$c1" -v t="$tck" -v n="${ok:-0}" 'BEGIN{ if(n>0) printf "%.2f", (b-a)/t*1e6/n; else print "nan"}')
      echo "$mode $i ${cps:-0} ${ok:-0} ${bad:-0} $us" >>"$results"
    done
  done
done

python3 - "$results" "${labels[@]}" <<'PY'
import sys, statistics as st
rows = {}
for ln in open(sys.argv[1]):
    mode, i, cps, ok, bad, us = ln.split()
    rows.setdefault((mode, int(i)), []).append((float(cps), int(ok), int(bad), float(us) if us != "nan" else float("inf")))
labels = sys.argv[2:]
print(f"{'mode':7} {'server':18} {'cpu_us/reg':>10} {'rate/s':>8} {'failed':>7} {'/kamailio':>10}")
for mode in ("noauth", "auth"):
    med = {i: st.median(x[3] for x in rows[(mode, i)]) for i in range(len(labels)) if (mode, i) in rows}
    ref = med.get(0, float("nan")) if labels[0] == "kamailio-lua" else float("nan")
    for i, l in enumerate(labels):
        if i not in med: continue
        v = rows[(mode, i)]
        print(f"{mode:7} {l:18} {med[i]:10.2f} {st.median(x[0] for x in v):8.0f} {sum(x[2] for x in v):7d} {med[i]/ref:10.2f}")
PY
echo "configs and server logs: $work"
