package dev.tessera.agent.metrics;

import dev.tessera.agent.proxy.ConnectionContext;
import dev.tessera.agent.proxy.ConnectionContext.Direction;
import dev.tessera.agent.proxy.ConnectionContext.RouteKind;
import dev.tessera.agent.proxy.ConnectionListener;
import dev.tessera.agent.proxy.ConnectionStats;
import dev.tessera.common.identity.SpiffeId;
import dev.tessera.common.model.Workload;
import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.model.registry.PrometheusRegistry;

/**
 * Per-connection metrics: Istio's standard TCP metrics (same names and labels, so existing dashboards
 * work) plus the agent's own {@code tessera_connections_*}. {@code reporter} is {@code source} on the
 * client's node (outbound) and {@code destination} on the server's node (inbound). Byte directions follow
 * Istio: {@code received} = from the client (request), {@code sent} = to the client (response).
 */
public final class ConnectionMetrics implements ConnectionListener {

    private static final String[] ISTIO_LABELS = {"reporter", "source_workload", "source_workload_namespace",
        "source_principal", "destination_workload", "destination_workload_namespace", "destination_principal",
        "destination_service", "connection_security_policy", "response_flags"};

    private final Counter istioOpened;
    private final Counter istioClosed;
    private final Counter istioSent;
    private final Counter istioReceived;
    private final Counter opened;
    private final Counter closed;

    ConnectionMetrics(PrometheusRegistry registry) {
        istioOpened = Counter.builder().name("istio_tcp_connections_opened_total")
                .help("TCP connections opened").labelNames(ISTIO_LABELS).register(registry);
        istioClosed = Counter.builder().name("istio_tcp_connections_closed_total")
                .help("TCP connections closed").labelNames(ISTIO_LABELS).register(registry);
        istioSent = Counter.builder().name("istio_tcp_sent_bytes_total")
                .help("Bytes sent to the client (response direction)").labelNames(ISTIO_LABELS).register(registry);
        istioReceived = Counter.builder().name("istio_tcp_received_bytes_total")
                .help("Bytes received from the client (request direction)").labelNames(ISTIO_LABELS)
                .register(registry);
        opened = Counter.builder().name("tessera_connections_opened_total")
                .help("Connections accepted by the agent, by direction (outbound 15001, inbound 15008 streams)")
                .labelNames("direction").register(registry);
        closed = Counter.builder().name("tessera_connections_closed_total")
                .help("Connections closed by the agent, by direction and reason (- = normal end)")
                .labelNames("direction", "reason").register(registry);
    }

    @Override
    public void opened(ConnectionContext c) {
        opened.labelValues(direction(c.direction())).inc();
    }

    @Override
    public void closed(ConnectionContext c, ConnectionStats stats) {
        closed.labelValues(direction(c.direction()), stats.reason().flag()).inc();
        if (c.route() == null || c.sourceWorkload() == null && c.destinationWorkload() == null) {
            return; // rejected before anything was known: counted above, no workload series
        }
        String[] labels = istioLabels(c, stats.reason().flag());
        // Opened is recorded with the close so both carry the same labels (the route and identities are only
        // complete once the connection is set up); Istio's dashboards use rates, which this keeps exact.
        istioOpened.labelValues(labels).inc();
        istioClosed.labelValues(labels).inc();
        istioReceived.labelValues(labels).inc(stats.bytesFromSource());
        istioSent.labelValues(labels).inc(stats.bytesToSource());
    }

    private static String[] istioLabels(ConnectionContext c, String flags) {
        Workload src = c.sourceWorkload();
        Workload dst = c.destinationWorkload();
        return new String[] {
            c.direction() == Direction.OUTBOUND ? "source" : "destination",
            workloadName(src), src == null ? "unknown" : src.namespace(), principal(c.sourceIdentity()),
            workloadName(dst), dst == null ? "unknown" : dst.namespace(), principal(c.destinationIdentity()),
            "unknown",
            c.route() == RouteKind.HBONE || c.direction() == Direction.INBOUND ? "mutual_tls" : "none",
            flags
        };
    }

    /** Istio reports the owning workload (e.g. a Deployment); pods carry it as the {@code app} label. */
    static String workloadName(Workload w) {
        if (w == null) {
            return "unknown";
        }
        String app = w.labels().get("app.kubernetes.io/name");
        if (app == null) {
            app = w.labels().get("app");
        }
        return app != null ? app : w.name();
    }

    private static String principal(SpiffeId id) {
        return id == null ? "unknown" : id.toString();
    }

    private static String direction(Direction d) {
        return d == Direction.OUTBOUND ? "outbound" : "inbound";
    }
}
