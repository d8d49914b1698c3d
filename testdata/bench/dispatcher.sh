#!/usr/bin/env bash
# Run a server for the dispatcher bench; compare.sh's proxy scenario
# measures it (one UAS, so the set holds three entries on that UAS, told
# apart by a URI parameter, and round robin walks them):
#   compare.sh proxy 3 \
#     'kamailio-ds=testdata/bench/dispatcher.sh kamailio native {PORT} {UAS}' \
#     'kemi-lua=testdata/bench/dispatcher.sh BIN lua {PORT} {UAS}' ...
# BIN is kemi's binary, or "kamailio" for Kamailio's own dispatcher in its
# native language (dispatcher-kamailio.cfg). Exec's the server, so the
# measured pid is the server's.
set -euo pipefail
bin=${1:?kemi binary or kamailio} ext=${2:?lua, js, star or native} port=${3:?SIP port} uas=${4:?UAS port}
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
for i in 1 2 3; do echo "1 sip:127.0.0.1:$uas;ms=$i"; done >"$tmp/dispatcher.list"
if [ "$bin" = kamailio ]; then
  sed "s/CHILDREN/1/;s/PORT/$port/;s|DSLIST|$tmp/dispatcher.list|" "$here/dispatcher-kamailio.cfg" >"$tmp/k.cfg"
  exec kamailio -f "$tmp/k.cfg" -DD -E -m 2048 -M 32
fi
sed "s|DSLIST|$tmp/dispatcher.list|" "$here/dispatcher-$ext.cfg" >"$tmp/kemi.cfg"
cp "$here/dispatcher.$ext" "$tmp/dispatcher.$ext"
exec "$bin" serve -f "$tmp/kemi.cfg" -l "udp:127.0.0.1:$port"
