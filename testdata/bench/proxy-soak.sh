#!/usr/bin/env bash
# Soak the stateful proxy: N calls (default 200000) through sipp uac -> kemi
# -> sipp uas (../shared/bench/kamailio/uac-rr.xml, uas-rr.xml), 100 at
# once, printing kemi's RSS before, every 50000 calls, and after the wait
# timer freed the last transactions. Memory must stay flat.
# usage: proxy-soak.sh KEMI_BIN [lua|js|star] [N]
set -uo pipefail
bin=${1:?kemi binary} ext=${2:-lua} n=${3:-200000}
here=$(cd "$(dirname "$0")" && pwd)
k=${SHARED:-$here/../../../shared}/bench/kamailio
port=5380 uas=5480
rss() { ps -o rss= -p "$1" | tr -d ' '; }
"$here/proxy.sh" "$bin" "$ext" $port $uas >/tmp/kemi-soak.log 2>&1 &
pid=$!
sleep 1
sipp -sf "$k/uas-rr.xml" -i 127.0.0.1 -p $uas -nostdin >/dev/null 2>&1 &
upid=$!
sleep 0.5
echo "start: rss $(rss $pid) KiB"
step=50000 done=0
while [ $done -lt "$n" ]; do
  m=$(( n - done < step ? n - done : step ))
  out=$(sipp -sf "$k/uac-rr.xml" -i 127.0.0.1 -p $((uas + 3)) -m $m -r 100000 -l 100 -nostdin -recv_timeout 4000 127.0.0.1:$port 2>&1)
  ok=$(grep -E "Successful call" <<<"$out" | tail -1 | awk -F'|' '{print $3}' | tr -d ' ')
  bad=$(grep -E "Failed call" <<<"$out" | tail -1 | awk -F'|' '{print $3}' | tr -d ' ')
  done=$(( done + m ))
  echo "after $done calls: rss $(rss $pid) KiB (this batch: $ok ok, $bad failed)"
done
sleep 7
echo "7 s later (wait timer over): rss $(rss $pid) KiB"
kill $upid $pid 2>/dev/null
wait 2>/dev/null
