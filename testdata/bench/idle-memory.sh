#!/usr/bin/env bash
# Memory per idle TCP and per idle TLS connection, kemi next to Kamailio,
# N connections (default 10000) opened by test/idleconns, each having
# carried one OPTIONS and its 200. Kamailio (one worker, Debian's tls
# module, the seed's native config) is measured as the sum of PSS over
# its process tree (its connections live in shared memory, touched by
# several processes) and its shm use (core.shmmem over ctl); kemi as its
# RSS (one process). Figures: (after - before) / N.
# usage: [HOLD=seconds held before measuring, default 3] testdata/bench/idle-memory.sh [N] [kemi|kamailio|both]
# Needs: make build (bin/kemi), kamailio with kamailio-tls-modules, openssl,
# an open-files hard limit above N+100.
set -uo pipefail
n=${1:-10000}; which=${2:-both}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
work=$(mktemp -d)
(cd "$work" && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 365 \
  -subj "/CN=sip.example.com" -keyout k.key -out k.pem) >/dev/null 2>&1 || { echo "openssl failed" >&2; exit 1; }
printf '[server:default]\nmethod = TLSv1.2+\ncertificate = %s/k.pem\nprivate_key = %s/k.key\nverify_certificate = no\nrequire_certificate = no\n' "$work" "$work" >"$work/tls.cfg"
(cd "$root" && go build -o "$work/idleconns" ./test/idleconns) || exit 1
ulimit -n "$(ulimit -Hn)"
max=$((n + 100))
tree() { echo "$1" $(pgrep -P "$1"); }
pss_kb() { local t=0 p v; for p in $(tree "$1"); do
  v=$(awk '/^Pss:/{print $2}' /proc/$p/smaps_rollup 2>/dev/null); t=$((t + ${v:-0})); done; echo $t; }
rss_kb() { local t=0 p v; for p in $(tree "$1"); do
  v=$(awk '/^VmRSS:/{print $2}' /proc/$p/status 2>/dev/null); t=$((t + ${v:-0})); done; echo $t; }
shm_used() { kamcmd -s "unix:$work/ctl.sock" core.shmmem 2>/dev/null | awk '/used:/{print $2; exit}'; }
start_kamailio() { # port
  cat >"$work/k.cfg" <<CFG
#!KAMAILIO
debug=0
log_stderror=yes
children=1
tcp_children=1
auto_aliases=no
enable_tls=yes
tcp_max_connections=$max
tls_max_connections=$max
tcp_connection_lifetime=3600
open_files_limit=$(ulimit -Hn)
listen=tcp:127.0.0.1:$1
listen=tls:127.0.0.1:$(($1 + 1))
loadmodule "tls.so"
modparam("tls", "config", "$work/tls.cfg")
loadmodule "ctl.so"
modparam("ctl", "binrpc", "unix:$work/ctl.sock")
loadmodule "sl.so"
loadmodule "maxfwd.so"
request_route {
	if (!mf_process_maxfwd_header("10")) { sl_send_reply("483", "Too Many Hops"); exit; }
	sl_send_reply("200", "OK Native");
	exit;
}
CFG
  kamailio -f "$work/k.cfg" -DD -E -m 2048 -M 64 >"$work/k.log" 2>&1 &
  echo $!
}
start_kemi() { # port
  cp "$here/seed.lua" "$work/"
  { cat "$here/seed-lua.cfg"
    printf 'tcp_max_connections=%d\ntls_max_connections=%d\ntcp_connection_lifetime=3600\n' $max $max
    printf 'enable_tls=yes\nloadmodule "tls.so"\nmodparam("tls", "config", "%s")\n' "$work/tls.cfg"; } >"$work/kemi.cfg"
  "$root/bin/kemi" serve -f "$work/kemi.cfg" -l "tcp:127.0.0.1:$1" -l "tls:127.0.0.1:$(($1 + 1))" >"$work/kemi.log" 2>&1 &
  echo $!
}
measure() { # name pid port tls
  local name=$1 pid=$2 port=$3 tls=$4 flag=() s0 s1 p0 p1 r0 r1
  [ "$tls" = 1 ] && flag=(-tls) && port=$((port + 1))
  # one connection first, so what every server sets up once is counted before
  echo | "$work/idleconns" -addr "127.0.0.1:$port" -n 1 "${flag[@]}" >/dev/null || { echo "$name: warm-up failed" >&2; return; }
  sleep 1
  p0=$(pss_kb "$pid"); r0=$(rss_kb "$pid"); s0=$(shm_used)
  coproc CL { "$work/idleconns" -addr "127.0.0.1:$port" -n "$n" "${flag[@]}"; }
  local line; read -r line <&"${CL[0]}"
  case $line in ready*) ;; *) echo "$name: client: $line" >&2; kill "$CL_PID"; return ;; esac
  sleep "${HOLD:-3}"
  p1=$(pss_kb "$pid"); r1=$(rss_kb "$pid"); s1=$(shm_used)
  local what=TCP; [ "$tls" = 1 ] && what=TLS
  awk -v nm="$name" -v w="$what" -v n="$n" -v p0="$p0" -v p1="$p1" -v r0="$r0" -v r1="$r1" -v s0="${s0:-}" -v s1="${s1:-}" 'BEGIN{
    shm = (s0 != "" && s1 != "") ? sprintf("%.1f kB", (s1-s0)/1024/n) : "-";
    printf "%-9s %s  n=%d  PSS %.1f kB/conn  RSS %.1f kB/conn  shm used %s/conn\n", nm, w, n, (p1-p0)/n, (r1-r0)/n, shm }'
  echo >&"${CL[1]}"; wait "$CL_PID" 2>/dev/null
  sleep 2
}
port=5900
if [ "$which" != kemi ]; then
  for tls in 0 1; do
    pid=$(start_kamailio $port); sleep 3
    measure kamailio "$pid" $port $tls
    kill $(pgrep -P "$pid") "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; port=$((port + 2)); sleep 1
  done
fi
if [ "$which" != kamailio ]; then
  for tls in 0 1; do
    pid=$(start_kemi $port); sleep 2
    measure kemi "$pid" $port $tls
    kill "$pid"; wait "$pid" 2>/dev/null; port=$((port + 2))
  done
fi
echo "logs: $work"
