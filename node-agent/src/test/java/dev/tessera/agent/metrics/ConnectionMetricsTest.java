package dev.tessera.agent.metrics;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tessera.agent.connection.CloseReason;
import dev.tessera.agent.connection.ConnectionContext.Direction;
import dev.tessera.agent.connection.ConnectionContext.RouteKind;
import dev.tessera.agent.connection.ConnectionContext;
import dev.tessera.agent.connection.ConnectionListener;
import dev.tessera.agent.connection.RelaySession;
import dev.tessera.agent.connection.SessionBytes;
import dev.tessera.api.identity.SpiffeId;
import dev.tessera.api.model.Workload;
import io.prometheus.metrics.expositionformats.OpenMetricsTextFormatWriter;
import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class ConnectionMetricsTest {

    private final AtomicLong clock = new AtomicLong();
    private final AgentMetrics metrics = new AgentMetrics(clock::get);
    private final ConnectionListener listener = metrics.connections();

    private static Workload pod(String ns, String name, String node, String ip, String app) throws IOException {
        return new Workload(ns, name, node, InetAddress.getByName(ip), name, Map.of("app", app), true,
                new SpiffeId("cluster.local", ns, name));
    }

    private static ConnectionContext outbound(Workload src, Workload dst) {
        return ConnectionContext.accepted(Direction.OUTBOUND, new InetSocketAddress(src.ip(), 40000))
                .withDestination(new InetSocketAddress(dst.ip(), 8080))
                .withSource(src, src.identity())
                .withTarget(dst, dst.identity())
                .withRoute(RouteKind.HBONE, new InetSocketAddress("198.18.0.2", 15008));
    }

    private String text() throws IOException {
        var out = new ByteArrayOutputStream();
        PrometheusTextFormatWriter.create().write(out, metrics.registry().scrape());
        return out.toString(StandardCharsets.UTF_8);
    }

    private String openMetrics() throws IOException {
        var out = new ByteArrayOutputStream();
        OpenMetricsTextFormatWriter.create().write(out, metrics.registry().scrape());
        return out.toString(StandardCharsets.UTF_8);
    }

    private double value(String name, String labelFragment) {
        double sum = 0;
        for (var snapshot : metrics.registry().scrape()) {
            if (!snapshot.getMetadata().getPrometheusName().equals(name.replace("_total", ""))) {
                continue;
            }
            for (var dp : snapshot.getDataPoints()) {
                if (dp.getLabels().toString().contains(labelFragment)) {
                    sum += ((io.prometheus.metrics.model.snapshots.CounterSnapshot.CounterDataPointSnapshot) dp).getValue();
                }
            }
        }
        return sum;
    }

    @Test
    void bytesMoveWhileTheConnectionIsOpenAndAddUpExactlyAtClose() throws IOException {
        Workload client = pod("shop", "client-1", "node1", "198.18.1.2", "client");
        Workload server = pod("shop", "server-1", "node2", "198.18.2.2", "server");
        RelaySession s = new RelaySession(outbound(client, server), listener);

        SessionBytes.relay(s, 1000, 50);
        metrics.connections().flush();
        assertThat(value("istio_tcp_received_bytes_total", "source_workload=\"client\"")).isEqualTo(1000);
        assertThat(value("istio_tcp_sent_bytes_total", "source_workload=\"client\"")).isEqualTo(50);
        assertThat(value("istio_tcp_connections_opened_total", "reporter=\"source\"")).isEqualTo(1);
        assertThat(value("istio_tcp_connections_closed_total", "reporter=\"source\"")).isZero();

        metrics.connections().flush(); // nothing new: nothing added
        assertThat(value("istio_tcp_received_bytes_total", "source_workload=\"client\"")).isEqualTo(1000);

        SessionBytes.relay(s, 24, 2000);
        s.fail(CloseReason.UPSTREAM_RESET);
        s.close();
        metrics.connections().flush(); // a flush after the close must not count anything twice
        assertThat(value("istio_tcp_received_bytes_total", "source_workload=\"client\"")).isEqualTo(1024);
        assertThat(value("istio_tcp_sent_bytes_total", "source_workload=\"client\"")).isEqualTo(2050);
        assertThat(value("istio_tcp_connections_opened_total", "reporter=\"source\"")).isEqualTo(1);
        assertThat(value("istio_tcp_connections_closed_total", "reporter=\"source\"")).isEqualTo(1);
        assertThat(metrics.connections().open()).isEmpty();
    }

    @Test
    void aConnectionClosedBeforeAnyFlushIsCountedOnce() throws IOException {
        Workload client = pod("shop", "client-1", "node1", "198.18.1.2", "client");
        Workload server = pod("shop", "server-1", "node2", "198.18.2.2", "server");
        RelaySession s = new RelaySession(outbound(client, server), listener);
        assertThat(metrics.connections().open()).containsExactly(s);
        SessionBytes.relay(s, 7, 9);
        s.close();
        assertThat(value("istio_tcp_connections_opened_total", "response_flags=\"-\"")).isEqualTo(1);
        assertThat(value("istio_tcp_received_bytes_total", "")).isEqualTo(7);
        assertThat(value("istio_tcp_sent_bytes_total", "")).isEqualTo(9);
    }

    @Test
    void textAndOpenMetricsExpositionCarryIstioNamesAndLabels() throws IOException {
        Workload client = pod("shop", "client-1", "node1", "198.18.1.2", "client");
        Workload server = pod("shop", "server-1", "node2", "198.18.2.2", "server");
        RelaySession s = new RelaySession(outbound(client, server), listener);
        SessionBytes.relay(s, 10, 20);
        s.close();
        metrics.certificateExpiry(() -> Map.of("spiffe://cluster.local/ns/shop/sa/client-1",
                Instant.ofEpochSecond(1_900_000_000L)));

        String text = text();
        assertThat(text).contains("# TYPE istio_tcp_sent_bytes_total counter")
                .contains("istio_tcp_sent_bytes_total{connection_security_policy=\"mutual_tls\",destination_principal="
                        + "\"spiffe://cluster.local/ns/shop/sa/server-1\",destination_service=\"unknown\","
                        + "destination_workload=\"server\",destination_workload_namespace=\"shop\",reporter=\"source\","
                        + "response_flags=\"-\",source_principal=\"spiffe://cluster.local/ns/shop/sa/client-1\","
                        + "source_workload=\"client\",source_workload_namespace=\"shop\"} 20.0")
                .contains("tessera_certificate_expiry_timestamp_seconds{identity=\"spiffe://cluster.local/ns/shop/sa/client-1\"} 1.9E9");
        String om = openMetrics();
        assertThat(om).contains("# TYPE istio_tcp_sent_bytes counter").contains("istio_tcp_sent_bytes_total{")
                .endsWith("# EOF\n");
    }

    @Test
    void seriesOfWorkloadsThatLeftTheNodeAreEvictedAfterTheGracePeriodOnly() throws IOException {
        Workload client = pod("shop", "client-1", "node1", "198.18.1.2", "client");
        Workload server = pod("shop", "server-1", "node2", "198.18.2.2", "server");
        Workload gone = pod("shop", "batch-7", "node1", "198.18.1.3", "batch");
        for (Workload src : new Workload[] {client, gone}) {
            RelaySession s = new RelaySession(outbound(src, server), listener);
            SessionBytes.relay(s, 1, 1);
            s.close();
        }
        long grace = TimeUnit.MINUTES.toNanos(5);
        Set<String> present = Set.of(ConnectionMetrics.workloadKey(client));
        assertThat(metrics.connections().seriesCount()).isEqualTo(2);

        clock.addAndGet(grace); // exactly the grace period: kept
        assertThat(metrics.connections().evict(present, grace)).isZero();
        assertThat(text()).contains("source_workload=\"batch\"");

        clock.addAndGet(1);
        assertThat(metrics.connections().evict(present, grace)).isEqualTo(1);
        assertThat(text()).doesNotContain("source_workload=\"batch\"").contains("source_workload=\"client\"");
        assertThat(metrics.connections().seriesCount()).isEqualTo(1);

        // The present workload's idle series stay however old they are.
        clock.addAndGet(10 * grace);
        assertThat(metrics.connections().evict(present, grace)).isZero();
        assertThat(text()).contains("source_workload=\"client\"");
    }

    @Test
    void aLiveConnectionKeepsItsSeriesFreshWhileItsWorkloadIsGone() throws IOException {
        Workload gone = pod("shop", "batch-7", "node1", "198.18.1.3", "batch");
        Workload server = pod("shop", "server-1", "node2", "198.18.2.2", "server");
        RelaySession s = new RelaySession(outbound(gone, server), listener);
        long grace = TimeUnit.MINUTES.toNanos(1);
        for (int i = 0; i < 5; i++) {
            clock.addAndGet(grace / 2);
            SessionBytes.relay(s, 1, 0);
            metrics.connections().flush();
            assertThat(metrics.connections().evict(Set.of(), grace)).isZero();
        }
        s.close();
        assertThat(value("istio_tcp_received_bytes_total", "")).isEqualTo(5);
    }

    @Test
    void kernelDecidedPlaintextCountsOpenedAndForADenialClosedWithSecurityPolicyNone() throws Exception {
        Workload db = pod("data", "db-0", "node2", "198.18.2.2", "db");
        var ctx = ConnectionContext.accepted(Direction.INBOUND, new InetSocketAddress("198.18.9.9", 41000))
                .withDestination(new InetSocketAddress(db.ip(), 5432))
                .withTarget(db, null)
                .withRoute(RouteKind.PLAINTEXT, null);
        listener.plaintext(ctx, new dev.tessera.agent.connection.ConnectionStats(0, 0, java.time.Duration.ZERO, CloseReason.OK));
        listener.plaintext(ctx, new dev.tessera.agent.connection.ConnectionStats(0, 0, java.time.Duration.ZERO,
                CloseReason.POLICY_DENIED));
        String none = "connection_security_policy=\"none\"";
        assertThat(value("istio_tcp_connections_opened_total", "response_flags=\"-\"")).isEqualTo(1);
        assertThat(value("istio_tcp_connections_opened_total", "response_flags=\"POLICY_DENIED\"")).isEqualTo(1);
        assertThat(value("istio_tcp_connections_closed_total", "response_flags=\"-\"")).isZero();
        assertThat(value("istio_tcp_connections_closed_total", "response_flags=\"POLICY_DENIED\"")).isEqualTo(1);
        assertThat(value("istio_tcp_connections_opened_total", none)).isEqualTo(2);
        assertThat(value("istio_tcp_received_bytes_total", none)).as("bytes are never seen").isZero();
        assertThat(text()).contains("reporter=\"destination\"", "source_workload=\"unknown\"",
                "source_principal=\"unknown\"", "destination_workload=\"db\"");
        assertThat(value("tessera_connections_opened_total", "")).as("not the agent's connections").isZero();
    }
}
