package dev.tessera.agent.metrics;

import io.prometheus.metrics.core.metrics.CounterWithCallback;
import io.prometheus.metrics.core.metrics.GaugeWithCallback;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.util.Map;
import java.util.function.Supplier;

/**
 * The agent's Prometheus registry. Agent internals are {@code tessera_*}; the workload TCP metrics use
 * Istio's standard {@code istio_tcp_*} names (see {@link ConnectionMetrics}). Values the kernel or
 * another component already counts are exported with callbacks, read at scrape time, never copied.
 */
public final class AgentMetrics {

    private final PrometheusRegistry registry = new PrometheusRegistry();
    private final ConnectionMetrics connections = new ConnectionMetrics(registry);

    public PrometheusRegistry registry() {
        return registry;
    }

    /** The per-connection metrics fed by the data path. */
    public ConnectionMetrics connections() {
        return connections;
    }

    /**
     * Mesh coverage: pods that should be meshed on this node, pods whose namespace is enrolled in the
     * kernel map, pods whose identity holds a certificate.
     */
    public void meshPods(Supplier<Map<String, Integer>> byState) {
        GaugeWithCallback.builder().name("tessera_mesh_pods")
                .help("Meshed pods on this node by state: expected (should be meshed), captured (enrolled in the "
                        + "eBPF map), certified (identity holds a valid certificate)")
                .labelNames("state")
                .callback(cb -> byState.get().forEach((state, n) -> cb.call(n, state)))
                .register(registry);
    }

    /** Counters the eBPF programs keep, by event (redirected, recorded, ...). */
    public void kernelCounters(Supplier<Map<String, Long>> counters) {
        CounterWithCallback.builder().name("tessera_redirect_events_total")
                .help("Events counted by the eBPF redirect programs (summed over CPUs)")
                .labelNames("event")
                .callback(cb -> counters.get().forEach((event, n) -> cb.call(n, event)))
                .register(registry);
    }

    /** Original-destination lookups by the outbound listener and misses among them. */
    public void originalDestinationLookups(Supplier<long[]> lookupsAndMisses) {
        CounterWithCallback.builder().name("tessera_original_destination_lookups_total")
                .help("Original-destination lookups of accepted outbound connections, by result")
                .labelNames("result")
                .callback(cb -> {
                    long[] v = lookupsAndMisses.get();
                    cb.call(v[0] - v[1], "hit");
                    cb.call(v[1], "miss");
                })
                .register(registry);
    }

    /** Certificates issued and issuance failures. */
    public void certificates(Supplier<long[]> issuedAndFailed) {
        CounterWithCallback.builder().name("tessera_certificate_requests_total")
                .help("Workload certificate signing requests, by result")
                .labelNames("result")
                .callback(cb -> {
                    long[] v = issuedAndFailed.get();
                    cb.call(v[0], "issued");
                    cb.call(v[1], "failed");
                })
                .register(registry);
    }

    /** The version of the state snapshot in use. */
    public void stateVersion(Supplier<Long> version) {
        GaugeWithCallback.builder().name("tessera_config_version")
                .help("Version of the mesh state snapshot the agent uses")
                .callback(cb -> cb.call(version.get()))
                .register(registry);
    }
}
