#!/usr/bin/env bash
# Faults (not a test), on one two-node local cluster (bench/cluster.yaml), mesh/client (node1) -> mesh/server
# (node2) through both agents:
#  (i)  1 % packet loss: `iptables -m statistic --mode random --probability 0.01 -j DROP` in INPUT and FORWARD
#       of both node namespaces (tc netem is not available on this kernel). TRANSFERS transfers of MIB MiB
#       each way must complete with equal SHA-256, while a capture on node1's eth0 must hold no plaintext
#       marker and must show the tunnel (tcp port 15008) carrying it. Dropped packets counted by iptables.
#  (ii) the controller SIGKILLed and restarted (same command line) every 5 s for CHAOS_SECONDS while new
#       connections are opened continuously (RATE per second, one line round trip each): none may fail.
#
#   sudo bench/faults.sh [MIB] [TRANSFERS] [CHAOS_SECONDS] [RATE]     (FAULTS_NAME: cluster name, default faults)
#
# Only 198.18.0.0/15, inside the cluster's own namespaces; rules and cluster are removed at exit.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
MIB=${1:-64}
TRANSFERS=${2:-3}
CHAOS=${3:-60}
RATE=${4:-20}
NAME=${FAULTS_NAME:-faults}
RUN=/run/tessera/local/$NAME
W=$(mktemp -d /tmp/tessera-faults.XXXXXX)
[ "$(id -u)" = 0 ] || { echo "bench/faults.sh: needs root (network namespaces, eBPF)" >&2; exit 1; }
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  "$ROOT/tessera" local down --name "$NAME" >/dev/null 2>&1 || true   # the namespaces take the rules with them
  rm -rf "$W"
}
trap cleanup EXIT

netns() { # NAMESPACE/POD | node/NAME -> netns path from network.json
  python3 - "$RUN/network.json" "$1" <<'PY'
import json, sys
n = json.load(open(sys.argv[1])); k = sys.argv[2]
if k.startswith("node/"):
    print([x["netns"] for x in n["nodes"] if x["name"] == k[5:]][0])
else:
    ns, name = k.split("/")
    print([p["netns"] for p in n["pods"] if p["namespace"] == ns and p["name"] == name][0])
PY
}
pod_ip() { python3 -c "import json;n=json.load(open('$RUN/network.json'));print([p['ip'] for p in n['pods'] if p['namespace']=='$1' and p['name']=='$2'][0])"; }

echo "== cluster $NAME; load: $(cut -d' ' -f1-3 /proc/loadavg)"
"$ROOT/tessera" local down --name "$NAME" >/dev/null 2>&1 || true
"$ROOT/tessera" local up -f "$ROOT/bench/cluster.yaml" --name "$NAME"
SERVER_IP=$(pod_ip mesh server)
N1=$(netns node/node1); N2=$(netns node/node2)
nsenter --net="$(netns mesh/server)" -- python3 "$ROOT/bench/fault_transfer.py" server 7100 &
PIDS+=($!)
nsenter --net="$(netns mesh/server)" -- python3 "$ROOT/bench/soak_conns.py" server 7000 &
PIDS+=($!)
sleep 1

echo "== (i) 1% loss in INPUT and FORWARD of both nodes; $TRANSFERS x $MIB MiB each way"
for ns in "$N1" "$N2"; do
  for chain in INPUT FORWARD; do
    nsenter --net="$ns" -- iptables -I "$chain" 1 ! -i lo -m statistic --mode random --probability 0.01 -j DROP
  done
done
nsenter --net="$N1" -- tcpdump -i eth0 -s 256 -w "$W/node1.pcap" -U tcp 2>"$W/tcpdump.err" &
TCPDUMP=$!
PIDS+=($TCPDUMP)
sleep 1
LOSS_OK=1
for i in $(seq 1 "$TRANSFERS"); do
  r=$(nsenter --net="$(netns mesh/client)" -- python3 "$ROOT/bench/fault_transfer.py" client "$SERVER_IP" 7100 "$MIB") \
      || { r="{\"failed\": true}"; LOSS_OK=0; }
  echo "transfer $i: $r"
  echo "$r" | grep -q '"up_ok": true, "down_ok": true' || LOSS_OK=0
done
sleep 1
kill -INT "$TCPDUMP"; wait "$TCPDUMP" 2>/dev/null || true
for ns in node1:"$N1" node2:"$N2"; do
  echo "dropped by the loss rules on ${ns%%:*}: $(nsenter --net="${ns#*:}" -- iptables -L -v -x -n \
      | awk '/statistic/ {s += $1} END {print s}') packets"
done
tail -2 "$W/tcpdump.err"
python3 - "$W/node1.pcap" <<'PY'
import sys
data = open(sys.argv[1], "rb").read()
print("capture on node1 eth0: %.1f MiB, plaintext marker found %d times" % (len(data) / 2**20,
      data.count(b"TESSERA-FAULTS-PLAINTEXT-MARKER!")))
PY
echo "packets on tcp port 15008 (tunnel): $(tcpdump -r "$W/node1.pcap" -nn 'tcp port 15008' 2>/dev/null | wc -l);" \
     "to or from the server pod outside the tunnel: $(tcpdump -r "$W/node1.pcap" -nn "host $SERVER_IP" 2>/dev/null | wc -l)"
for ns in "$N1" "$N2"; do
  for chain in INPUT FORWARD; do
    nsenter --net="$ns" -- iptables -D "$chain" ! -i lo -m statistic --mode random --probability 0.01 -j DROP
  done
done

echo "== (ii) controller killed and restarted every 5 s for ${CHAOS}s; $RATE new connections/s meanwhile"
CP=/var/run/netns/$NAME-cp   # the controller's namespace (cli Names.controlPlaneNetns)
nsenter --net="$(netns mesh/client)" -- python3 "$ROOT/bench/soak_conns.py" churn "$SERVER_IP" 7000 "$((CHAOS + 5))" "$RATE" \
    >"$W/churn.json" &
CHURN=$!
PIDS+=($CHURN)
KILLS=0
END=$(( $(date +%s) + CHAOS ))
while [ "$(date +%s)" -lt "$END" ]; do
  sleep 5
  pid=$(awk '{print $1}' "$RUN/controller.pid")
  mapfile -d '' CMD < "/proc/$pid/cmdline"
  kill -9 "$pid"
  while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  KILLS=$((KILLS + 1))
  MALLOC_ARENA_MAX=2 setsid nsenter --net="$CP" -- "${CMD[@]}" </dev/null >>"$RUN/controller.log" 2>&1 &
  echo "$! 0" >"$RUN/controller.pid"   # so `tessera local down` stops it
  disown
done
wait "$CHURN" || true
echo "controller kills: $KILLS; new connections: $(cat "$W/churn.json")"
echo "== connections the agents ended with a reason other than a normal close (access logs), and warnings"
for n in node1 node2; do
  echo "$n: $(grep -ho '"reason":"[A-Z_]*"' "$RUN/agent-$n.log" | grep -v '"reason":"OK"' | sort | uniq -c | tr '\n' ' ')"
  grep -E ' (WARN|ERROR) ' "$RUN/agent-$n.log" | cut -c1-300 | sort | uniq -c | sort -rn | head -5 || true
done
echo "== load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
[ "$LOSS_OK" = 1 ] || { echo "faults.sh: a transfer under loss failed" >&2; exit 1; }
