#!/usr/bin/env bash
# Tessera benchmark: direct path vs mesh path vs an haproxy mTLS tunnel pair, in ONE run, on the same
# two-node network-namespace cluster. Not a test: it prints figures and ratios and writes
# bench/RESULTS.md. Needs root.   Usage: sudo bench/run.sh [SECONDS_PER_MEASUREMENT]
#
# Layout (bench/cluster.yaml): node1 runs the clients, node2 the servers; node1's processes (clients,
# agent, haproxy client side) are pinned to CPU 0 and node2's to CPU 1.
#   direct: plain/client -> plain/server                       (no agent involved)
#   mesh:   mesh/client  -> agent node1 =HBONE mTLS=> agent node2 -> mesh/server
#   peer:   plain/client -> haproxy node1 =TLS 1.3 mTLS=> haproxy node2 -> plain/server
# The new-connection rows also run each path on ONE node (servers "server-local" on node1; the haproxy
# pair then has both halves on node1; the mesh goes through node1's agent only, no tunnel).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SECS=${1:-10}
NAME=${BENCH_NAME:-bench}
ONLY=${BENCH_ONLY:-}
RUN=/run/tessera/local/$NAME
W=$(mktemp -d /tmp/tessera-bench.XXXXXX)
OUT=$ROOT/bench/RESULTS.md
[ -z "$ONLY" ] || OUT=$W/RESULTS.md
[ "$(id -u)" = 0 ] || { echo "bench/run.sh: needs root (network namespaces, eBPF)" >&2; exit 1; }
"$ROOT/scripts/setup.sh" --bench

PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for f in "$W"/*.pid; do [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null || true; done
  "$ROOT/tessera" local down --name "$NAME" >/dev/null 2>&1 || true
  rm -rf "$W"
}
trap cleanup EXIT

echo "== starting the cluster"
"$ROOT/tessera" local down --name "$NAME" >/dev/null 2>&1 || true
# The agents start already pinned to one CPU, like haproxy (started with taskset below): each proxy then
# sizes its threads for the one core it has (haproxy: nbthread 1; the agent: one event loop) instead of
# being squeezed onto one core after it started threads for two.
"$ROOT/tessera" --help >/dev/null   # builds what is stale, on both CPUs
taskset -c 0 "$ROOT/tessera" local up -f "$ROOT/bench/cluster.yaml" --name "$NAME"

netns() { # netns() NAMESPACE/POD|node/NAME -> netns path from network.json
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
in_ns() { local cpu=$1 ns=$2; shift 2; taskset -c "$cpu" nsenter --net="$(netns "$ns")" -- "$@"; }
agent_pid() { awk "{print \$1}" "$RUN/agent-$1.pid"; }
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }

taskset -a -p -c 0 "$(agent_pid node1)" >/dev/null
taskset -a -p -c 1 "$(agent_pid node2)" >/dev/null

echo "== servers (nginx, iperf3) in both server pods"
mkdir -p "$W/www"
head -c 100 /dev/zero | tr '\0' x > "$W/www/100b"
head -c 1024 /dev/zero | tr '\0' x > "$W/www/1k"
head -c 65536 /dev/zero | tr '\0' x > "$W/www/64k"
for pod in mesh/server plain/server mesh/server-local plain/server-local; do
  tag=${pod//\//-}
  cpu=1; [[ $pod == */server-local ]] && cpu=0
  cat > "$W/nginx-$tag.conf" <<NGX
worker_processes 1;
daemon on;
pid $W/nginx-$tag.pid;
error_log $W/nginx-$tag.err;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  client_body_temp_path $W; proxy_temp_path $W; fastcgi_temp_path $W; uwsgi_temp_path $W; scgi_temp_path $W;
  server { listen 8080 reuseport backlog=4096; root $W/www; }
}
NGX
  in_ns "$cpu" "$pod" nginx -c "$W/nginx-$tag.conf"
  [ "$cpu" = 0 ] || in_ns 1 "$pod" iperf3 -s -p 5201 -D -I "$W/iperf-$tag.pid"
done

echo "== haproxy mTLS pair (ECDSA P-256, TLS 1.3) on node1 -> node2"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=bench-ca \
  -keyout "$W/ca.key" -out "$W/ca.crt" 2>/dev/null
for who in client server; do
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=$who" \
    -keyout "$W/$who.key" -out "$W/$who.csr" 2>/dev/null
  openssl x509 -req -in "$W/$who.csr" -CA "$W/ca.crt" -CAkey "$W/ca.key" -CAcreateserial -days 2 \
    -out "$W/$who.crt" 2>/dev/null
  cat "$W/$who.crt" "$W/$who.key" > "$W/$who.pem"
done
cat > "$W/haproxy1.cfg" <<HA
global
  maxconn 8000
  ssl-default-server-ciphersuites TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256
defaults
  mode tcp
  timeout connect 5s
  timeout client 120s
  timeout server 120s
frontend http_in
  bind 198.18.0.1:18080
  default_backend http_out
backend http_out
  server s 198.18.0.2:18443 ssl ssl-min-ver TLSv1.3 verify required ca-file $W/ca.crt crt $W/client.pem verifyhost server
frontend iperf_in
  bind 198.18.0.1:15201
  default_backend iperf_out
backend iperf_out
  server s 198.18.0.2:15202 ssl ssl-min-ver TLSv1.3 verify required ca-file $W/ca.crt crt $W/client.pem verifyhost server
# same-node pair (both halves on node1) for the same-node new-connection row
frontend local_in
  bind 198.18.0.1:18081
  default_backend local_out
backend local_out
  server s 198.18.0.1:18444 ssl ssl-min-ver TLSv1.3 verify required ca-file $W/ca.crt crt $W/client.pem verifyhost server
frontend local_tls
  bind 198.18.0.1:18444 ssl crt $W/server.pem ca-file $W/ca.crt verify required ssl-min-ver TLSv1.3
  default_backend local
backend local
  server s 198.18.1.21:8080
HA
cat > "$W/haproxy2.cfg" <<HA
global
  maxconn 8000
defaults
  mode tcp
  timeout connect 5s
  timeout client 120s
  timeout server 120s
frontend http_tls
  bind 198.18.0.2:18443 ssl crt $W/server.pem ca-file $W/ca.crt verify required ssl-min-ver TLSv1.3
  default_backend http
backend http
  server s 198.18.2.11:8080
frontend iperf_tls
  bind 198.18.0.2:15202 ssl crt $W/server.pem ca-file $W/ca.crt verify required ssl-min-ver TLSv1.3
  default_backend iperf
backend iperf
  server s 198.18.2.11:5201
HA
in_ns 0 node/node1 haproxy -D -f "$W/haproxy1.cfg" -p "$W/haproxy1.pid"
in_ns 1 node/node2 haproxy -D -f "$W/haproxy2.cfg" -p "$W/haproxy2.pid"

# path -> "client-pod http-host http-port iperf-host iperf-port"
declare -A PATHS=(
  [direct]="plain/client 198.18.2.11 8080 198.18.2.11 5201"
  [mesh]="mesh/client 198.18.2.10 8080 198.18.2.10 5201"
  [peer]="plain/client 198.18.0.1 18080 198.18.0.1 15201"
)
declare -A R
LOADGEN="java -XX:+UseSerialGC -Xmx256m $ROOT/bench/LoadGen.java"

# New connections at a low fixed rate (one every 200 ms, 40 samples after 5 unmeasured ones), one at a
# time: time to the first response byte and to the end of a 1 KB response, from just before connect().
# This is what a client without a connection pool pays on every connection (issue 17).
# path.where -> "client-pod host port"
declare -A NC=(
  [direct.cross]="plain/client 198.18.2.11 8080" [mesh.cross]="mesh/client 198.18.2.10 8080"
  [peer.cross]="plain/client 198.18.0.1 18080"
  [direct.same]="plain/client 198.18.1.21 8080" [mesh.same]="mesh/client 198.18.1.20 8080"
  [peer.same]="plain/client 198.18.0.1 18081"
)
# Warm-up: every kind of load each path will see (bulk, keep-alive, new connections), so the agents' JIT
# has compiled all of the data path (C2 was still compiling the new-connection path after a 3 s keep-alive
# warm-up) and the pooled tunnels are open before anything is measured.
for p in direct mesh peer; do
  read -r pod host port ihost iport <<<"${PATHS[$p]}"
  in_ns 0 "$pod" iperf3 -c "$ihost" -p "$iport" -t 2 >/dev/null
  for size in 100b 64k; do in_ns 0 "$pod" wrk -t1 -c10 -d2s "http://$host:$port/$size" >/dev/null; done
  in_ns 0 "$pod" wrk -t1 -c10 -d3s -H "Connection: close" "http://$host:$port/100b" >/dev/null
done
for p in direct mesh peer; do # the same-node paths of the new-connection rows
  read -r pod host port <<<"${NC[$p.same]}"
  in_ns 0 "$pod" wrk -t1 -c10 -d2s -H "Connection: close" "http://$host:$port/100b" >/dev/null
done

newconn() {
  for where in cross same; do
    for p in direct mesh peer; do
      read -r pod host port <<<"${NC[$p.$where]}"
      out=$(in_ns 0 "$pod" python3 "$ROOT/bench/newconn.py" "$host" "$port" /1k 40 200 5)
      for k in ttfb_p50_us ttfb_p90_us ttfb_max_us total_p50_us total_p90_us total_max_us errors; do
        R[$p.nc.$where.$k]=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$out" "$k")
      done
      echo "   new connection, $where-node, $p: first byte p50 ${R[$p.nc.$where.ttfb_p50_us]} us, total p50 ${R[$p.nc.$where.total_p50_us]} p90 ${R[$p.nc.$where.total_p90_us]} max ${R[$p.nc.$where.total_max_us]} us, errors ${R[$p.nc.$where.errors]}"
    done
  done
}
ms() { python3 -c 'import sys; print("%.2f" % (int(sys.argv[1]) / 1000))' "$1"; }
newconn_table() {
  echo "| new connection at 5/s, 1 KB (\`bench/newconn.py\`), ms | first byte p50 | first byte p90 | total p50 | total p90 | max | errors |"
  echo "|---|---|---|---|---|---|---|"
  for where in cross same; do
    for p in direct mesh peer; do
      echo "| $where-node, $p | $(ms "${R[$p.nc.$where.ttfb_p50_us]}") | $(ms "${R[$p.nc.$where.ttfb_p90_us]}") | $(ms "${R[$p.nc.$where.total_p50_us]}") | $(ms "${R[$p.nc.$where.total_p90_us]}") | $(ms "${R[$p.nc.$where.total_max_us]}") | ${R[$p.nc.$where.errors]} |"
    done
  done
  echo
  for where in cross same; do
    echo "Added by the mesh over direct, $where-node: total p50 +$(ms "$(added "${R[mesh.nc.$where.total_p50_us]}" "${R[direct.nc.$where.total_p50_us]}")") ms, p90 +$(ms "$(added "${R[mesh.nc.$where.total_p90_us]}" "${R[direct.nc.$where.total_p90_us]}")") ms; by the haproxy pair: p50 +$(ms "$(added "${R[peer.nc.$where.total_p50_us]}" "${R[direct.nc.$where.total_p50_us]}")") ms, p90 +$(ms "$(added "${R[peer.nc.$where.total_p90_us]}" "${R[direct.nc.$where.total_p90_us]}")") ms."
  done
}
ratio() { python3 -c 'import sys; a,b=float(sys.argv[1]),float(sys.argv[2]); print("%.2f" % (a/b) if b else "n/a")' "$1" "$2"; }
added() { python3 -c 'import sys; print(int(sys.argv[1])-int(sys.argv[2]))' "$1" "$2"; }

if [ "$ONLY" = newconn ]; then
  echo "== new connections (only)"
  newconn
  echo
  newconn_table
  exit 0
fi

for p in direct mesh peer; do
  read -r pod host port ihost iport <<<"${PATHS[$p]}"
  echo "== $p"
  R[$p.gbps]=$(in_ns 0 "$pod" iperf3 -c "$ihost" -p "$iport" -t "$SECS" -J | python3 -c \
    'import json,sys; print("%.2f" % (json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]/1e9))')
  echo "   single-stream throughput: ${R[$p.gbps]} Gbit/s"
  for size in 100b 1k 64k; do
    out=$(in_ns 0 "$pod" wrk -t2 -c10 -d"${SECS}s" --latency "http://$host:$port/$size")
    R[$p.rps.$size]=$(awk '/Requests\/sec/ {printf "%.0f", $2}' <<<"$out")
    echo "   keep-alive 10 conns $size: ${R[$p.rps.$size]} req/s"
  done
  lat=$(in_ns 0 "$pod" $LOADGEN rate "$host" "$port" /1k 1000 "$SECS" 10)
  R[$p.p50]=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["p50_us"])' "$lat")
  R[$p.p99]=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["p99_us"])' "$lat")
  R[$p.lerr]=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["errors"])' "$lat")
  echo "   1,000 req/s (1 KB): p50 ${R[$p.p50]} us, p99 ${R[$p.p99]} us, errors ${R[$p.lerr]}"
  out=$(in_ns 0 "$pod" wrk -t2 -c10 -d"${SECS}s" -H "Connection: close" "http://$host:$port/100b")
  R[$p.cps]=$(awk '/Requests\/sec/ {printf "%.0f", $2}' <<<"$out")
  R[$p.cpserr]=$(awk '/Socket errors|Non-2xx/ {print}' <<<"$out" | tr '\n' ' ')
  echo "   new connections/s: ${R[$p.cps]} ${R[$p.cpserr]}"
done

echo "== memory"
R[mesh.rss_idle]=$(( $(rss_kb "$(agent_pid node1)") / 1024 ))
R[peer.rss_idle]=$(( $(rss_kb "$(cat "$W/haproxy1.pid")") / 1024 ))
for p in mesh peer; do
  read -r pod host port _ _ <<<"${PATHS[$p]}"
  # exec: taskset and nsenter exec too, so $! is the java process itself and kill ends it.
  ( exec taskset -c 0 nsenter --net="$(netns "$pod")" -- $LOADGEN hold "$host" "$port" 1000 30 ) > "$W/hold-$p.out" 2>&1 &
  hold=$!
  PIDS+=("$hold")
  for _ in $(seq 1 300); do grep -q holding "$W/hold-$p.out" && break; sleep 0.2; done
  grep -q holding "$W/hold-$p.out" || { echo "hold $p failed:"; cat "$W/hold-$p.out"; exit 1; }
  if [ "$p" = mesh ]; then
    R[mesh.rss_1k]=$(( $(rss_kb "$(agent_pid node1)") / 1024 ))
    R[mesh.rss_1k_dst]=$(( $(rss_kb "$(agent_pid node2)") / 1024 ))
  else
    R[peer.rss_1k]=$(( $(rss_kb "$(cat "$W/haproxy1.pid")") / 1024 ))
  fi
  kill "$hold" 2>/dev/null || true
  wait "$hold" 2>/dev/null || true
done
echo "   agent node1 idle ${R[mesh.rss_idle]} MB, with 1000 tunneled connections ${R[mesh.rss_1k]} MB (node2 ${R[mesh.rss_1k_dst]} MB)"
echo "   haproxy node1 idle ${R[peer.rss_idle]} MB, with 1000 connections ${R[peer.rss_1k]} MB"

echo "== new connections"
newconn

{
  echo "# Benchmark results"
  echo
  echo "Produced by \`sudo bench/run.sh $SECS\` on $(date -u +%Y-%m-%d) — $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $(free -g | awk '/Mem/ {print $2}') GiB, kernel $(uname -r), $(java -version 2>&1 | head -1)."
  echo "Two nodes as network namespaces; node1 (clients, agent, haproxy client side) pinned to CPU 0, node2 to CPU 1."
  echo "direct = pod to pod without the mesh; mesh = Tessera (eBPF capture, HBONE over TLS 1.3 mTLS, ECDSA P-256);"
  echo "peer = haproxy $(haproxy -v | head -1 | awk '{print $3}') mTLS tunnel pair (TLS 1.3, ECDSA P-256) on the same two nodes. Each figure is one ${SECS}s run."
  echo
  echo "| measurement | direct | mesh | peer (haproxy) | mesh/direct | mesh/peer |"
  echo "|---|---|---|---|---|---|"
  echo "| single-stream throughput, Gbit/s (iperf3) | ${R[direct.gbps]} | ${R[mesh.gbps]} | ${R[peer.gbps]} | $(ratio "${R[mesh.gbps]}" "${R[direct.gbps]}") | $(ratio "${R[mesh.gbps]}" "${R[peer.gbps]}") |"
  for size in 100b 1k 64k; do
    echo "| keep-alive req/s, 10 connections, $size (wrk) | ${R[direct.rps.$size]} | ${R[mesh.rps.$size]} | ${R[peer.rps.$size]} | $(ratio "${R[mesh.rps.$size]}" "${R[direct.rps.$size]}") | $(ratio "${R[mesh.rps.$size]}" "${R[peer.rps.$size]}") |"
  done
  echo "| p50 at 1,000 req/s, 1 KB, µs | ${R[direct.p50]} | ${R[mesh.p50]} | ${R[peer.p50]} | $(ratio "${R[mesh.p50]}" "${R[direct.p50]}") | $(ratio "${R[mesh.p50]}" "${R[peer.p50]}") |"
  echo "| p99 at 1,000 req/s, 1 KB, µs | ${R[direct.p99]} | ${R[mesh.p99]} | ${R[peer.p99]} | $(ratio "${R[mesh.p99]}" "${R[direct.p99]}") | $(ratio "${R[mesh.p99]}" "${R[peer.p99]}") |"
  echo "| new connections/s (one request each) | ${R[direct.cps]} | ${R[mesh.cps]} | ${R[peer.cps]} | $(ratio "${R[mesh.cps]}" "${R[direct.cps]}") | $(ratio "${R[mesh.cps]}" "${R[peer.cps]}") |"
  echo "| proxy RSS idle, MB (node1) | – | ${R[mesh.rss_idle]} | ${R[peer.rss_idle]} | – | $(ratio "${R[mesh.rss_idle]}" "${R[peer.rss_idle]}") |"
  echo "| proxy RSS with 1,000 open connections, MB (node1) | – | ${R[mesh.rss_1k]} | ${R[peer.rss_1k]} | – | $(ratio "${R[mesh.rss_1k]}" "${R[peer.rss_1k]}") |"
  echo
  echo "Added latency over direct at 1,000 req/s: mesh p50 +$(added "${R[mesh.p50]}" "${R[direct.p50]}") µs, p99 +$(added "${R[mesh.p99]}" "${R[direct.p99]}") µs; peer p50 +$(added "${R[peer.p50]}" "${R[direct.p50]}") µs, p99 +$(added "${R[peer.p99]}" "${R[direct.p99]}") µs."
  echo "Errors at fixed rate: direct ${R[direct.lerr]}, mesh ${R[mesh.lerr]}, peer ${R[peer.lerr]}. Node2's agent with 1,000 connections: ${R[mesh.rss_1k_dst]} MB."
  echo
  newconn_table
  # keep the section bench/scale.sh writes
  if [ -f "$OUT" ] && grep -q '^## Controller scale' "$OUT"; then echo; sed -n '/^## Controller scale/,$p' "$OUT"; fi
} > "$OUT.tmp"
mv "$OUT.tmp" "$OUT"
echo
cat "$OUT"
