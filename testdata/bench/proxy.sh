#!/usr/bin/env bash
# Run kemi as the bench's stateful proxy; compare.sh measures it:
#   compare.sh proxy 3 'kemi-lua=testdata/bench/proxy.sh BIN lua {PORT} {UAS}' ...
# A script cannot learn the UAS port otherwise, so this copies the config
# and script of the engine (lua, js, star) into a temporary folder with
# UASPORT defined at the end of the script (as Kamailio's run-proxy.sh
# does for its anchor), then execs kemi: the measured pid is kemi's.
# A fifth argument adds a stream listen on the same port for the callers:
# tcp, or tls with the tls.cfg file TLSCFG names (stream-compare.sh).
set -euo pipefail
bin=${1:?kemi binary} ext=${2:?lua, js or star} port=${3:?SIP port} uas=${4:?UAS port} proto=${5:-udp}
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
cp "$here/proxy-$ext.cfg" "$tmp/kemi.cfg"
cp "$here/proxy.$ext" "$tmp/proxy.$ext"
case $ext in
  js) printf '\nvar UASPORT = %s;\n' "$uas" >>"$tmp/proxy.$ext" ;;
  *) printf '\nUASPORT = %s\n' "$uas" >>"$tmp/proxy.$ext" ;;
esac
extra=()
case $proto in
  udp) ;;
  tcp) extra=(-l "tcp:127.0.0.1:$port") ;;
  tls) printf 'enable_tls=yes\nloadmodule "tls.so"\nmodparam("tls", "config", "%s")\n' "${TLSCFG:?TLSCFG: the tls.cfg file}" >>"$tmp/kemi.cfg"
       extra=(-l "tls:127.0.0.1:$port") ;;
  *) echo "proxy.sh: transport udp, tcp or tls, not $proto" >&2; exit 2 ;;
esac
exec "$bin" serve -f "$tmp/kemi.cfg" -l "udp:127.0.0.1:$port" "${extra[@]}"
