package dev.tessera.tests;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tessera.cli.Main;
import dev.tessera.tests.harness.ClusterSpec;
import dev.tessera.tests.harness.NetnsSupport;
import dev.tessera.tests.harness.Payload;
import dev.tessera.tests.harness.PrometheusServer;
import dev.tessera.tests.harness.TestCluster;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.OptionalDouble;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.Timeout;

/**
 * The agents' metrics as a real Prometheus sees them: a Prometheus server runs in node1's network
 * namespace, scrapes both agents every second over the fabric, and PromQL over its HTTP API must show
 * exactly the connections and bytes the test sent, bytes of a connection that is still open, and
 * complete coverage. Then the CLI ({@code check}, {@code stat}, {@code config}) against the same agents.
 */
@Timeout(300)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class PrometheusNetnsIT {

    private static final String NS = "obs";
    private static final int CONNECTIONS = 10;
    private static final int REQUEST = 48_000;
    private static final int RESPONSE = 150_000;
    private static final int PROMETHEUS_PORT = 19090;
    private static final ClusterSpec SPEC = ClusterSpec.builder()
            .nodes("node1", "node2")
            .meshedNamespace(NS)
            .pod(NS, "client", "node1", "client")
            .pod(NS, "streamer", "node1", "streamer")
            .pod(NS, "server", "node2", "server")
            // A Deployment's pod (ReplicaSet web-5d8f9) and a StatefulSet's pod behind a Service: Kiali's edge
            .ownedPod(NS, "web-5d8f9-x2x4z", "node1", "web", Map.of("app", "web", "version", "v1",
                    "pod-template-hash", "5d8f9"), "ReplicaSet", "web-5d8f9")
            .ownedPod(NS, "db-0", "node2", "db", Map.of("app", "db", "service.istio.io/canonical-revision", "v2"),
                    "StatefulSet", "db")
            .build();
    /** The db Service's virtual IP (in the test range; each cluster resolves its own VIPs). */
    private static final String DB_VIP = "198.19.0.77";
    private static final int DB_PORT = 5432;
    private static final Duration PROM_WAIT = Duration.ofSeconds(45);

    private static TestCluster c;
    private static PrometheusServer prometheus;

    @BeforeAll
    static void up() throws IOException {
        NetnsSupport.requireRoot();
        c = TestCluster.create("tsc-obs", SPEC, true);
        c.server(NS, "server", 7000, PrometheusNetnsIT::sized);
        c.server(NS, "server", 7001, PrometheusNetnsIT::sink);
        c.server(NS, "db-0", 7002, PrometheusNetnsIT::sized);
        c.writeManifest("db-service.yaml", "apiVersion: v1\nkind: Service\nmetadata:\n  name: db\n  namespace: " + NS
                + "\nspec:\n  clusterIP: " + DB_VIP + "\n  selector: {app: db}\n  ports:\n  - name: tcp\n    port: "
                + DB_PORT + "\n    targetPort: 7002\n");
        prometheus = PrometheusServer.startWithNodeLabels(c.nodeNetns("node1"),
                Map.of("node1", c.nodeIp("node1") + ":15020", "node2", c.nodeIp("node2") + ":15020"), PROMETHEUS_PORT);
        await().atMost(PROM_WAIT).until(prometheus::ready);
    }

    @AfterAll
    static void down() throws IOException {
        try {
            if (prometheus != null) {
                prometheus.close();
            }
        } finally {
            if (c != null) {
                c.close();
            }
        }
    }

    /** Reads a request size and a response size, that many bytes, answers that many bytes, closes. */
    private static void sized(Socket s) throws IOException {
        var in = new DataInputStream(s.getInputStream());
        int request = in.readInt();
        int response = in.readInt();
        in.readNBytes(request);
        Payload.write(new DataOutputStream(s.getOutputStream()), response, 3);
        s.getOutputStream().flush();
    }

    /** Reads until the client closes. */
    private static void sink(Socket s) throws IOException {
        s.getInputStream().transferTo(java.io.OutputStream.nullOutputStream());
    }

    private static double value(String promql) throws IOException {
        OptionalDouble v = prometheus.value(promql);
        return v.isPresent() ? v.getAsDouble() : Double.NaN;
    }

    private static String sel(String reporter, String source) {
        return "{job=\"tessera-agents\",reporter=\"" + reporter + "\",source_workload=\"" + source
                + "\",source_workload_namespace=\"" + NS + "\",destination_workload=\"server\"}";
    }

    @Test
    @Order(1)
    void bothAgentsAreScrapedAndCoverageReadsComplete() {
        await().atMost(PROM_WAIT).untilAsserted(() -> {
            assertThat(value("sum(up{job=\"tessera-agents\"})")).as(prometheus.log()).isEqualTo(2);
            assertThat(value("sum(tessera_mesh_pods{state=\"expected\"})")).isEqualTo(5);
            assertThat(value("sum(tessera_mesh_pods{state=\"captured\"})")).isEqualTo(5);
            assertThat(value("sum(tessera_mesh_pods{state=\"certified\"})")).isEqualTo(5);
            assertThat(value("sum(tessera_mesh_coverage_gap)")).isZero();
            assertThat(value("count(tessera_certificate_expiry_timestamp_seconds > time() + 3600)")).isEqualTo(5);
            assertThat(value("sum(tessera_bpf_map_entries{map=\"enrolled\"})")).isEqualTo(5);
        });
    }

    @Test
    @Order(2)
    void byteAndConnectionCountersMatchWhatWasSentOnBothReporters() throws Exception {
        String server = c.podIp(NS, "server");
        for (int i = 0; i < CONNECTIONS; i++) {
            int got = c.inPod(NS, "client", () -> {
                try (Socket s = new Socket()) {
                    s.connect(new InetSocketAddress(server, 7000), 5000);
                    s.setSoTimeout(30_000);
                    var out = new DataOutputStream(s.getOutputStream());
                    out.writeInt(REQUEST);
                    out.writeInt(RESPONSE);
                    Payload.write(out, REQUEST, 1);
                    out.flush();
                    return s.getInputStream().readAllBytes().length;
                }
            });
            assertThat(got).isEqualTo(RESPONSE);
        }
        double request = CONNECTIONS * (8.0 + REQUEST);
        double response = CONNECTIONS * (double) RESPONSE;
        await().atMost(PROM_WAIT).untilAsserted(() -> {
            for (String reporter : new String[] {"source", "destination"}) {
                assertThat(value("sum(istio_tcp_connections_opened_total" + sel(reporter, "client") + ")"))
                        .as(reporter + " opened").isEqualTo(CONNECTIONS);
                assertThat(value("sum(istio_tcp_connections_closed_total" + sel(reporter, "client") + ")"))
                        .as(reporter + " closed").isEqualTo(CONNECTIONS);
                assertThat(value("sum(istio_tcp_received_bytes_total" + sel(reporter, "client") + ")"))
                        .as(reporter + " received (client -> server)").isEqualTo(request);
                assertThat(value("sum(istio_tcp_sent_bytes_total" + sel(reporter, "client") + ")"))
                        .as(reporter + " sent (server -> client)").isEqualTo(response);
            }
            assertThat(value("sum(istio_tcp_connections_closed_total" + sel("source", "client").replace("}",
                    ",response_flags!=\"-\"}") + ")")).as("closes with an error flag").isNaN();
            assertThat(value("count(istio_tcp_connections_opened_total" + sel("source", "client").replace("}",
                    ",connection_security_policy=\"mutual_tls\"}") + ")")).isEqualTo(1);
        });
    }

    @Test
    @Order(4)
    void bytesOfAnOpenConnectionShowUpBeforeItCloses() throws Exception {
        String server = c.podIp(NS, "server");
        long chunk = 1 << 20;
        var sent = new CountDownLatch(1);
        var release = new CountDownLatch(1);
        ExecutorService pod = c.podThreads(NS, "streamer", 1);
        try {
            Future<?> stream = pod.submit(() -> {
                try (Socket s = new Socket()) {
                    s.connect(new InetSocketAddress(server, 7001), 5000);
                    Payload.write(new DataOutputStream(s.getOutputStream()), chunk, 4);
                    s.getOutputStream().flush();
                    sent.countDown();
                    release.await();
                }
                return null;
            });
            assertThat(sent.await(30, TimeUnit.SECONDS)).isTrue();
            await().atMost(PROM_WAIT).untilAsserted(() -> {
                assertThat(value("sum(istio_tcp_received_bytes_total" + sel("source", "streamer") + ")"))
                        .isEqualTo(chunk);
                assertThat(value("sum(istio_tcp_received_bytes_total" + sel("destination", "streamer") + ")"))
                        .isEqualTo(chunk);
                assertThat(value("sum(istio_tcp_connections_opened_total" + sel("source", "streamer") + ")")).isEqualTo(1);
                assertThat(value("sum(istio_tcp_connections_closed_total" + sel("source", "streamer") + ")"))
                        .as("still open").isNaN();
            });
            release.countDown();
            stream.get(30, TimeUnit.SECONDS);
            await().atMost(PROM_WAIT).untilAsserted(() -> {
                assertThat(value("sum(istio_tcp_connections_closed_total" + sel("source", "streamer") + ")")).isEqualTo(1);
                assertThat(value("sum(istio_tcp_received_bytes_total" + sel("source", "streamer") + ")"))
                        .as("counted once").isEqualTo(chunk);
            });
        } finally {
            release.countDown();
            TestCluster.shutdownAndAwait(pod, Duration.ofSeconds(10));
        }
    }

    @Test
    @Order(3)
    void kernelTcpHealthPerWorkloadPairComesFromSockops() {
        // Traffic of the previous tests: client -> server (pod sockets) through the node1 -> node2 tunnel.
        await().atMost(PROM_WAIT).untilAsserted(() -> {
            String pod = "{kind=\"pod\",source_workload=\"client\",source_workload_namespace=\"" + NS
                    + "\",destination_workload=\"server\",destination_workload_namespace=\"" + NS + "\"}";
            assertThat(value("sum(tessera_tcp_rtt_samples_total" + pod + ")")).as("RTT samples on the pod sockets")
                    .isGreaterThan(0);
            assertThat(value("sum(tessera_tcp_rtt_seconds" + pod + ")")).isGreaterThan(0).isLessThan(1);
            assertThat(value("sum(tessera_tcp_retransmits_total" + pod + ")")).isNotNaN();
            String tunnel = "{kind=\"tunnel\",source_workload=\"node1\",destination_workload=\"node2\"}";
            assertThat(value("sum(tessera_tcp_rtt_samples_total" + tunnel + ")")).as("RTT samples on the tunnel")
                    .isGreaterThan(0);
            assertThat(value("sum(tessera_tcp_rtt_seconds" + tunnel + ")")).isGreaterThan(0).isLessThan(1);
            assertThat(value("count(tessera_tcp_rtt_seconds{kind=\"tunnel\",source_workload!~\"node1|node2\"})"))
                    .as("tunnels of other agents on this machine are not counted").isNaN();
        });
    }

    /** Kiali's grouping of TCP edges (kiali graph/telemetry/istio, with the cluster labels of current releases). */
    private static final String KIALI_TCP_GROUP_BY = "source_cluster,source_workload_namespace,source_workload,"
            + "source_canonical_service,source_canonical_revision,destination_cluster,destination_service_namespace,"
            + "destination_service,destination_service_name,destination_workload_namespace,destination_workload,"
            + "destination_canonical_service,destination_canonical_revision,response_flags";

    /** One connection from web's pod to the db Service: a request, a response, closed by the server. */
    private static void webToDb() throws Exception {
        int got = c.inPod(NS, "web-5d8f9-x2x4z", () -> {
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress(DB_VIP, DB_PORT), 5000);
                s.setSoTimeout(30_000);
                var out = new DataOutputStream(s.getOutputStream());
                out.writeInt(1000);
                out.writeInt(20_000);
                Payload.write(out, 1000, 5);
                out.flush();
                return s.getInputStream().readAllBytes().length;
            }
        });
        assertThat(got).isEqualTo(20_000);
    }

    @Test
    @Order(5)
    void kialisTcpGraphQueryAndIstiosTcpDashboardQueryShowTheDeploymentToStatefulSetEdge() throws Exception {
        await().atMost(Duration.ofSeconds(15)).pollInterval(Duration.ofMillis(200)).ignoreExceptions()
                .untilAsserted(PrometheusNetnsIT::webToDb); // the Service reaches the agents
        var stop = new AtomicBoolean();
        ExecutorService traffic = Executors.newSingleThreadExecutor();
        try {
            // Connections keep coming while Prometheus scrapes, so rate() and irate() see the counters grow.
            Future<?> loop = traffic.submit(() -> {
                while (!stop.get()) {
                    webToDb();
                    Thread.sleep(100);
                }
                return null;
            });
            // Kiali's third TCP query: traffic originating in the namespace, reporter=source.
            String kiali = "sum(rate(istio_tcp_sent_bytes_total{reporter=\"source\",source_workload_namespace=\"" + NS
                    + "\"}[60s])) by (" + KIALI_TCP_GROUP_BY + ")";
            await().atMost(PROM_WAIT).untilAsserted(() -> {
                assertThat(loop.isDone()).as("traffic loop failed early").isFalse();
                JsonNode edge = null;
                for (JsonNode r : prometheus.query(kiali)) {
                    if (r.path("metric").path("source_workload").asText().equals("web")) {
                        assertThat(edge).as("one web edge: " + r).isNull();
                        edge = r;
                    }
                }
                assertThat(edge).as(prometheus.query(kiali).toString()).isNotNull();
                JsonNode m = edge.path("metric");
                var expected = new java.util.TreeMap<String, String>();
                expected.put("source_cluster", "Kubernetes");
                expected.put("source_workload_namespace", NS);
                expected.put("source_workload", "web");
                expected.put("source_canonical_service", "web");
                expected.put("source_canonical_revision", "v1");
                expected.put("destination_cluster", "Kubernetes");
                expected.put("destination_service_namespace", NS);
                expected.put("destination_service", "db." + NS + ".svc.cluster.local");
                expected.put("destination_service_name", "db");
                expected.put("destination_workload_namespace", NS);
                expected.put("destination_workload", "db");
                expected.put("destination_canonical_service", "db");
                expected.put("destination_canonical_revision", "v2");
                expected.put("response_flags", "-");
                var actual = new java.util.TreeMap<String, String>();
                m.fields().forEachRemaining(e -> actual.put(e.getKey(), e.getValue().asText()));
                assertThat(actual).isEqualTo(expected);
                assertThat(edge.path("value").get(1).asDouble()).as("bytes/s db -> web").isGreaterThan(0);
            });
            // Istio's workload dashboard, inbound TCP panel "Bytes Sent to Incoming TCP Connection" for db.
            String istio = "round(sum(irate(istio_tcp_sent_bytes_total{connection_security_policy=\"mutual_tls\","
                    + " reporter=~\"destination\", destination_workload_namespace=~\"" + NS + "\","
                    + " destination_workload=~\"db\", source_workload=~\".*\", source_workload_namespace=~\".*\"}[1m]))"
                    + " by (source_workload, source_workload_namespace), 0.001)";
            await().atMost(PROM_WAIT).untilAsserted(() -> {
                JsonNode result = prometheus.query(istio);
                assertThat(result).as(result.toString()).hasSize(1);
                assertThat(result.get(0).path("metric").path("source_workload").asText()).isEqualTo("web");
                assertThat(result.get(0).path("metric").path("source_workload_namespace").asText()).isEqualTo(NS);
                assertThat(result.get(0).path("value").get(1).asDouble()).isGreaterThan(0);
            });
            stop.set(true);
            loop.get(30, TimeUnit.SECONDS);
        } finally {
            stop.set(true);
            TestCluster.shutdownAndAwait(traffic, Duration.ofSeconds(10));
        }
        // The pod's own name is nowhere in the workload labels: the owner names the workload.
        assertThat(value("count(istio_tcp_sent_bytes_total{source_workload=~\"web-.*\"})")).isNaN();
        assertThat(value("count(istio_tcp_sent_bytes_total{destination_workload=\"db-0\"})")).isNaN();
    }

    @Test
    @Order(6)
    void everyGrafanaPanelQueryRunsAndFollowsTheNodeAndNamespaceVariables() throws Exception {
        Map<String, String> queries = GrafanaDashboardTest.queries();
        String successRate = "Connection success rate by destination workload (reporter=destination) #0";
        // Panels of workload traffic: the previous tests' connections are within their 1m/5m windows.
        List<String> traffic = List.of("Connections opened /s by source workload (reporter=source) #0",
                "Bytes /s client -> server (istio_tcp_received_bytes_total) #0",
                "Bytes /s server -> client (istio_tcp_sent_bytes_total) #0", "Closes by response flag #0",
                "mTLS share of opened connections #0", successRate);
        assertThat(queries).containsKeys(traffic.toArray(String[]::new));
        await().atMost(PROM_WAIT).untilAsserted(() -> {
            for (var q : queries.entrySet()) {
                // Every node (Grafana's "All" is the allValue .*) and this namespace: valid PromQL, data where traffic was.
                JsonNode all = prometheus.query(GrafanaDashboardTest.interpolate(q.getValue(), ".*", NS));
                if (traffic.contains(q.getKey())) {
                    assertThat(all).as(q.getKey() + ": " + q.getValue()).isNotEmpty();
                    assertThat(prometheus.query(GrafanaDashboardTest.interpolate(q.getValue(), ".*", "elsewhere")))
                            .as(q.getKey() + " in another namespace").isEmpty();
                }
                assertThat(prometheus.query(GrafanaDashboardTest.interpolate(q.getValue(), "node9", ".*")))
                        .as(q.getKey() + " on a node that does not exist").isEmpty();
            }
            // One node: node2's agent reports destination traffic only for the pods it hosts (server, db-0).
            var onNode2 = new java.util.TreeSet<String>();
            prometheus.query(GrafanaDashboardTest.interpolate(queries.get(successRate), "node2", NS))
                    .forEach(r -> onNode2.add(r.path("metric").path("destination_workload").asText()));
            assertThat(onNode2).isNotEmpty().isSubsetOf("server", "db");
            assertThat(prometheus.query(GrafanaDashboardTest.interpolate(queries.get(successRate), "node1", NS)))
                    .as("no destination workload of this namespace runs on node1").isEmpty();
        });
    }

    /** Runs the CLI in-process; returns exit code and stdout. */
    private static synchronized Object[] cli(String... args) {
        PrintStream original = System.out;
        var buffer = new ByteArrayOutputStream();
        try (var capture = new PrintStream(buffer, true, StandardCharsets.UTF_8)) {
            System.setOut(capture);
            int code = Main.commandLine().execute(args);
            return new Object[] {code, buffer.toString(StandardCharsets.UTF_8)};
        } finally {
            System.setOut(original);
        }
    }

    @Test
    @Order(7)
    void cliCheckStatAndConfigAgainstTheRunningAgents() throws Exception {
        var json = new ObjectMapper();
        await().atMost(PROM_WAIT).untilAsserted(() -> {
            Object[] check = cli("check", "--name", c.name(), "-o", "json");
            assertThat(check[0]).as((String) check[1]).isEqualTo(0);
            JsonNode checks = json.readTree((String) check[1]);
            assertThat(checks.path("passed").asBoolean()).isTrue();
            assertThat(checks.path("checks").findValuesAsText("name")).contains("agent ready", "mesh coverage");
        });

        // stat while the streamer sends continuously
        String server = c.podIp(NS, "server");
        var stop = new AtomicBoolean();
        ExecutorService pod = c.podThreads(NS, "streamer", 1);
        try {
            Future<?> stream = pod.submit(() -> {
                try (Socket s = new Socket()) {
                    s.connect(new InetSocketAddress(server, 7001), 5000);
                    byte[] buf = new byte[16 * 1024];
                    while (!stop.get()) {
                        s.getOutputStream().write(buf);
                        Thread.sleep(5);
                    }
                }
                return null;
            });
            Object[] stat = cli("stat", "--name", c.name(), "--window", "3s", "-o", "json");
            assertThat(stat[0]).as((String) stat[1]).isEqualTo(0);
            JsonNode rows = json.readTree((String) stat[1]).path("workloads");
            JsonNode streamer = null;
            for (JsonNode r : rows) {
                if (r.path("workload").asText().equals(NS + "/streamer") && r.path("direction").asText().equals("outbound")) {
                    streamer = r;
                }
            }
            assertThat(streamer).as((String) stat[1]).isNotNull();
            assertThat(streamer.path("readBytesPerSecond").asDouble()).isGreaterThan(10_000);
            assertThat(streamer.path("active").asLong()).isEqualTo(1);
            assertThat(streamer.path("mtls").asDouble()).isEqualTo(1.0);
            Object[] table = cli("stat", "--name", c.name(), "--window", "1s");
            assertThat((String) table[1]).contains("WORKLOAD", NS + "/client", "inbound", "outbound");
            stop.set(true);
            stream.get(30, TimeUnit.SECONDS);
        } finally {
            stop.set(true);
            TestCluster.shutdownAndAwait(pod, Duration.ofSeconds(10));
        }

        Object[] config = cli("config", "node1", "--name", c.name());
        assertThat(config[0]).isEqualTo(0);
        JsonNode dump = json.readTree((String) config[1]);
        assertThat(dump.path("node").asText()).isEqualTo("node1");
        assertThat(dump.path("coverage").path("gap").asInt(-1)).isZero();
        Object[] connections = cli("config", "node1", "--name", c.name(), "--path", "/connections");
        assertThat(connections[0]).isEqualTo(0);
        assertThat(json.readTree((String) connections[1]).isArray()).isTrue();

        assertThat(cli("config", "node9", "--name", c.name())[0]).as("unknown node is a usage error").isEqualTo(2);
        assertThat(cli("stat", "--name", c.name(), "-o", "xml")[0]).as("an unknown output format is a usage error")
                .isEqualTo(2);
        assertThat(cli("stat", "--name", c.name(), "-o", "yaml", "--window", "100ms")[0]).isEqualTo(0);
    }

    @Test
    @Order(8)
    void checkFailsWithExitCodeOneWhenAnAgentIsDown() throws Exception {
        c.killAgent("node2");
        try {
            Object[] check = cli("check", "--name", c.name());
            assertThat(check[0]).as((String) check[1]).isEqualTo(1);
            assertThat((String) check[1]).contains("[FAIL]", "node node2");
        } finally {
            c.startAgent("node2");
            c.awaitAgentReady("node2");
        }
    }
}
