package dev.tessera.agent.metrics;

import dev.tessera.agent.redirect.TcpHealthMap;
import io.prometheus.metrics.core.metrics.CounterWithCallback;
import io.prometheus.metrics.core.metrics.GaugeWithCallback;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.net.InetAddress;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * Kernel TCP health per workload pair from the sockops program ({@link TcpHealthMap}), next to the golden
 * metrics: {@code tessera_tcp_retransmits_total}, {@code tessera_tcp_rtt_seconds} (latest smoothed RTT),
 * and {@code tessera_tcp_rtt_samples_total} / {@code tessera_tcp_rtt_sum_seconds_total} (mean RTT over any
 * window = rate(sum) / rate(samples)). {@code kind="pod"}: a captured pod's socket (pod to its node
 * agent), by source pod and ORIGINAL destination; {@code kind="tunnel"}: this agent's HBONE sockets to
 * another node (the workload labels then hold node names, namespace empty). Pairs that map to the same
 * labels (several pods of one workload) are summed; the RTT gauge takes the highest.
 */
public final class TcpHealthMetrics {

    private static final String[] LABELS = {"kind", "source_workload", "source_workload_namespace",
        "destination_workload", "destination_workload_namespace"};

    private TcpHealthMetrics() {}

    /** Aggregated values of one label set. */
    record Aggregate(long retransmits, long samples, long sumMicros, long maxSrttMicros) {
        Aggregate plus(TcpHealthMap.Pair p) {
            return new Aggregate(retransmits + p.retransmits(), samples + p.rttSamples(),
                    sumMicros + p.rttSumMicros(), Math.max(maxSrttMicros, p.srttMicros()));
        }
    }

    /**
     * Registers the metrics.
     *
     * @param pairs reads the kernel map (at scrape time)
     * @param name {@code {workload, namespace}} for an IP: a pod's workload, a node's name with namespace
     *     {@code ""}, or {@code {"unknown", "unknown"}}
     */
    public static void register(PrometheusRegistry registry, Supplier<List<TcpHealthMap.Pair>> pairs,
            Function<InetAddress, String[]> name) {
        Supplier<Map<List<String>, Aggregate>> read = () -> aggregate(pairs.get(), name);
        CounterWithCallback.builder().name("tessera_tcp_retransmits_total")
                .help("TCP retransmissions seen by the sockops program, per workload pair (kind=pod: pod socket "
                        + "to the agent; kind=tunnel: HBONE socket between nodes)")
                .labelNames(LABELS)
                .callback(cb -> read.get().forEach((l, a) -> cb.call(a.retransmits(), l.toArray(String[]::new))))
                .register(registry);
        GaugeWithCallback.builder().name("tessera_tcp_rtt_seconds")
                .help("Latest smoothed TCP round-trip time per workload pair (highest among its sockets)")
                .labelNames(LABELS)
                .callback(cb -> read.get().forEach((l, a) -> cb.call(a.maxSrttMicros() / 1e6, l.toArray(String[]::new))))
                .register(registry);
        CounterWithCallback.builder().name("tessera_tcp_rtt_samples_total")
                .help("RTT samples taken by the sockops program per workload pair")
                .labelNames(LABELS)
                .callback(cb -> read.get().forEach((l, a) -> cb.call(a.samples(), l.toArray(String[]::new))))
                .register(registry);
        CounterWithCallback.builder().name("tessera_tcp_rtt_sum_seconds_total")
                .help("Sum of the smoothed RTT at each sample per workload pair (divide its rate by the samples' rate)")
                .labelNames(LABELS)
                .callback(cb -> read.get().forEach((l, a) -> cb.call(a.sumMicros() / 1e6, l.toArray(String[]::new))))
                .register(registry);
    }

    static Map<List<String>, Aggregate> aggregate(List<TcpHealthMap.Pair> pairs, Function<InetAddress, String[]> name) {
        Map<List<String>, Aggregate> out = new HashMap<>();
        for (TcpHealthMap.Pair p : pairs) {
            String[] src = name.apply(p.source());
            String[] dst = name.apply(p.destination());
            List<String> labels = Arrays.asList(p.kind() == TcpHealthMap.Kind.POD ? "pod" : "tunnel",
                    src[0], src[1], dst[0], dst[1]);
            out.merge(labels, new Aggregate(0, 0, 0, 0).plus(p), (a, b) -> new Aggregate(a.retransmits() + b.retransmits(),
                    a.samples() + b.samples(), a.sumMicros() + b.sumMicros(),
                    Math.max(a.maxSrttMicros(), b.maxSrttMicros())));
        }
        return out;
    }
}
