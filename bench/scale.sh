#!/usr/bin/env bash
# Controller scale benchmark (not a test): NODES simulated agents (default 1,000) with PODS_PER_NODE pods each
# (default 50: 50,000 pods) on one controller in local mode, on this machine, over loopback. Prints a table and
# writes it as the "Controller scale" section of bench/RESULTS.md (the rest of the file is kept).
#
#   bench/scale.sh [NODES] [PODS_PER_NODE] [CHANGES] [FULL_DECODING_AGENTS]
#
# Needs no root and no network namespaces: the controller listens on 127.0.0.1 only, pod addresses
# (198.18.0.0/16, nodes 198.19.128.0/22) are data only. Builds the controller and agent jars if missing.
# Environment: SCALE_HEAP (controller -Xmx, default 2g), SCALE_SIM_HEAP (simulator -Xmx, default 2g),
# SCALE_GC (the controller's collector flag, default -XX:+UseG1GC; the image runs -XX:+UseSerialGC: use it with
# SCALE_HEAP at 60 % of a memory limit to check that limit), SCALE_KEEP=1 keeps the work directory (manifests,
# controller log) for inspection.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
NODES=${1:-1000}
PODS=${2:-50}
CHANGES=${3:-50}
FULL=${4:-5}
NAMESPACES=250
HEAP=${SCALE_HEAP:-2g}
SIM_HEAP=${SCALE_SIM_HEAP:-2g}
CONTROLLER_JAR=$ROOT/controller/target/tessera-controller.jar
AGENT_JAR=$ROOT/node-agent/target/tessera-node-agent.jar
OUT=$ROOT/bench/RESULTS.md

W=$(mktemp -d /tmp/tessera-scale.XXXXXX)
CONTROLLER_PID=
cleanup() {
  if [ -n "$CONTROLLER_PID" ]; then
    kill "$CONTROLLER_PID" 2>/dev/null || true
    wait "$CONTROLLER_PID" 2>/dev/null || true
  fi
  if [ "${SCALE_KEEP:-0}" = 1 ]; then echo "kept $W"; else rm -rf "$W"; fi
}
trap cleanup EXIT

if [ ! -f "$CONTROLLER_JAR" ] || [ ! -f "$AGENT_JAR" ]; then
  echo "== building the controller and agent jars"
  (cd "$ROOT" && mvn -B -q -o -pl controller,node-agent,bench -am package -DskipTests)
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PORT=$(free_port)
METRICS_PORT=$(free_port)
while [ "$METRICS_PORT" = "$PORT" ]; do METRICS_PORT=$(free_port); done

echo "== generating $NODES nodes x $PODS pods in $W"
java -Xmx1g -cp "$AGENT_JAR:$ROOT/bench/target/classes" dev.tessera.bench.ScaleBench gen "$W" "$NODES" "$PODS" "$NAMESPACES"

# Timestamps with milliseconds in the controller's log: the benchmark reads its publish times from it.
JVM_FLAGS=(-Xms256m -Xmx"$HEAP" "${SCALE_GC:--XX:+UseG1GC}")
LOG_FLAGS=(-Dorg.slf4j.simpleLogger.showDateTime=true "-Dorg.slf4j.simpleLogger.dateTimeFormat=yyyy-MM-dd'T'HH:mm:ss.SSSZ")
ARGS=(--local-cluster "$W/cluster" --ca-dir "$W/ca" --tokens "$W/tokens.csv" --listen-address 127.0.0.1
      --port "$PORT" --metrics-port "$METRICS_PORT")
export SCALE_CONTROLLER_CMD="java ${JVM_FLAGS[*]} -jar controller/target/tessera-controller.jar --local-cluster DIR --ca-dir DIR/ca --tokens DIR/tokens.csv --listen-address 127.0.0.1 --port PORT --metrics-port PORT"
echo "== starting the controller on 127.0.0.1:$PORT (metrics $METRICS_PORT), ${JVM_FLAGS[*]}"
java "${JVM_FLAGS[@]}" "${LOG_FLAGS[@]}" -jar "$CONTROLLER_JAR" "${ARGS[@]}" >"$W/controller.log" 2>&1 &
CONTROLLER_PID=$!

echo "== running $NODES simulated agents ($FULL full-decoding), $CHANGES changes"
java -Xms512m -Xmx"$SIM_HEAP" -XX:+UseG1GC -cp "$AGENT_JAR:$ROOT/bench/target/classes" dev.tessera.bench.ScaleBench run "$W" "$PORT" "$METRICS_PORT" \
  "$CONTROLLER_PID" "$W/controller.log" "$CHANGES" "$FULL" "$W/section.md" \
  || { echo "benchmark failed; controller log tail:" >&2; tail -20 "$W/controller.log" >&2; exit 1; }

if ! kill -0 "$CONTROLLER_PID" 2>/dev/null; then
  echo "the controller died during the run; log tail:" >&2; tail -20 "$W/controller.log" >&2; exit 1
fi
echo "controller log: $(grep -c " WARN \| ERROR " "$W/controller.log" || true) WARN/ERROR lines"

# Replace the "## Controller scale" section of RESULTS.md (up to the next "## " heading), or append it.
python3 - "$OUT" "$W/section.md" <<'PY'
import re, sys
out, section = sys.argv[1], open(sys.argv[2]).read().rstrip("\n") + "\n"
try:
    text = open(out).read()
except FileNotFoundError:
    text = ""
m = re.search(r"^## Controller scale\n.*?(?=^## |\Z)", text, flags=re.S | re.M)
if m:
    rest = text[m.end():]
    text = text[:m.start()] + section + ("\n" + rest if rest else "")
else:
    text = (text.rstrip("\n") + "\n\n" if text else "") + section
open(out + ".tmp", "w").write(text)
PY
mv "$OUT.tmp" "$OUT"
echo "== wrote the Controller scale section of $OUT"
