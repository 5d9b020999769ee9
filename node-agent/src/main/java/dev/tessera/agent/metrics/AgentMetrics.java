package dev.tessera.agent.metrics;

import io.prometheus.metrics.core.metrics.CounterWithCallback;
import io.prometheus.metrics.core.metrics.GaugeWithCallback;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.time.Instant;
import java.util.Map;
import java.util.function.LongSupplier;
import java.util.function.Supplier;

/**
 * The agent's Prometheus registry. Agent internals are {@code tessera_*}; the workload TCP metrics use
 * Istio's standard {@code istio_tcp_*} names (see {@link ConnectionMetrics}). Values the kernel or
 * another component already counts are exported with callbacks, read at scrape time, never copied.
 */
public final class AgentMetrics {

    private final PrometheusRegistry registry = new PrometheusRegistry();
    private final ConnectionMetrics connections;
    private final ConnectionSetupMetrics setup;

    public AgentMetrics() {
        this(System::nanoTime);
    }

    /** @param nanoClock monotonic clock for series eviction (tests pass a fake one) */
    public AgentMetrics(LongSupplier nanoClock) {
        setup = new ConnectionSetupMetrics(registry);
        connections = new ConnectionMetrics(registry, nanoClock, setup, ConnectionMetrics.DEFAULT_CLUSTER_ID);
        io.prometheus.metrics.core.metrics.Info.builder().name(dev.tessera.api.config.BuildInfo.METRIC_BASE)
                .help("This agent's build, value 1 (tessera version reads it)").labelNames("component", "version")
                .register(registry).setLabelValues("node-agent", dev.tessera.api.config.BuildInfo.VERSION);
    }

    public PrometheusRegistry registry() {
        return registry;
    }

    /**
     * JVM and process metrics of the Prometheus client's JVM instrumentation ({@code jvm_*}, {@code process_*}),
     * a lean subset of {@link io.prometheus.metrics.instrumentation.jvm.JvmMetrics}: memory and memory pools,
     * buffer pools (Netty's direct memory), GC, threads, classes, JIT compilation, runtime info and the process
     * (CPU, RSS, file descriptors, start time).
     *
     * <p>Left out, for the agent's idle memory (issue 10): {@code JvmNativeMemoryMetrics} starts the platform
     * MBean server (JMX) to call a diagnostic command, and reports nothing unless the JVM runs with
     * {@code -XX:NativeMemoryTracking}, which the agent does not; {@code JvmMemoryPoolAllocationMetrics}
     * ({@code jvm_memory_pool_allocated_bytes_total}) adds a GC notification listener. Measured on a bare JVM
     * with the agent's options (agent-jvm.options, after full GCs): the full {@code JvmMetrics} added ~640
     * classes, ~3.7 MB of metaspace, ~0.7 MB of old generation and 6.5-8 MB of RSS; this subset ~280 classes,
     * ~1.5 MB of metaspace, ~0.25 MB of old generation and 3-4 MB of RSS (mostly {@code java.lang.management}
     * itself, which any JVM metric needs). Re-measure with {@code bench/jvm-metrics-cost.sh}.
     */
    public void jvm() {
        register("memory", () -> io.prometheus.metrics.instrumentation.jvm.JvmMemoryMetrics.builder().register(registry));
        register("buffer pools",
                () -> io.prometheus.metrics.instrumentation.jvm.JvmBufferPoolMetrics.builder().register(registry));
        register("garbage collector",
                () -> io.prometheus.metrics.instrumentation.jvm.JvmGarbageCollectorMetrics.builder().register(registry));
        register("threads", () -> io.prometheus.metrics.instrumentation.jvm.JvmThreadsMetrics.builder().register(registry));
        register("class loading",
                () -> io.prometheus.metrics.instrumentation.jvm.JvmClassLoadingMetrics.builder().register(registry));
        register("compilation",
                () -> io.prometheus.metrics.instrumentation.jvm.JvmCompilationMetrics.builder().register(registry));
        register("runtime info",
                () -> io.prometheus.metrics.instrumentation.jvm.JvmRuntimeInfoMetric.builder().register(registry));
        register("process", () -> io.prometheus.metrics.instrumentation.jvm.ProcessMetrics.builder().register(registry));
        register("direct memory", this::directMemory);
    }

    /**
     * {@code tessera_direct_memory_bytes} and {@code tessera_direct_memory_max_bytes}: the off-heap memory of the
     * agent's buffers, whichever way they were allocated. With the shipped JVM options Netty allocates direct buffers
     * without the JDK's Cleaner and counts them itself ({@code jvm_buffer_pool_used_bytes{pool="direct"}} then holds
     * only the JDK's own direct buffers); without those options Netty's count is off and the JDK's pool holds all of
     * them. The sum is right in both cases.
     */
    private void directMemory() {
        GaugeWithCallback.builder().name("tessera_direct_memory_bytes")
                .help("Off-heap memory held by the agent's network buffers (Netty's own count plus the JDK's direct "
                        + "buffer pool)")
                .callback(cb -> cb.call(usedDirectMemory()))
                .register(registry);
        GaugeWithCallback.builder().name("tessera_direct_memory_max_bytes")
                .help("The limit of tessera_direct_memory_bytes; an allocation beyond it fails (the JVM's direct "
                        + "memory limit, -XX:MaxDirectMemorySize, by default the maximum heap)")
                .callback(cb -> cb.call(io.netty.util.internal.PlatformDependent.maxDirectMemory()))
                .register(registry);
    }

    /** Netty's count of the direct memory it allocated without a Cleaner (-1: not counting) plus the JDK's pool. */
    static long usedDirectMemory() {
        long netty = Math.max(0, io.netty.util.internal.PlatformDependent.usedDirectMemory());
        long jdk = 0;
        for (var pool : java.lang.management.ManagementFactory.getPlatformMXBeans(
                java.lang.management.BufferPoolMXBean.class)) {
            if ("direct".equals(pool.getName())) {
                jdk += Math.max(0, pool.getMemoryUsed());
            }
        }
        return netty + jdk;
    }

    /**
     * Registers one JVM collector; one that fails is left out with a warning, the agent keeps serving. The JDK's
     * OperatingSystemMXBean (process metrics) throws a NullPointerException when its cgroup view is
     * inconsistent, e.g. a process moved into a cgroup namespace of its own without a mount namespace to match
     * on a cgroup v1/v2 hybrid host.
     */
    private static void register(String collector, Runnable registration) {
        try {
            registration.run();
        } catch (RuntimeException | LinkageError e) {
            org.slf4j.LoggerFactory.getLogger(AgentMetrics.class)
                    .warn("JVM {} metrics left out: the JVM could not provide them ({})", collector, e.toString());
        }
    }

    /** {@code tessera_connection_setup_seconds} (also fed through {@link #connections()}). */
    public ConnectionSetupMetrics setup() {
        return setup;
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

    /**
     * The alertable coverage gap: pods that should be meshed but are not both captured and certified
     * ({@code expected - min(captured, certified)} as computed by the caller), and when coverage was last
     * verified.
     */
    public void coverageGap(Supplier<Integer> gap, Supplier<Instant> lastCheck) {
        GaugeWithCallback.builder().name("tessera_mesh_coverage_gap")
                .help("Pods that should be meshed on this node but are not captured by eBPF or hold no valid "
                        + "certificate (alert when > 0 for a few minutes)")
                .callback(cb -> cb.call(gap.get())).register(registry);
        GaugeWithCallback.builder().name("tessera_mesh_coverage_last_check_timestamp_seconds")
                .help("When the agent last verified coverage against the kernel map and the certificates")
                .callback(cb -> {
                    Instant t = lastCheck.get();
                    if (t != null) {
                        cb.call(t.toEpochMilli() / 1000.0);
                    }
                }).register(registry);
    }

    /** Coverage repairs: expected pods found missing from the kernel map and enrolled again. */
    public void coverageRepairs(Supplier<Long> repairs) {
        CounterWithCallback.builder().name("tessera_mesh_coverage_repairs_total")
                .help("Expected pods found missing from the eBPF enrolled map by the continuous check and re-enrolled")
                .callback(cb -> cb.call(repairs.get())).register(registry);
    }

    /** Expiry ({@code notAfter}) of the certificate held for each identity. */
    public void certificateExpiry(Supplier<Map<String, Instant>> byIdentity) {
        GaugeWithCallback.builder().name("tessera_certificate_expiry_timestamp_seconds")
                .help("Expiry time (notAfter, Unix seconds) of the workload certificate held for each identity")
                .labelNames("identity")
                .callback(cb -> byIdentity.get().forEach((id, t) -> cb.call(t.toEpochMilli() / 1000.0, id)))
                .register(registry);
    }

    /**
     * The trust bundle and what the held certificates chain to: {@code tessera_trust_roots} (roots trusted)
     * and {@code tessera_workload_certificates{root, signing}} (held certificates by the SHA-256 prefix of
     * the root they chain to, and whether that root is the one issuing now: the bundle's first).
     *
     * @param roots roots in the trust bundle
     * @param byRoot held certificates by root fingerprint, each with whether it is the signing root
     */
    public void trust(java.util.function.IntSupplier roots, Supplier<Map<String, Map.Entry<Boolean, Long>>> byRoot) {
        GaugeWithCallback.builder().name("tessera_trust_roots")
                .help("Roots in the trust bundle peers are verified against (2 or more during a root rotation)")
                .callback(cb -> cb.call(roots.getAsInt())).register(registry);
        GaugeWithCallback.builder().name("tessera_workload_certificates")
                .help("Workload certificates held, by the root they chain to (SHA-256 prefix, \"unknown\" when none"
                        + " of the bundle) and whether that root signs now (during a root rotation: old ones go to 0)")
                .labelNames("root", "signing")
                .callback(cb -> byRoot.get().forEach((root, e) -> cb.call(e.getValue(), root,
                        String.valueOf(e.getKey()))))
                .register(registry);
    }

    /** When the state snapshot last changed. */
    public void configUpdated(Supplier<Instant> lastUpdate) {
        GaugeWithCallback.builder().name("tessera_config_last_update_age_seconds")
                .help("Seconds since the agent last received a new mesh state snapshot")
                .callback(cb -> {
                    Instant t = lastUpdate.get();
                    if (t != null) {
                        cb.call(Math.max(0, System.currentTimeMillis() - t.toEpochMilli()) / 1000.0);
                    }
                }).register(registry);
    }

    /** Entries in the eBPF maps, by map name (read from the kernel at scrape time). */
    public void mapOccupancy(Supplier<Map<String, Integer>> entries) {
        GaugeWithCallback.builder().name("tessera_bpf_map_entries")
                .help("Entries in the agent's eBPF maps, by map (enrolled = captured pod namespaces, client_dst = "
                        + "original destinations recorded but not yet looked up)")
                .labelNames("map")
                .callback(cb -> entries.get().forEach((map, n) -> cb.call(n, map)))
                .register(registry);
    }

    /** Access log lines dropped by the rate limit. */
    public void accessLogDropped(Supplier<Long> dropped) {
        CounterWithCallback.builder().name("tessera_access_log_dropped_total")
                .help("Access log lines not written because the access log rate limit was exceeded")
                .callback(cb -> cb.call(dropped.get())).register(registry);
    }

    /** Plaintext decisions the kernel could not queue for the agent (its event queue was full). */
    public void plaintextEventsLost(Supplier<Long> lost) {
        CounterWithCallback.builder().name("tessera_plaintext_events_lost_total")
                .help("Plaintext connection decisions not reported to the agent (the kernel's event queue was full)")
                .callback(cb -> cb.call(lost.get())).register(registry);
    }

    /** Workload series removed by cardinality eviction. */
    public void seriesEvicted(Supplier<Long> evicted) {
        CounterWithCallback.builder().name("tessera_metric_series_evicted_total")
                .help("istio_tcp_* label sets removed because their local workload left the node")
                .callback(cb -> cb.call(evicted.get())).register(registry);
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

    /**
     * The session with the controller: the push-protocol version negotiated (0 while not connected) and the
     * sessions refused because agent and controller share no version (refused by either side).
     */
    public void controllerSession(java.util.function.IntSupplier protocolVersion,
            java.util.function.LongSupplier versionSkewRefusals) {
        GaugeWithCallback.builder().name("tessera_controller_protocol_version")
                .help("Push-protocol version negotiated with the controller (0: no session)")
                .callback(cb -> cb.call(protocolVersion.getAsInt()))
                .register(registry);
        CounterWithCallback.builder().name("tessera_controller_version_skew_total")
                .help("Controller sessions refused because agent and controller share no push-protocol version"
                        + " (the reason is logged and in /healthz/ready)")
                .callback(cb -> cb.call(versionSkewRefusals.getAsLong()))
                .register(registry);
    }
}
