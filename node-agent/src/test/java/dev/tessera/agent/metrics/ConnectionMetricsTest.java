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

    /** A pod of a Deployment named {@code app}, labelled {@code app: <app>}. */
    static Workload pod(String ns, String name, String node, String ip, String app) throws IOException {
        return new Workload(ns, name, node, InetAddress.getByName(ip), name, Map.of("app", app), true,
                new SpiffeId("cluster.local", ns, name), app);
    }

    static ConnectionContext outbound(Workload src, Workload dst) {
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
                .contains("istio_tcp_sent_bytes_total{connection_security_policy=\"mutual_tls\",destination_app=\"server\","
                        + "destination_canonical_revision=\"latest\",destination_canonical_service=\"server\","
                        + "destination_cluster=\"Kubernetes\",destination_principal="
                        + "\"spiffe://cluster.local/ns/shop/sa/server-1\",destination_service=\"unknown\","
                        + "destination_service_name=\"unknown\",destination_service_namespace=\"unknown\","
                        + "destination_version=\"latest\","
                        + "destination_workload=\"server\",destination_workload_namespace=\"shop\",reporter=\"source\","
                        + "request_protocol=\"tcp\",response_flags=\"-\",source_app=\"client\","
                        + "source_canonical_revision=\"latest\",source_canonical_service=\"client\","
                        + "source_cluster=\"Kubernetes\",source_principal=\"spiffe://cluster.local/ns/shop/sa/client-1\","
                        + "source_version=\"latest\",source_workload=\"client\",source_workload_namespace=\"shop\"} 20.0")
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
        assertThat(value("istio_tcp_connections_opened_total", "response_flags=\"DENY\"")).isEqualTo(1);
        assertThat(value("istio_tcp_connections_closed_total", "response_flags=\"-\"")).isZero();
        assertThat(value("istio_tcp_connections_closed_total", "response_flags=\"DENY\"")).isEqualTo(1);
        assertThat(value("istio_tcp_connections_opened_total", none)).isEqualTo(2);
        assertThat(value("istio_tcp_received_bytes_total", none)).as("bytes are never seen").isZero();
        assertThat(text()).contains("reporter=\"destination\"", "source_workload=\"unknown\"",
                "source_principal=\"unknown\"", "destination_workload=\"db\"");
        assertThat(value("tessera_connections_opened_total", "")).as("not the agent's connections").isZero();
    }

    @Test
    void everyIstioTcpSeriesCarriesZtunnelsFullLabelSet() throws IOException {
        Workload client = pod("shop", "client-1", "node1", "198.18.1.2", "client");
        Workload server = pod("shop", "server-1", "node2", "198.18.2.2", "server");
        RelaySession s = new RelaySession(outbound(client, server), listener);
        SessionBytes.relay(s, 1, 1);
        s.close();
        for (var snapshot : metrics.registry().scrape()) {
            if (!snapshot.getMetadata().getName().startsWith("istio_tcp_")) {
                continue;
            }
            assertThat(snapshot.getDataPoints()).isNotEmpty();
            for (var dp : snapshot.getDataPoints()) {
                var names = new java.util.ArrayList<String>();
                dp.getLabels().forEach(l -> names.add(l.getName()));
                assertThat(names).as(snapshot.getMetadata().getName()).containsExactlyInAnyOrder("reporter",
                        "source_workload", "source_workload_namespace", "source_principal", "source_app",
                        "source_version", "source_cluster", "source_canonical_service", "source_canonical_revision",
                        "destination_workload", "destination_workload_namespace", "destination_principal",
                        "destination_app", "destination_version", "destination_cluster",
                        "destination_canonical_service", "destination_canonical_revision", "destination_service",
                        "destination_service_name", "destination_service_namespace", "request_protocol",
                        "response_flags", "connection_security_policy");
            }
        }
    }

    @Test
    void canonicalLabelsComeFromIstioLabelsAndAPodWithoutOwnerIsItsOwnWorkload() throws IOException {
        Workload client = new Workload("shop", "debug", "node1", InetAddress.getByName("198.18.1.9"), "default",
                Map.of(), true, new SpiffeId("cluster.local", "shop", "default"));
        Workload server = new Workload("shop", "reviews-v2-6f9d7c8b4d-xk2lp", "node2",
                InetAddress.getByName("198.18.2.9"), "reviews",
                Map.of("app", "reviews", "version", "v2", "service.istio.io/canonical-name", "reviews-canonical",
                        "app.kubernetes.io/version", "2.1.0"),
                true, new SpiffeId("cluster.local", "shop", "reviews"), "reviews-v2");
        var svc = new dev.tessera.api.model.Service("shop", "reviews", java.util.List.of(InetAddress.getByName("10.96.0.10")),
                java.util.List.of(new dev.tessera.api.model.Service.Port("tcp", 9080, 9080)), java.util.List.of());
        RelaySession s = new RelaySession(outbound(client, server).withService(svc), listener);
        SessionBytes.relay(s, 3, 4);
        s.close();
        String series = text().lines().filter(l -> l.startsWith("istio_tcp_sent_bytes_total{")).findFirst().orElseThrow();
        assertThat(series).contains("source_workload=\"debug\"", "source_canonical_service=\"debug\"",
                "source_app=\"debug\"", "source_canonical_revision=\"latest\"", "source_version=\"latest\"",
                "destination_workload=\"reviews-v2\"", "destination_canonical_service=\"reviews-canonical\"",
                "destination_app=\"reviews-canonical\"", "destination_canonical_revision=\"2.1.0\"",
                "destination_version=\"2.1.0\"", "destination_service=\"reviews.shop.svc.cluster.local\"",
                "destination_service_name=\"reviews\"", "destination_service_namespace=\"shop\"")
                .endsWith(" 4.0");
    }

    @Test
    void responseFlagsUseIstiosValuesWhileTesseraReasonsKeepThePreciseCause() throws IOException {
        Workload client = pod("shop", "client-1", "node1", "198.18.1.2", "client");
        Workload server = pod("shop", "server-1", "node2", "198.18.2.2", "server");
        Map<CloseReason, String> expected = Map.of(CloseReason.OK, "-", CloseReason.POLICY_DENIED, "DENY",
                CloseReason.UPSTREAM_CONNECT_FAILED, "CONNECT", CloseReason.TLS_HANDSHAKE_FAILED, "TLS_FAILURE",
                CloseReason.PEER_IDENTITY_MISMATCH, "IDENTITY_ERROR", CloseReason.NO_SERVICE_PORT, "NR",
                CloseReason.NO_HEALTHY_ENDPOINT, "UH", CloseReason.CLIENT_RESET, "DC", CloseReason.UPSTREAM_RESET, "UC");
        expected.forEach((reason, flag) -> {
            RelaySession s = new RelaySession(outbound(client, server), listener);
            if (reason != CloseReason.OK) {
                s.fail(reason);
            }
            s.close();
            assertThat(value("istio_tcp_connections_closed_total", "response_flags=\"" + flag + "\""))
                    .as(reason.name()).isEqualTo(1);
            assertThat(value("tessera_connections_closed_total", "reason=\"" + reason.flag() + "\""))
                    .as(reason.name()).isEqualTo(1);
        });
        for (CloseReason r : CloseReason.values()) {
            assertThat(r.istioFlag()).as(r.name()).isIn("-", "DENY", "CONNECT", "TLS_FAILURE", "IDENTITY_ERROR", "NR",
                    "UH", "DC", "UC");
            assertThat(r.istioFlag().equals("-")).as(r.name()).isEqualTo(r == CloseReason.OK);
        }
    }
}
