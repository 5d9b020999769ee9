#!/usr/bin/env bash
# Soak (not a test): CONNECTIONS concurrent meshed connections (default 10,000) from mesh/client on node1 to
# mesh/server on node2 (bench/cluster.yaml), held HOLD_SECONDS (default 120) with traffic (each connection
# sends a line every 5 s and checks the echo). Both agents' RSS and open descriptors (from /proc) are sampled
# every 10 s, and again after the connections closed. Prints the samples and a summary; writes nothing.
#
#   sudo bench/soak.sh [CONNECTIONS] [HOLD_SECONDS]        (SOAK_NAME: the local cluster's name, default soak)
#
# Only 198.18.0.0/15, inside the cluster's own namespaces; the cluster is removed at exit.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
N=${1:-10000}
HOLD=${2:-120}
NAME=${SOAK_NAME:-soak}
RUN=/run/tessera/local/$NAME
W=$(mktemp -d /tmp/tessera-soak.XXXXXX)
[ "$(id -u)" = 0 ] || { echo "bench/soak.sh: needs root (network namespaces, eBPF)" >&2; exit 1; }
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"   # client, echo server and agents inherit it

PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  "$ROOT/tessera" local down --name "$NAME" >/dev/null 2>&1 || true
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
agent_pid() { awk '{print $1}' "$RUN/agent-$1.pid"; }
rss_mb() { awk '/VmRSS/ {printf "%.0f", $2/1024}' "/proc/$1/status"; }
fds() { ls "/proc/$1/fd" | wc -l; }
sample() { # label
  local a1 a2; a1=$(agent_pid node1); a2=$(agent_pid node2)
  printf '%-10s %6s %8s %8s %8s %8s\n' "$1" "$(( $(date +%s) - T0 ))" "$(rss_mb "$a1")" "$(fds "$a1")" \
      "$(rss_mb "$a2")" "$(fds "$a2")" | tee -a "$W/samples"
}

echo "== cluster $NAME (bench/cluster.yaml); load: $(cut -d' ' -f1-3 /proc/loadavg)"
"$ROOT/tessera" local down --name "$NAME" >/dev/null 2>&1 || true
"$ROOT/tessera" local up -f "$ROOT/bench/cluster.yaml" --name "$NAME"
SERVER_IP=$(python3 -c "import json;n=json.load(open('$RUN/network.json'));print([p['ip'] for p in n['pods'] if p['namespace']=='mesh' and p['name']=='server'][0])")

nsenter --net="$(netns mesh/server)" -- python3 "$ROOT/bench/soak_conns.py" server 7000 &
PIDS+=($!)
sleep 1
T0=$(date +%s)
printf '%-10s %6s %8s %8s %8s %8s\n' phase t_s rss1_MB fds1 rss2_MB fds2 | tee "$W/samples"
sample idle

echo "== $N connections, held ${HOLD}s with a line every 5 s each"
nsenter --net="$(netns mesh/client)" -- python3 "$ROOT/bench/soak_conns.py" hold "$SERVER_IP" 7000 "$N" "$HOLD" 5 \
    >"$W/result.json" 2>"$W/progress" &
CLIENT=$!
PIDS+=($CLIENT)
while kill -0 "$CLIENT" 2>/dev/null; do
  sleep 10
  kill -0 "$CLIENT" 2>/dev/null || break
  sample "$(tail -1 "$W/progress" | awk '{print $2}' | tr -d 'open=' || echo -)"
done
wait "$CLIENT" || true
cat "$W/progress" >&2
sample closed
for _ in $(seq 1 6); do sleep 10; sample after; done
N1=$(netns node/node1)
echo "after: node1's HBONE connections to node2 (pooled tunnels, kept until their idle timeout): $(nsenter --net="$N1" -- \
    ss -tnH state established '( dport = :15008 )' | wc -l); sockets held by agent 1: $(ls -l "/proc/$(agent_pid node1)/fd" \
    | grep -c socket:)"
echo "== client result"
cat "$W/result.json"
echo "== connections the agents ended with a reason other than a normal close (access logs), and warnings"
for n in node1 node2; do
  echo "$n: $(grep -ho '"reason":"[A-Z_]*"' "$RUN/agent-$n.log" | grep -v '"reason":"OK"' | sort | uniq -c | tr '\n' ' ')"
  grep -E ' (WARN|ERROR) ' "$RUN/agent-$n.log" | cut -c1-300 | sort | uniq -c | sort -rn | head -5 || true
done
echo "== load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
