package dev.tessera.agent.metrics;

import dev.tessera.agent.connection.CloseReason;
import dev.tessera.agent.connection.ConnectionContext.Direction;
import dev.tessera.agent.connection.ConnectionContext.RouteKind;
import dev.tessera.agent.connection.ConnectionContext;
import dev.tessera.agent.connection.ConnectionListener;
import dev.tessera.agent.connection.ConnectionStats;
import dev.tessera.agent.connection.RelaySession;
import dev.tessera.api.identity.SpiffeId;
import dev.tessera.api.model.Workload;
import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.LongSupplier;

/**
 * Per-connection metrics: Istio's standard TCP metrics (same names and labels, so existing dashboards
 * work) plus the agent's own {@code tessera_connections_*}. {@code reporter} is {@code source} on the
 * client's node (outbound) and {@code destination} on the server's node (inbound). Byte directions follow
 * Istio: {@code received} = from the client (request), {@code sent} = to the client (response).
 *
 * <p>Bytes move while a connection lasts: {@link #flush()} (run periodically and before every scrape)
 * adds what each open connection relayed since the last flush; the close adds the rest. Bytes counted
 * while the connection is open carry {@code response_flags="-"}, the remainder the close's flag. A
 * connection counts as opened the first time its route and a workload are known.
 *
 * <p>Cardinality is bounded: {@link #evict} removes the series of workloads that left this node once
 * they have been idle for the grace period (see {@link SeriesTracker}).
 */
public final class ConnectionMetrics implements ConnectionListener {

    private static final String UNKNOWN = "unknown";

    /** The DNS domain of Service names in {@code destination_service}. */
    static final String CLUSTER_DOMAIN = "cluster.local";

    /** ztunnel's default cluster id ({@code source_cluster}/{@code destination_cluster}). */
    public static final String DEFAULT_CLUSTER_ID = "Kubernetes";

    /**
     * ztunnel's label set on {@code istio_tcp_*}. The first ten are the labels of earlier releases, in their
     * order; the rest were added for Kiali and Istio's dashboards. Fields of {@link #istioLabels} follow this
     * order.
     */
    static final String[] ISTIO_LABELS = {"reporter", "source_workload", "source_workload_namespace",
        "source_principal", "destination_workload", "destination_workload_namespace", "destination_principal",
        "destination_service", "connection_security_policy", "response_flags",
        "source_app", "source_version", "source_cluster", "source_canonical_service", "source_canonical_revision",
        "destination_app", "destination_version", "destination_cluster", "destination_canonical_service",
        "destination_canonical_revision", "destination_service_name", "destination_service_namespace",
        "request_protocol"};

    private final Counter istioOpened;
    private final Counter istioClosed;
    private final Counter istioSent;
    private final Counter istioReceived;
    private final Counter opened;
    private final Counter closed;
    private final SeriesTracker series;
    private final ConnectionListener setup;
    private final Map<RelaySession, Progress> live = new ConcurrentHashMap<>();

    /** What was already reported for one open connection; guarded by its own monitor. */
    private static final class Progress {
        long fromSource;
        long toSource;
        boolean openedCounted;
        boolean done;
    }

    private final String clusterId;

    ConnectionMetrics(PrometheusRegistry registry, LongSupplier nanoClock) {
        this(registry, nanoClock, ConnectionListener.NOOP, DEFAULT_CLUSTER_ID);
    }

    /**
     * @param setup receives {@link #setup} (the set-up histogram rides on this listener's place in the data path)
     * @param clusterId the {@code source_cluster}/{@code destination_cluster} of known workloads (one cluster:
     *     every workload the agent knows is in it)
     */
    ConnectionMetrics(PrometheusRegistry registry, LongSupplier nanoClock, ConnectionListener setup, String clusterId) {
        this.setup = java.util.Objects.requireNonNull(setup, "setup");
        this.clusterId = java.util.Objects.requireNonNull(clusterId, "clusterId");
        // Every counter and histogram the data path updates is built withoutExemplars(): the agent has no trace
        // context to attach, and with exemplars on (the client library's default) the first update of a data
        // point in each 90-ms window handed a task to the library's scheduler thread: a wake-up of that thread on
        // the agent's core for most connections at low rates (issue 10, bench/profiles/README.md).
        istioOpened = Counter.builder().name("istio_tcp_connections_opened_total")
                .help("TCP connections opened").labelNames(ISTIO_LABELS).withoutExemplars().register(registry);
        istioClosed = Counter.builder().name("istio_tcp_connections_closed_total")
                .help("TCP connections closed").labelNames(ISTIO_LABELS).withoutExemplars().register(registry);
        istioSent = Counter.builder().name("istio_tcp_sent_bytes_total")
                .help("Bytes sent to the client (response direction)").labelNames(ISTIO_LABELS).withoutExemplars()
                .register(registry);
        istioReceived = Counter.builder().name("istio_tcp_received_bytes_total")
                .help("Bytes received from the client (request direction)").labelNames(ISTIO_LABELS)
                .withoutExemplars().register(registry);
        opened = Counter.builder().name("tessera_connections_opened_total")
                .help("Connections accepted by the agent, by direction (outbound 15001, inbound 15008 streams)")
                .labelNames("direction").withoutExemplars().register(registry);
        closed = Counter.builder().name("tessera_connections_closed_total")
                .help("Connections closed by the agent, by direction and reason (- = normal end)")
                .labelNames("direction", "reason").withoutExemplars().register(registry);
        series = new SeriesTracker(nanoClock, List.of(istioOpened, istioClosed, istioSent, istioReceived));
    }

    @Override
    public void opened(ConnectionContext c) {
        opened.labelValues(direction(c.direction())).inc();
    }

    @Override
    public void setup(Direction direction, SetupPhase phase, long nanos) {
        setup.setup(direction, phase, nanos);
    }

    @Override
    public void live(RelaySession session) {
        live.put(session, new Progress());
    }

    @Override
    public void closed(RelaySession session, ConnectionStats stats) {
        record(session.context(), stats, live.remove(session));
    }

    @Override
    public void closed(ConnectionContext c, ConnectionStats stats) {
        record(c, stats, null);
    }

    private void record(ConnectionContext c, ConnectionStats stats, Progress p) {
        closed.labelValues(direction(c.direction()), stats.reason().flag()).inc();
        boolean openedBefore;
        long from = stats.bytesFromSource();
        long to = stats.bytesToSource();
        if (p != null) {
            synchronized (p) {
                p.done = true;
                openedBefore = p.openedCounted;
                from -= p.fromSource;
                to -= p.toSource;
            }
        } else {
            openedBefore = false;
        }
        if (!labelled(c)) {
            return; // rejected before anything was known: counted above, no workload series
        }
        String[] labels = istioLabels(c, stats.reason().istioFlag());
        if (!openedBefore) {
            istioOpened.labelValues(labels).inc();
        }
        istioClosed.labelValues(labels).inc();
        istioReceived.labelValues(labels).inc(Math.max(0, from));
        istioSent.labelValues(labels).inc(Math.max(0, to));
        series.touch(labels, localWorkload(labels));
    }

    /**
     * A kernel-decided plaintext connection attempt: {@code istio_tcp_connections_opened_total} for an allowed
     * one (response_flags "-"; its bytes and its close are never seen by the agent, so no byte or closed
     * series are made up); opened and closed with the reason's flag for a dropped one, as a mesh connection
     * denied by policy is counted. {@code connection_security_policy="none"}.
     */
    @Override
    public void plaintext(ConnectionContext c, ConnectionStats stats) {
        if (!labelled(c)) {
            return;
        }
        String[] labels = istioLabels(c, stats.reason().istioFlag());
        istioOpened.labelValues(labels).inc();
        if (stats.reason() != CloseReason.OK) {
            istioClosed.labelValues(labels).inc();
        }
        series.touch(labels, localWorkload(labels));
    }

    /**
     * Adds what every open connection relayed since the last flush to the byte counters (and counts it
     * as opened once its labels are known). Safe to call from any thread at any time.
     */
    public void flush() {
        for (var e : live.entrySet()) {
            RelaySession s = e.getKey();
            ConnectionContext c = s.context();
            if (!labelled(c)) {
                continue;
            }
            String[] labels = istioLabels(c, "-");
            Progress p = e.getValue();
            long from;
            long to;
            boolean countOpen;
            synchronized (p) {
                if (p.done || s.isClosed()) {
                    continue; // the close reports the rest
                }
                from = s.bytesFromSource() - p.fromSource;
                to = s.bytesToSource() - p.toSource;
                p.fromSource += from;
                p.toSource += to;
                countOpen = !p.openedCounted;
                p.openedCounted = true;
                if (countOpen) {
                    istioOpened.labelValues(labels).inc();
                }
                if (from > 0) {
                    istioReceived.labelValues(labels).inc(from);
                }
                if (to > 0) {
                    istioSent.labelValues(labels).inc(to);
                }
            }
            series.touch(labels, localWorkload(labels));
        }
    }

    /** The connections open right now (for the admin API). */
    public Collection<RelaySession> open() {
        List<RelaySession> out = new ArrayList<>();
        for (RelaySession s : live.keySet()) {
            if (!s.isClosed()) {
                out.add(s);
            }
        }
        return out;
    }

    /**
     * Removes the {@code istio_tcp_*} series idle for longer than the grace period whose local workload
     * ({@code namespace/workload}, the source for reporter=source, the destination for
     * reporter=destination) is not in {@code present}. Returns how many series were removed.
     */
    public int evict(Set<String> present, long graceNanos) {
        return series.evict(present, graceNanos);
    }

    /** Number of {@code istio_tcp_*} label sets currently exported. */
    public int seriesCount() {
        return series.size();
    }

    private static boolean labelled(ConnectionContext c) {
        return c.route() != null && (c.sourceWorkload() != null || c.destinationWorkload() != null);
    }

    /** {@code namespace/workload} of the side of the connection that lives on this node. */
    private static String localWorkload(String[] labels) {
        return "source".equals(labels[0]) ? labels[2] + "/" + labels[1] : labels[5] + "/" + labels[4];
    }

    /** The {@code namespace/workload} key the series of {@code w} carry (see {@link #evict}). */
    public static String workloadKey(Workload w) {
        return w.namespace() + "/" + w.workloadName();
    }

    private String[] istioLabels(ConnectionContext c, String flags) {
        Workload src = c.sourceWorkload();
        Workload dst = c.destinationWorkload();
        var svc = c.service();
        return new String[] {
            c.direction() == Direction.OUTBOUND ? "source" : "destination",
            workloadName(src), src == null ? UNKNOWN : src.namespace(), principal(c.sourceIdentity()),
            workloadName(dst), dst == null ? UNKNOWN : dst.namespace(), principal(c.destinationIdentity()),
            svc == null ? UNKNOWN : svc.hostname(CLUSTER_DOMAIN),
            c.route() != RouteKind.PLAINTEXT && (c.route() == RouteKind.HBONE || c.direction() == Direction.INBOUND)
                    ? "mutual_tls" : "none",
            flags,
            // ztunnel: app and version are the canonical service and revision
            src == null ? UNKNOWN : src.canonicalService(), src == null ? UNKNOWN : src.canonicalRevision(),
            src == null ? UNKNOWN : clusterId,
            src == null ? UNKNOWN : src.canonicalService(), src == null ? UNKNOWN : src.canonicalRevision(),
            dst == null ? UNKNOWN : dst.canonicalService(), dst == null ? UNKNOWN : dst.canonicalRevision(),
            dst == null ? UNKNOWN : clusterId,
            dst == null ? UNKNOWN : dst.canonicalService(), dst == null ? UNKNOWN : dst.canonicalRevision(),
            svc == null ? UNKNOWN : svc.name(), svc == null ? UNKNOWN : svc.namespace(),
            "tcp"
        };
    }

    /**
     * Istio's workload name: the pod's owner (Deployment, StatefulSet, DaemonSet, Job, CronJob), computed where
     * pods are read and carried in {@link Workload#workloadName()}; the pod's name when it has no owner.
     */
    static String workloadName(Workload w) {
        return w == null ? UNKNOWN : w.workloadName();
    }

    private static String principal(SpiffeId id) {
        return id == null ? "unknown" : id.toString();
    }

    private static String direction(Direction d) {
        return d == Direction.OUTBOUND ? "outbound" : "inbound";
    }
}
