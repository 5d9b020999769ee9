#!/usr/bin/env bash
# What the Prometheus client's JVM instrumentation costs the agent at idle (issue 14 item 4, issue 10): starts a
# bare JVM with the agent's options (node-agent/src/main/jvm/agent-jvm.options) holding a registry with one
# counter, registers a set of collectors, scrapes five times, forces two full GCs (jcmd GC.run) and prints the
# old generation and metaspace in use, loaded classes (own and from the CDS archive) and RSS. No network, no
# root. Build first (mvn -B -q install -DskipTests -o).
#   Usage: bench/jvm-metrics-cost.sh [SET...]
# SET: none | all (JvmMetrics.builder()) | agent (what AgentMetrics.jvm() registers) | a comma list of
# mem,buf,gc,thr,cls,comp,rt,proc,alloc,nmt. Default: none agent all.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
W=$(mktemp -d /tmp/tessera-jvm-cost.XXXXXX)
trap 'rm -rf "$W"' EXIT
(cd "$ROOT" && mvn -B -q -o -Dstyle.color=never -pl node-agent dependency:build-classpath -Dmdep.outputFile="$W/cp.txt" >/dev/null)
CP=$(cat "$W/cp.txt")
cat > "$W/JvmCost.java" <<'JAVA'
import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import io.prometheus.metrics.instrumentation.jvm.*;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.io.ByteArrayOutputStream;

public class JvmCost {
    public static void main(String[] a) throws Exception {
        var registry = new PrometheusRegistry();
        io.prometheus.metrics.core.metrics.Counter.builder().name("x_total").help("x").register(registry).inc();
        String set = a[0].equals("agent") ? "mem,buf,gc,thr,cls,comp,rt,proc" : a[0];
        if (set.equals("all")) {
            JvmMetrics.builder().register(registry);
        } else if (!set.equals("none")) {
            for (String c : set.split(",")) {
                switch (c) {
                    case "mem" -> JvmMemoryMetrics.builder().register(registry);
                    case "buf" -> JvmBufferPoolMetrics.builder().register(registry);
                    case "gc" -> JvmGarbageCollectorMetrics.builder().register(registry);
                    case "thr" -> JvmThreadsMetrics.builder().register(registry);
                    case "cls" -> JvmClassLoadingMetrics.builder().register(registry);
                    case "comp" -> JvmCompilationMetrics.builder().register(registry);
                    case "rt" -> JvmRuntimeInfoMetric.builder().register(registry);
                    case "proc" -> ProcessMetrics.builder().register(registry);
                    case "alloc" -> JvmMemoryPoolAllocationMetrics.builder().register(registry);
                    case "nmt" -> JvmNativeMemoryMetrics.builder().register(registry);
                    default -> throw new IllegalArgumentException(c);
                }
            }
        }
        int bytes = 0;
        for (int i = 0; i < 5; i++) {
            var out = new ByteArrayOutputStream();
            new PrometheusTextFormatWriter(false).write(out, registry.scrape());
            bytes = out.size();
        }
        System.out.println("scrape_bytes=" + bytes);
        System.out.flush();
        Thread.sleep(600_000);
    }
}
JAVA
javac -nowarn -cp "$CP" -d "$W" "$W/JvmCost.java" 2>/dev/null
grep -v '^#' "$ROOT/node-agent/src/main/jvm/agent-jvm.options" > "$W/opts"
echo "-XX:+UsePerfData" >> "$W/opts" # the agent ships without it; PerfCounter.print below needs it
printf '%-32s %10s %10s %8s %8s %10s %s\n' set old_KB meta_KB classes cds RSS_KB scrape
for set in "${@:-none agent all}"; do
  for s in $set; do
    java @"$W/opts" -cp "$W:$CP" JvmCost "$s" > "$W/out" 2>&1 &
    pid=$!
    for _ in $(seq 50); do grep -q scrape_bytes "$W/out" 2>/dev/null && break; sleep 0.1; done
    sleep 1
    jcmd "$pid" GC.run >/dev/null; sleep 0.3; jcmd "$pid" GC.run >/dev/null
    # SerialGC heap_info: "def new generation ... used", "tenured generation ... used", "Metaspace used", "class space used"
    read -r old meta < <(jcmd "$pid" GC.heap_info | grep -o 'used [0-9]*K' | sed -n '2p;3p' | tr -d 'usedK ' | tr '\n' ' '; echo)
    own=$(jcmd "$pid" PerfCounter.print | sed -n 's/^java.cls.loadedClasses=//p')
    cds=$(jcmd "$pid" PerfCounter.print | sed -n 's/^java.cls.sharedLoadedClasses=//p')
    rss=$(awk '/VmRSS/{print $2}' /proc/$pid/status)
    printf '%-32s %10s %10s %8s %8s %10s %s\n' "$s" "$old" "$meta" "$own" "$cds" "$rss" "$(sed -n 's/scrape_bytes=//p' "$W/out")"
    kill "$pid"; wait "$pid" 2>/dev/null || true
  done
done
