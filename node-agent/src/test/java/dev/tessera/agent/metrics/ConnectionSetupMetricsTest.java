package dev.tessera.agent.metrics;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tessera.agent.connection.ConnectionContext.Direction;
import dev.tessera.agent.connection.ConnectionContext;
import dev.tessera.agent.connection.RelaySession;
import dev.tessera.agent.connection.SessionBytes;
import io.prometheus.metrics.model.snapshots.HistogramSnapshot.HistogramDataPointSnapshot;
import io.prometheus.metrics.model.snapshots.HistogramSnapshot;
import java.net.InetSocketAddress;
import org.junit.jupiter.api.Test;

/** {@code tessera_connection_setup_seconds}, fed by the sessions' first relayed bytes. */
class ConnectionSetupMetricsTest {

    private final AgentMetrics metrics = new AgentMetrics();

    private RelaySession session(Direction direction, int port) {
        return new RelaySession(ConnectionContext.accepted(direction, new InetSocketAddress("198.18.1.2", port)),
                metrics.connections());
    }

    private HistogramDataPointSnapshot point(String direction, String phase) {
        for (var snapshot : metrics.registry().scrape()) {
            if (snapshot instanceof HistogramSnapshot h
                    && h.getMetadata().getPrometheusName().equals("tessera_connection_setup_seconds")) {
                for (var dp : h.getDataPoints()) {
                    if (direction.equals(dp.getLabels().get("direction")) && phase.equals(dp.getLabels().get("phase"))) {
                        return dp;
                    }
                }
            }
        }
        throw new AssertionError("no tessera_connection_setup_seconds{direction=" + direction + ",phase=" + phase + "}");
    }

    @Test
    void oneObservationPerConnectionAndPhaseHoweverManyReads() {
        RelaySession a = session(Direction.OUTBOUND, 40000);
        RelaySession b = session(Direction.OUTBOUND, 40001);
        for (int i = 0; i < 5; i++) {
            SessionBytes.relay(a, 100, 1000);
        }
        SessionBytes.relay(b, 10, 0); // no answer (yet): only the request phase
        SessionBytes.relay(b, 10, 0);
        a.close();
        b.close();

        assertThat(point("outbound", "request").getCount()).isEqualTo(2);
        assertThat(point("outbound", "response").getCount()).isEqualTo(1);
        assertThat(point("outbound", "request").getSum()).isPositive();
        assertThat(point("inbound", "request").getCount()).isZero();
    }

    @Test
    void inboundConnectionsAreTheirOwnSeries() {
        RelaySession s = session(Direction.INBOUND, 40002);
        SessionBytes.relay(s, 0, 0); // nothing relayed: nothing observed
        assertThat(point("inbound", "request").getCount()).isZero();

        SessionBytes.relay(s, 1, 1);
        s.close();
        assertThat(point("inbound", "request").getCount()).isEqualTo(1);
        assertThat(point("inbound", "response").getCount()).isEqualTo(1);
        assertThat(point("outbound", "request").getCount()).isZero();
    }

    @Test
    void exportedWithDirectionAndPhaseLabels() throws Exception {
        session(Direction.OUTBOUND, 40003);
        var out = new java.io.ByteArrayOutputStream();
        io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter.create().write(out, metrics.registry().scrape());
        assertThat(out.toString(java.nio.charset.StandardCharsets.UTF_8))
                .contains("tessera_connection_setup_seconds_bucket{direction=\"outbound\",phase=\"request\",le=\"0.001\"}")
                .contains("tessera_connection_setup_seconds_count{direction=\"inbound\",phase=\"response\"}");
    }
}
