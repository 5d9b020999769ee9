package dev.tessera.agent.metrics;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tessera.agent.connection.CloseReason;
import dev.tessera.agent.connection.ConnectionContext.Direction;
import dev.tessera.agent.connection.ConnectionListener.SetupPhase;
import dev.tessera.agent.connection.RelaySession;
import dev.tessera.agent.connection.SessionBytes;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import io.prometheus.metrics.model.snapshots.CounterSnapshot.CounterDataPointSnapshot;
import io.prometheus.metrics.model.snapshots.DataPointSnapshot;
import io.prometheus.metrics.model.snapshots.HistogramSnapshot.HistogramDataPointSnapshot;
import io.prometheus.metrics.tracer.common.SpanContext;
import io.prometheus.metrics.tracer.initializer.SpanContextSupplier;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The per-connection metrics sample no exemplars. The agent has no trace context of its own; with exemplars on
 * (the client library's default) each data point's sampler hands a task to the library's scheduler thread at
 * most every 90 ms per update, which woke that thread on the agent's core for most connections at low rates.
 * Installed here is a trace context that always has a sampled span, so an exemplar-sampling metric WOULD record
 * one: the test fails if a builder loses its {@code withoutExemplars()}.
 */
public class NoExemplarsTest {

    /** A trace context whose current span is always sampled. */
    public static final SpanContext SAMPLED = new SpanContext() {
        @Override
        public String getCurrentTraceId() {
            return "0af7651916cd43dd8448eb211c80319c";
        }

        @Override
        public String getCurrentSpanId() {
            return "b7ad6b7169203331";
        }

        @Override
        public boolean isCurrentSpanSampled() {
            return true;
        }

        @Override
        public void markCurrentSpanAsExemplar() {
        }
    };

    private SpanContext before;

    @BeforeEach
    void installSampledSpan() {
        before = SpanContextSupplier.getSpanContext();
        SpanContextSupplier.setSpanContext(SAMPLED);
    }

    @AfterEach
    void restore() {
        SpanContextSupplier.setSpanContext(before);
    }

    /** Every data point with an exemplar, as {@code metric{labels}}. */
    public static List<String> exemplars(PrometheusRegistry registry) {
        var found = new ArrayList<String>();
        for (var snapshot : registry.scrape()) {
            for (DataPointSnapshot dp : snapshot.getDataPoints()) {
                boolean has = dp instanceof CounterDataPointSnapshot c && c.getExemplar() != null
                        || dp instanceof HistogramDataPointSnapshot h && h.getExemplars().size() > 0;
                if (has) {
                    found.add(snapshot.getMetadata().getName() + dp.getLabels());
                }
            }
        }
        return found;
    }

    @Test
    void connectionsAndTheirSetupTimesCarryNoExemplars() throws Exception {
        var metrics = new AgentMetrics(new AtomicLong()::get);
        var client = ConnectionMetricsTest.pod("shop", "client-1", "node1", "198.18.1.2", "client");
        var server = ConnectionMetricsTest.pod("shop", "server-1", "node2", "198.18.2.2", "server");
        var context = ConnectionMetricsTest.outbound(client, server);

        RelaySession s = new RelaySession(context, metrics.connections());
        metrics.setup().setup(Direction.OUTBOUND, SetupPhase.REQUEST, 300_000);
        metrics.setup().setup(Direction.INBOUND, SetupPhase.RESPONSE, 900_000);
        SessionBytes.relay(s, 100, 200);
        s.fail(CloseReason.UPSTREAM_RESET);
        s.close();
        metrics.connections().flush();

        assertThat(metrics.registry().scrape().stream().map(m -> m.getMetadata().getName()))
                .contains("istio_tcp_connections_opened", "istio_tcp_sent_bytes", "tessera_connection_setup_seconds",
                        "tessera_connections_closed");
        assertThat(exemplars(metrics.registry())).isEmpty();
    }
}
