#!/usr/bin/env bash
# CPU and allocation profiles of both node agents on the mesh path of the bench cluster (bench/cluster.yaml),
# with async-profiler attached to the running agents (jcmd JVMTI.agent_load; nothing in the agent's options
# changes; the profiler's options go in double quotes, or jcmd's own key=value parsing eats them), one workload at a time, after a warm-up. Needs root.
#   Usage: sudo bench/profile.sh [SECONDS] [OUT_DIR]      (default 15 s, bench/profiles)
# Writes OUT_DIR/<workload>-<event>-<node>.collapsed.gz (collapsed stacks, one line per stack: frames;count) and
# .html (flame graph) for workload in keepalive (wrk, 10 connections, 1 KB), newconn (wrk, Connection: close,
# 100 B), bulk (iperf3 single stream) and event in cpu, alloc; plus idle NMT summaries and class histograms.
# Environment: BENCH_NAME (cluster name, default "profile"), ASYNC_PROFILER (path of libasyncProfiler.so; else
# tools.profiler:async-profiler:4.1 is fetched from Maven Central into ~/.m2 and unpacked into a temp dir).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SECS=${1:-15}
OUTDIR=$(realpath -m "${2:-$ROOT/bench/profiles}")
NAME=${BENCH_NAME:-profile}
RUN=/run/tessera/local/$NAME
W=$(mktemp -d /tmp/tessera-profile.XXXXXX)
[ "$(id -u)" = 0 ] || { echo "bench/profile.sh: needs root" >&2; exit 1; }
mkdir -p "$OUTDIR"
cleanup() {
  for f in "$W"/*.pid; do [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null || true; done
  "$ROOT/tessera" local down --name "$NAME" >/dev/null 2>&1 || true
  rm -rf "$W"
}
trap cleanup EXIT

AP=${ASYNC_PROFILER:-}
if [ -z "$AP" ]; then
  jar=$HOME/.m2/repository/tools/profiler/async-profiler/4.1/async-profiler-4.1.jar
  [ -f "$jar" ] || mvn -B -q dependency:get -Dartifact=tools.profiler:async-profiler:4.1 >/dev/null
  (cd "$W" && unzip -q -o "$jar" linux-x64/libasyncProfiler.so)
  AP=$W/linux-x64/libasyncProfiler.so
fi
# The agents run as root in the host's mount namespace: they can read the library from here.
cp "$AP" "$W/libasyncProfiler.so"; AP=$W/libasyncProfiler.so

"$ROOT/tessera" local down --name "$NAME" >/dev/null 2>&1 || true
"$ROOT/tessera" --help >/dev/null
taskset -c 0 "$ROOT/tessera" local up -f "$ROOT/bench/cluster.yaml" --name "$NAME"
netns() {
  python3 - "$RUN/network.json" "$1" <<'PY'
import json, sys
n = json.load(open(sys.argv[1])); ns, name = sys.argv[2].split("/")
print([p["netns"] for p in n["pods"] if p["namespace"] == ns and p["name"] == name][0])
PY
}
in_ns() { local cpu=$1 ns=$2; shift 2; taskset -c "$cpu" nsenter --net="$(netns "$ns")" -- "$@"; }
agent_pid() { awk "{print \$1}" "$RUN/agent-$1.pid"; }
taskset -a -p -c 0 "$(agent_pid node1)" >/dev/null
taskset -a -p -c 1 "$(agent_pid node2)" >/dev/null

for n in node1 node2; do # idle memory first, before any load
  jcmd "$(agent_pid $n)" GC.class_histogram 2>&1 | sed -n '1,63p;$p' > "$OUTDIR/idle-class-histogram-$n.txt" || true
  grep VmRSS "/proc/$(agent_pid $n)/status" > "$OUTDIR/idle-rss-$n.txt"
done

mkdir -p "$W/www"
head -c 100 /dev/zero | tr '\0' x > "$W/www/100b"
head -c 1024 /dev/zero | tr '\0' x > "$W/www/1k"
cat > "$W/nginx.conf" <<NGX
worker_processes 1;
daemon on;
pid $W/nginx.pid;
error_log $W/nginx.err;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  client_body_temp_path $W; proxy_temp_path $W; fastcgi_temp_path $W; uwsgi_temp_path $W; scgi_temp_path $W;
  server { listen 8080 reuseport backlog=4096; root $W/www; }
}
NGX
in_ns 1 mesh/server nginx -c "$W/nginx.conf"
in_ns 1 mesh/server iperf3 -s -p 5201 -D -I "$W/iperf.pid"

load() { # load WORKLOAD SECONDS
  case $1 in
    keepalive) in_ns 0 mesh/client wrk -t2 -c10 -d"$2s" http://198.18.2.10:8080/1k ;;
    newconn) in_ns 0 mesh/client wrk -t2 -c10 -d"$2s" -H "Connection: close" http://198.18.2.10:8080/100b ;;
    bulk) in_ns 0 mesh/client iperf3 -c 198.18.2.10 -p 5201 -t "$2" ;;
  esac
}
echo "== warm-up"
for w in bulk keepalive newconn keepalive bulk newconn; do load "$w" 5 >/dev/null; done

for w in keepalive newconn bulk; do
  for ev in cpu alloc; do
    echo "== $w, $ev"
    for n in node1 node2; do
      jcmd "$(agent_pid $n)" JVMTI.agent_load "$AP" "\"start,event=$ev,$([ $ev = cpu ] && echo interval=1ms,threads || echo alloc=256k)\"" >/dev/null
    done
    load "$w" "$SECS" | grep -E 'Requests/sec|requests in|receiver' || true
    for n in node1 node2; do
      pid=$(agent_pid $n)
      jcmd "$pid" JVMTI.agent_load "$AP" "\"dump,collapsed,file=$OUTDIR/$w-$ev-$n.collapsed\"" >/dev/null
      jcmd "$pid" JVMTI.agent_load "$AP" "\"stop,file=$OUTDIR/$w-$ev-$n.html\"" >/dev/null
    done
  done
done
for n in node1 node2; do # after the load
  jcmd "$(agent_pid $n)" GC.class_histogram 2>&1 | sed -n '1,63p;$p' > "$OUTDIR/loaded-class-histogram-$n.txt" || true
done
gzip -f "$OUTDIR"/*.collapsed
python3 "$ROOT/bench/profile_top.py" "$OUTDIR"/*.collapsed.gz > "$OUTDIR/top.txt"
echo "profiles in $OUTDIR (summary: $OUTDIR/top.txt)"
