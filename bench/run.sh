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
#
# Every measurement runs BENCH_REPS (3) times, paths interleaved (direct, mesh, peer, direct, mesh, ...);
# RESULTS.md gives the median and min-max. CPU cost = utime+stime (/proc/PID/stat) of both proxies of a path
# (both agents, both haproxies) during the measurement, per 1,000 requests / connections / per GB.
#
# Environment:
#   BENCH_NAME=x     cluster name (default "bench"); give every concurrent user its own
#   BENCH_ONLY=a,b   only these sections (stdout only, RESULTS.md untouched): warmup, main, newconn, memory, nmt
#   BENCH_REPS=n     repetitions of each measurement (default 3)
#   BENCH_JAVA_HOME  run the CLI, controller and agents on another JDK (default: the `java` on PATH)
#   BENCH_AGENT_JVM_EXTRA  options appended to the shipped agent options for EVERY agent of the run (experiments;
#                    RESULTS.md then says so). The shipped options (node-agent/src/main/jvm/agent-jvm.options) are what is measured
#                    otherwise; only the NMT section adds -XX:NativeMemoryTracking=summary, on a restarted node1 agent.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SECS=${1:-10}
NAME=${BENCH_NAME:-bench}
ONLY=${BENCH_ONLY:-}
REPS=${BENCH_REPS:-3}
RUN=/run/tessera/local/$NAME
W=$(mktemp -d /tmp/tessera-bench.XXXXXX)
OUT=$ROOT/bench/RESULTS.md
DATA=$W/data.tsv     # rep <TAB> path <TAB> metric <TAB> value, read by bench/report.py
: > "$DATA"
[ "$(id -u)" = 0 ] || { echo "bench/run.sh: needs root (network namespaces, eBPF)" >&2; exit 1; }
"$ROOT/scripts/setup.sh" --bench
want() { [ -z "$ONLY" ] || [[ ",$ONLY," == *",$1,"* ]]; }
if [ -n "${BENCH_JAVA_HOME:-}" ]; then export PATH="$BENCH_JAVA_HOME/bin:$PATH"; fi
# The shipped agent options, exactly as `tessera local` reads them (comments dropped), so that the NMT restart
# and BENCH_AGENT_JVM_EXTRA can add to them without changing what is measured elsewhere.
SHIPPED_OPTS=$(grep -v '^[[:space:]]*#' "$ROOT/node-agent/src/main/jvm/agent-jvm.options" | xargs)
AGENT_OPTS="$SHIPPED_OPTS ${BENCH_AGENT_JVM_EXTRA:-}"
export TESSERA_AGENT_JVM_OPTIONS="$AGENT_OPTS"

PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for f in "$W"/*.pid; do [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null || true; done
  "$ROOT/tessera" local down --name "$NAME" >/dev/null 2>&1 || true
  rm -rf "$W"
}
trap cleanup EXIT

rec() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >> "$DATA"; }   # rec REP PATH METRIC VALUE
jget() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }

echo "== starting the cluster"
"$ROOT/tessera" local down --name "$NAME" >/dev/null 2>&1 || true
# Each agent starts on its node's CPU (bench/cluster.yaml: tessera.dev/local-cpus, node1 0, node2 1), like haproxy
# (started with taskset below): each proxy sizes its threads for the one core it has (haproxy: nbthread 1; the
# agent: one event loop), and the two agents' start-up warm-ups run side by side, each on its own core, as on two
# nodes. (Until 2026-12-07 both agents inherited `taskset -c 0` from the CLI and warmed up on CPU 0 together with
# the controller, then node2's was moved to CPU 1: their warm-ups ran out of time, see RESULTS.md's notes.)
"$ROOT/tessera" --help >/dev/null   # builds what is stale, on both CPUs
taskset -c 0 "$ROOT/tessera" local up -f "$ROOT/bench/cluster.yaml" --name "$NAME"
T_READY=$(date +%s.%N)

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
pin_agents() { # a no-op while bench/cluster.yaml gives each node its CPU; kept so that every row runs pinned
  taskset -a -p -c 0 "$(agent_pid node1)" >/dev/null
  taskset -a -p -c 1 "$(agent_pid node2)" >/dev/null
}
pin_agents
R_FRESH1=$(rss_kb "$(agent_pid node1)"); R_FRESH2=$(rss_kb "$(agent_pid node2)")

echo "== servers (nginx, iperf3) in both server pods"
mkdir -p "$W/www"
head -c 100 /dev/zero | tr '\0' x > "$W/www/100b"
head -c 1024 /dev/zero | tr '\0' x > "$W/www/1k"
head -c 65536 /dev/zero | tr '\0' x > "$W/www/64k"
start_servers() { # start_servers POD... : nginx in each, iperf3 in those on node2
  local pod tag cpu
  for pod in "$@"; do
    tag=${pod//\//-}
    cpu=1; [[ $pod == */server-local ]] && cpu=0
    cat > "$W/nginx-$tag.conf" <<NGX
worker_processes 1;
worker_rlimit_nofile 16000;
daemon on;
pid $W/nginx-$tag.pid;
error_log $W/nginx-$tag.err;
events { worker_connections 12000; }
http {
  access_log off;
  keepalive_requests 1000000;
  keepalive_timeout 300s;
  client_body_temp_path $W; proxy_temp_path $W; fastcgi_temp_path $W; uwsgi_temp_path $W; scgi_temp_path $W;
  server { listen 8080 reuseport backlog=4096; root $W/www; }
}
NGX
    in_ns "$cpu" "$pod" nginx -c "$W/nginx-$tag.conf"
    [ "$cpu" = 0 ] || in_ns 1 "$pod" iperf3 -s -p 5201 -D -I "$W/iperf-$tag.pid"
  done
}
start_servers mesh/server plain/server mesh/server-local plain/server-local

# Warm-up: req/s in 1-second buckets (wrk -t1 -c10 -d1s, 1 KB, ten times back to back) through the mesh, each
# row BENCH_REPS times: right after `local up` (agents ready, no request served yet; the first time here, the
# others on a new cluster at the end of the run), after restart-agent, and once warm (after the main
# measurements) as the steady-state reference.
warm_buckets() { # warm_buckets LABEL REP
  local i out
  for i in $(seq 1 10); do
    out=$(in_ns 0 mesh/client wrk -t1 -c10 -d1s http://198.18.2.10:8080/1k)
    rec "$2" mesh "warm.$1.$i" "$(awk '/Requests\/sec/ {printf "%.0f", $2}' <<<"$out")"
  done
  echo "   warm-up $1 [$2]: $(awk -F'\t' -v m="warm.$1." -v r="$2" '$1 == r && index($3, m) == 1 {printf "%s ", $4}' "$DATA")req/s"
}
if want warmup; then
  echo "== warm-up right after local up ($(python3 -c "import time,sys; print('%.1f' % (time.time()-float(sys.argv[1])))" "$T_READY") s after ready)"
  warm_buckets fresh 1
fi

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
# maxconn 9900: with the 20,000 open files this machine allows (hard limit, and raising it needs
# CAP_SYS_RESOURCE), haproxy holds 2 descriptors per tunneled connection.
cat > "$W/haproxy1.cfg" <<HA
global
  maxconn 9900
  ssl-default-server-ciphersuites TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256
defaults
  mode tcp
  timeout connect 5s
  timeout client 300s
  timeout server 300s
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
  maxconn 9900
defaults
  mode tcp
  timeout connect 5s
  timeout client 300s
  timeout server 300s
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
LOADGEN="java -XX:+UseSerialGC -Xmx256m $ROOT/bench/LoadGen.java"
# The proxies whose CPU a path costs (none for direct). Agents are looked up each time (restart-agent changes them).
proxy_pids() {
  case $1 in
    mesh) echo "$(agent_pid node1) $(agent_pid node2)" ;;
    peer) echo "$(cat "$W/haproxy1.pid") $(cat "$W/haproxy2.pid")" ;;
    *) echo "" ;;
  esac
}
cpu_ticks() { # sum of utime+stime of the pids, in clock ticks
  local t=0 p
  for p in "$@"; do t=$(( t + $(sed 's/.*) //' "/proc/$p/stat" | awk '{print $12 + $13}') )); done
  echo "$t"
}
HZ=$(getconf CLK_TCK)
switches() { # context switches (voluntary and not) of every thread of the pids
  local n=0 p
  for p in "$@"; do n=$(( n + $(cat /proc/"$p"/task/*/status 2>/dev/null | awk '/ctxt_switches/ {x += $2} END {print x + 0}') )); done
  echo "$n"
}
CPU0=0
cpu_start() { CPU_PIDS=$(proxy_pids "$1"); CPU0=$(cpu_ticks $CPU_PIDS); }
cpu_ms() { [ -n "$CPU_PIDS" ] || { echo ""; return; }; echo $(( ( $(cpu_ticks $CPU_PIDS) - CPU0 ) * 1000 / HZ )); }
per() { python3 -c 'import sys; print("%.1f" % (float(sys.argv[1]) * float(sys.argv[3]) / float(sys.argv[2])) if sys.argv[1] and float(sys.argv[2]) else "")' "$1" "$2" "$3"; }

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
if want main || want newconn; then
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
fi

newconn() { # newconn REP
  for where in cross same; do
    for p in direct mesh peer; do
      read -r pod host port <<<"${NC[$p.$where]}"
      out=$(in_ns 0 "$pod" python3 "$ROOT/bench/newconn.py" "$host" "$port" /1k 40 200 5)
      for k in ttfb_p50_us ttfb_p90_us ttfb_max_us total_p50_us total_p90_us total_max_us errors; do
        rec "$1" "$p" "nc.$where.$k" "$(jget "$out" "$k")"
      done
      echo "   [$1] new connection, $where-node, $p: first byte p50 $(jget "$out" ttfb_p50_us) us, total p50 $(jget "$out" total_p50_us) p90 $(jget "$out" total_p90_us) max $(jget "$out" total_max_us) us, errors $(jget "$out" errors)"
    done
  done
}

# One repetition of the main measurements, interleaved: each measurement runs direct, mesh, peer in turn.
main_rep() { # main_rep REP
  local r=$1 p pod host port ihost iport out size bytes ms reqs gbps
  for p in direct mesh peer; do # bulk
    read -r pod host port ihost iport <<<"${PATHS[$p]}"
    cpu_start "$p"
    out=$(in_ns 0 "$pod" iperf3 -c "$ihost" -p "$iport" -t "$SECS" -J)
    ms=$(cpu_ms)
    gbps=$(python3 -c 'import json,sys; print("%.2f" % (json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]/1e9))' <<<"$out")
    bytes=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["end"]["sum_received"]["bytes"])' <<<"$out")
    rec "$r" "$p" gbps "$gbps"
    rec "$r" "$p" cpu_s_per_gb "$(per "$ms" "$bytes" 1e6)"   # ms * 1e6 / bytes = s per GB
    echo "   [$r] $p single stream: $gbps Gbit/s, proxies ${ms:-–} ms CPU for $bytes bytes"
  done
  for size in 100b 1k 64k; do # keep-alive
    for p in direct mesh peer; do
      read -r pod host port _ _ <<<"${PATHS[$p]}"
      cpu_start "$p"
      out=$(in_ns 0 "$pod" wrk -t2 -c10 -d"${SECS}s" "http://$host:$port/$size")
      ms=$(cpu_ms)
      reqs=$(awk '/requests in/ {print $1}' <<<"$out")
      rec "$r" "$p" "rps.$size" "$(awk '/Requests\/sec/ {printf "%.0f", $2}' <<<"$out")"
      rec "$r" "$p" "cpu_ms_per_1k_req.$size" "$(per "$ms" "$reqs" 1000)"
      echo "   [$r] $p keep-alive $size: $(awk '/Requests\/sec/ {printf "%.0f", $2}' <<<"$out") req/s, proxies ${ms:-–} ms CPU for $reqs requests"
    done
  done
  for p in direct mesh peer; do # fixed rate
    read -r pod host port _ _ <<<"${PATHS[$p]}"
    out=$(in_ns 0 "$pod" $LOADGEN rate "$host" "$port" /1k 1000 "$SECS" 10)
    rec "$r" "$p" p50_us "$(jget "$out" p50_us)"; rec "$r" "$p" p99_us "$(jget "$out" p99_us)"
    rec "$r" "$p" lat_errors "$(jget "$out" errors)"
    echo "   [$r] $p 1,000 req/s (1 KB): p50 $(jget "$out" p50_us) us, p99 $(jget "$out" p99_us) us, errors $(jget "$out" errors)"
  done
  for p in direct mesh peer; do # new connections/s
    read -r pod host port _ _ <<<"${PATHS[$p]}"
    cpu_start "$p"
    out=$(in_ns 0 "$pod" wrk -t2 -c10 -d"${SECS}s" -H "Connection: close" "http://$host:$port/100b")
    ms=$(cpu_ms)
    reqs=$(awk '/requests in/ {print $1}' <<<"$out")
    rec "$r" "$p" cps "$(awk '/Requests\/sec/ {printf "%.0f", $2}' <<<"$out")"
    rec "$r" "$p" cps_errors "$(awk '/Socket errors/ {gsub(",", ""); print $4+$6+$8+$10; f=1} END {if (!f) print 0}' <<<"$out")"
    rec "$r" "$p" cpu_ms_per_1k_conn "$(per "$ms" "$reqs" 1000)"
    echo "   [$r] $p new connections/s: $(awk '/Requests\/sec/ {printf "%.0f", $2}' <<<"$out"), proxies ${ms:-–} ms CPU for $reqs connections $(awk '/Socket errors|Non-2xx/ {print}' <<<"$out" | tr '\n' ' ')"
  done
}

if want main; then
  for r in $(seq 1 "$REPS"); do echo "== main measurements, repetition $r of $REPS"; main_rep "$r"; done
  echo "== warm reference (same 1-second buckets as the warm-up rows, agents warm)"
  for r in $(seq 1 "$REPS"); do warm_buckets steady "$r"; done
fi
if want newconn; then
  for r in $(seq 1 "$REPS"); do echo "== new connections, repetition $r of $REPS"; newconn "$r"; done
fi

hold() { # hold PATH N -> holds N connections (one request each) from the path's client pod until released
  local p=$1 n=$2 pod host port
  read -r pod host port _ _ <<<"${PATHS[$p]}"
  rm -f "$W/hold-$p.out"
  # exec: taskset and nsenter exec too, so $! is the java process itself and kill ends it.
  ( exec taskset -c 0 nsenter --net="$(netns "$pod")" -- $LOADGEN hold "$host" "$port" "$n" 600 ) > "$W/hold-$p.out" 2>&1 &
  HOLD=$!
  PIDS+=("$HOLD")
  for _ in $(seq 1 600); do grep -q holding "$W/hold-$p.out" && break; kill -0 "$HOLD" 2>/dev/null || break; sleep 0.2; done
  grep -q holding "$W/hold-$p.out" || { echo "hold $p $n failed:"; cat "$W/hold-$p.out"; return 1; }
  sleep 2 # let the proxies settle (lazy allocations, byte flush)
}
release() { kill "$HOLD" 2>/dev/null || true; wait "$HOLD" 2>/dev/null || true; sleep 3; }
if want memory; then
  echo "== memory"
  rec 1 mesh mem.fresh_kb "$R_FRESH1"; rec 1 mesh mem.fresh_dst_kb "$R_FRESH2"
  rec 1 mesh mem.idle_kb "$(rss_kb "$(agent_pid node1)")"; rec 1 mesh mem.idle_dst_kb "$(rss_kb "$(agent_pid node2)")"
  rec 1 peer mem.idle_kb "$(rss_kb "$(cat "$W/haproxy1.pid")")"; rec 1 peer mem.idle_dst_kb "$(rss_kb "$(cat "$W/haproxy2.pid")")"
  # What an idle pair costs the node: context switches of all the pair's threads (each a wake-up) and CPU, over
  # 10 s with no traffic, the two paths one after the other.
  for p in mesh peer; do
    pids=$(proxy_pids "$p"); s0=$(switches $pids); t0=$(cpu_ticks $pids); sleep 10; s1=$(switches $pids); t1=$(cpu_ticks $pids)
    rec 1 "$p" idle.wakeups_per_s "$(( (s1 - s0) / 10 ))"; rec 1 "$p" idle.cpu_ms_per_min "$(( (t1 - t0) * 1000 / HZ * 6 ))"
    echo "   $p idle: $(( (s1 - s0) / 10 )) wake-ups/s, $(( (t1 - t0) * 1000 / HZ * 6 )) ms CPU per minute (both proxies)"
  done
  for n in 1000 10000; do
    for p in mesh peer; do
      held=$n; [ "$p" = peer ] && [ "$n" -gt 9000 ] && held=9000 # haproxy's descriptor limit (see maxconn above)
      if hold "$p" "$held"; then
        if [ "$p" = mesh ]; then
          a=$(rss_kb "$(agent_pid node1)"); b=$(rss_kb "$(agent_pid node2)")
        else
          a=$(rss_kb "$(cat "$W/haproxy1.pid")"); b=$(rss_kb "$(cat "$W/haproxy2.pid")")
        fi
        rec 1 "$p" "mem.held$n.n" "$held"; rec 1 "$p" "mem.held$n.kb" "$a"; rec 1 "$p" "mem.held$n.dst_kb" "$b"
        echo "   $p with $held held connections: node1 $((a / 1024)) MB, node2 $((b / 1024)) MB"
      fi
      release
    done
  done
  rec 1 mesh mem.after_kb "$(rss_kb "$(agent_pid node1)")"
fi

if want warmup; then
  for r in $(seq 1 "$REPS"); do
    echo "== warm-up right after restart-agent (node2, then node1), repetition $r of $REPS"
    taskset -c 1 "$ROOT/tessera" local restart-agent --name "$NAME" node2
    taskset -c 0 "$ROOT/tessera" local restart-agent --name "$NAME" node1
    pin_agents
    warm_buckets restart "$r"
  done
fi

if want nmt; then
  # The one row measured with a non-shipped option: Native Memory Tracking (summary) on a restarted, idle node1
  # agent. NMT itself costs a little memory (its own line in the summary).
  echo "== Native Memory Tracking of an idle agent (node1 restarted with -XX:NativeMemoryTracking=summary)"
  TESSERA_AGENT_JVM_OPTIONS="$AGENT_OPTS -XX:NativeMemoryTracking=summary" \
    taskset -c 0 "$ROOT/tessera" local restart-agent --name "$NAME" node1
  pin_agents
  sleep 10
  pid=$(agent_pid node1)
  jcmd "$pid" VM.native_memory summary scale=KB > "$W/nmt.txt"
  rec 1 mesh nmt.rss_kb "$(rss_kb "$pid")"
  python3 - "$W/nmt.txt" <<'PY' >> "$DATA"
import re, sys
t = open(sys.argv[1]).read()
m = re.search(r"Total: reserved=(\d+)KB, committed=(\d+)KB", t)
print("1\tmesh\tnmt.Total\t%s" % m.group(2))
for name, committed in re.findall(r"^-\s+(.+?) \(reserved=\d+KB, committed=(\d+)KB\)", t, re.M):
    print("1\tmesh\tnmt.%s\t%s" % (name.strip(), committed))
PY
  grep -E '^(Total|-)' "$W/nmt.txt" | sed 's/^/   /'
fi

if want warmup && [ "$REPS" -gt 1 ]; then
  # The other repetitions of the first-start row: a new cluster each time (started as the first one was), with
  # the mesh's server pod serving again. Everything else is measured by now: every server and haproxy stops first.
  for r in $(seq 2 "$REPS"); do
    echo "== warm-up right after local up, repetition $r of $REPS (a new cluster)"
    for f in "$W"/*.pid; do [ -f "$f" ] && { kill "$(cat "$f")" 2>/dev/null || true; }; rm -f "$f"; done
    "$ROOT/tessera" local down --name "$NAME" >/dev/null
    taskset -c 0 "$ROOT/tessera" local up -f "$ROOT/bench/cluster.yaml" --name "$NAME" >/dev/null
    pin_agents
    start_servers mesh/server
    warm_buckets fresh "$r"
  done
fi

META=$W/meta.txt
{
  echo "date=$(date -u +%Y-%m-%d)"
  echo "secs=$SECS"
  echo "reps=$REPS"
  echo "machine=$(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $(free -g | awk '/Mem/ {print $2}') GiB, kernel $(uname -r)"
  echo "java=$(java -version 2>&1 | head -1)"
  echo "haproxy=$(haproxy -v | head -1 | awk '{print $3}')"
  echo "extra=${BENCH_AGENT_JVM_EXTRA:-}"
  echo "load=$(cut -d' ' -f1-3 /proc/loadavg)"
} > "$META"
if [ -n "$ONLY" ]; then
  python3 "$ROOT/bench/report.py" "$DATA" "$META"
  exit 0
fi
python3 "$ROOT/bench/report.py" "$DATA" "$META" > "$OUT.tmp"
# the raw figures of the run, so the table can be regenerated: python3 bench/report.py bench/RESULTS.data.tsv bench/RESULTS.meta
cp "$DATA" "$ROOT/bench/RESULTS.data.tsv"; cp "$META" "$ROOT/bench/RESULTS.meta"
# keep every hand-written section below the generated part (controller scale, history, notes)
if [ -f "$OUT" ]; then echo >> "$OUT.tmp"; sed -n '/^## /,$p' "$OUT" >> "$OUT.tmp"; fi
mv "$OUT.tmp" "$OUT"
echo
sed -n '1,/^## /p' "$OUT"
