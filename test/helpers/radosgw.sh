#!/bin/bash
# Starts a throwaway one-node Ceph cluster (monitor + memstore OSD) and radosgw, all on 127.0.0.1,
# and keeps it running until stdin closes or a signal arrives; then stops every daemon it started.
# usage: radosgw.sh DIR MON_PORT RGW_PORT OSD_PORT_MIN OSD_PORT_MAX ACCESS_KEY SECRET_KEY
# Prints "READY" on stdout once S3 answers at http://127.0.0.1:RGW_PORT with the given keys.
# Recipe and pitfalls: /work/shared/real-servers.md, section 5.
set -euo pipefail
D=$1; MONP=$2; RGWP=$3; PMIN=$4; PMAX=$5; AK=$6; SK=$7
C=$D/ceph.conf
pids=()
ready=0

stop_all() {
  trap - EXIT INT TERM HUP
  # Order matters: an OSD whose monitor is gone waits ~5 s before exiting.
  local rgw=${pids[2]:-} osd=${pids[1]:-} mon=${pids[0]:-}
  [ -n "$rgw" ] && kill "$rgw" 2>/dev/null && wait_gone "$rgw" 50
  [ -n "$osd" ] && kill "$osd" 2>/dev/null && wait_gone "$osd" 100
  [ -n "$mon" ] && kill "$mon" 2>/dev/null && wait_gone "$mon" 50
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  # Once it ran, nobody needs the data; before that, the caller wants the logs.
  [ "$ready" = 1 ] && rm -rf "$D"
  return 0
}
# wait_gone PID TENTHS: wait for PID to exit, at most TENTHS/10 s (then the caller's kill -9 finishes it)
wait_gone() { local i=0; while kill -0 "$1" 2>/dev/null && [ $i -lt "$2" ]; do sleep 0.1; i=$((i + 1)); done; return 0; }
trap stop_all EXIT
trap 'exit 143' INT TERM HUP

mkdir -p "$D"/{run,log,mon,osd,rgw}
FSID=$(cat /proc/sys/kernel/random/uuid)
cat > "$C" <<CONF
[global]
fsid = $FSID
mon host = v2:127.0.0.1:$MONP
mon initial members = a
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind port min = $PMIN
ms bind port max = $PMAX
ms bind msgr1 = false
auth cluster required = none
auth service required = none
auth client required = none
ms mon client mode = crc
ms client mode = crc
ms service mode = crc
ms cluster mode = crc
ms bind ipv6 = false
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
mon data avail warn = 1
mon max pg per osd = 1000
run dir = $D/run
admin socket = $D/run/\$name.asok
log file = $D/log/\$name.log
# Quiet logs: the default levels cost radosgw and the OSD noticeable CPU per request.
debug rgw = 0/0
debug ms = 0/0
debug osd = 0/0
debug objclass = 0/0
debug rados = 0/0
debug monc = 0/0
debug auth = 0/0
debug filestore = 0/0
debug memstore = 0/0
debug paxos = 0/0
debug mon = 0/0
rgw enable usage log = false
rgw enable ops log = false
[mon]
mon data = $D/mon/\$cluster-\$id
[osd]
osd data = $D/osd/\$cluster-\$id
osd objectstore = memstore
memstore device bytes = 1073741824
[client.rgw.a]
rgw frontends = beast endpoint=127.0.0.1:$RGWP
rgw data = $D/rgw
rgw dns name = localhost
CONF

monmaptool --create --add a "v2:127.0.0.1:$MONP" --fsid "$FSID" "$D/monmap" >/dev/null
ceph-mon -c "$C" --mkfs -i a --monmap "$D/monmap"
ceph-mon -c "$C" -i a -f > "$D/log/mon.out" 2>&1 & pids[0]=$!
until timeout 5 ceph -c "$C" --connect-timeout 3 mon stat >/dev/null 2>&1; do
  kill -0 "${pids[0]}" 2>/dev/null || { echo "ceph-mon exited; see $D/log" >&2; exit 1; }
  sleep 0.2
done
OU=$(cat /proc/sys/kernel/random/uuid); ID=$(ceph -c "$C" osd new "$OU")
mkdir -p "$D/osd/ceph-$ID"
ceph-osd -c "$C" -i "$ID" --mkfs --osd-uuid "$OU" >/dev/null 2>&1
ceph-osd -c "$C" -i "$ID" -f > "$D/log/osd.out" 2>&1 & pids[1]=$!
until ceph -c "$C" osd stat 2>/dev/null | grep -q '1 up'; do
  kill -0 "${pids[1]}" 2>/dev/null || { echo "ceph-osd exited; see $D/log" >&2; exit 1; }
  sleep 0.3
done
radosgw -c "$C" -n client.rgw.a -f > "$D/log/rgw.out" 2>&1 & pids[2]=$!
until curl -sf -o /dev/null "http://127.0.0.1:$RGWP/"; do
  kill -0 "${pids[2]}" 2>/dev/null || { echo "radosgw exited; see $D/log" >&2; exit 1; }
  sleep 0.25
done
radosgw-admin -c "$C" user create --uid=test --display-name=test --access-key="$AK" --secret-key="$SK" >/dev/null
ready=1
echo READY
# Run until the parent closes stdin (also when it dies without cleaning up), then stop everything.
while read -r _; do :; done
