package dev.tessera.tests;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tessera.tests.harness.ClusterSpec;
import dev.tessera.tests.harness.NetnsSupport;
import dev.tessera.tests.harness.PodServer;
import dev.tessera.tests.harness.TestCluster;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.Timeout;

/**
 * The controller in local mode with two agents: certificates come from the controller (signed by its
 * issuing intermediate, not by the root), a Service VIP is balanced over its endpoints, and agents keep
 * serving while the controller is down and resync when it is back.
 */
@Timeout(240)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ControllerNetnsIT {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String SHOP = "shop";
    private static final String VIP = "198.19.0.10";
    private static final ClusterSpec SPEC = ClusterSpec.builder()
            .nodes("node1", "node2")
            .meshedNamespace(SHOP)
            .pod(SHOP, "client", "node1", "client")
            .pod(SHOP, "api-1", "node2", "api", java.util.Map.of("app", "api"))
            .pod(SHOP, "api-2", "node1", "api", java.util.Map.of("app", "api"))
            .build();

    private static TestCluster c;

    @BeforeAll
    static void up() throws IOException {
        NetnsSupport.requireRoot();
        c = TestCluster.create("tsc-ctl", SPEC, true);
        c.server(SHOP, "api-1", 7000, PodServer.lineEcho("api-1"));
        c.server(SHOP, "api-2", 7000, PodServer.lineEcho("api-2"));
    }

    @AfterAll
    static void down() throws IOException {
        if (c != null) {
            c.close();
        }
    }

    @Test
    @Order(1)
    void trafficFlowsWithCertificatesTheControllerIssued() throws Exception {
        assertThat(call(c.podIp(SHOP, "api-1"), 7000)).isEqualTo("api-1 hi");
        X509Certificate root = (X509Certificate) CertificateFactory.getInstance("X.509")
                .generateCertificate(Files.newInputStream(c.cluster().caDir().resolve("ca.crt")));
        for (String node : new String[] {"node1", "node2"}) {
            JsonNode certs = JSON.readTree(c.admin(node, "/certificates"));
            assertThat(certs.toString()).as("certificates of %s; its log ends with:%n%s", node, c.cluster().logTail(node, 60))
                    .contains("spiffe://cluster.local/ns/shop/sa/api");
            assertThat(certs.isArray() && certs.size() > 0).as("certificates of %s: %s", node, certs).isTrue();
            for (JsonNode cert : certs) {
                // Signed by the controller's issuing intermediate, which chains to the cluster's root.
                assertThat(cert.get("issuer").asText()).isNotEqualTo(root.getSubjectX500Principal().getName());
                assertThat(cert.get("chainLength").asInt()).isEqualTo(2);
            }
        }
        assertThat(Files.readString(c.cluster().controllerLog())).contains("agent of node node1 connected")
                .contains("agent of node node2 connected");
    }

    @Test
    @Order(2)
    void serviceVipIsBalancedOverItsEndpoints() throws Exception {
        c.writeManifest("svc.yaml", "apiVersion: v1\nkind: Service\nmetadata:\n  name: api\n  namespace: shop\n"
                + "spec:\n  clusterIP: " + VIP + "\n  selector: {app: api}\n  ports:\n  - name: echo\n    port: 80\n"
                + "    targetPort: 7000\n");
        await().atMost(Duration.ofSeconds(15)).pollInterval(Duration.ofMillis(200))
                .until(() -> call(VIP, 80).endsWith(" hi"));
        Set<String> seen = new HashSet<>();
        for (int i = 0; i < 40 && seen.size() < 2; i++) {
            seen.add(call(VIP, 80));
        }
        assertThat(seen).containsExactlyInAnyOrder("api-1 hi", "api-2 hi");
        assertThat(c.metrics("node1").sumWhere("istio_tcp_connections_opened_total", "destination_service",
                "api.shop.svc.cluster.local")).isPositive();
    }

    @Test
    @Order(3)
    void agentsKeepServingWhileTheControllerIsDownAndResyncAfter() throws Exception {
        c.cluster().killController();
        assertThat(c.cluster().controllerPid()).isEmpty();
        // Last state and certificates keep working: a new connection succeeds, agents stay ready.
        assertThat(call(c.podIp(SHOP, "api-1"), 7000)).isEqualTo("api-1 hi");
        c.awaitAgentReady("node1");
        c.awaitAgentReady("node2");

        // A change made while the controller is down reaches the agents once it is back.
        c.writeManifest("deny.yaml", "apiVersion: security.tessera.dev/v1alpha1\nkind: AuthorizationPolicy\n"
                + "metadata:\n  name: deny-client\n  namespace: shop\nspec:\n  action: DENY\n  rules:\n"
                + "  - from:\n    - source:\n        principals: [\"cluster.local/ns/shop/sa/client\"]\n");
        assertThat(call(c.podIp(SHOP, "api-1"), 7000)).isEqualTo("api-1 hi");
        c.cluster().startController();
        c.cluster().awaitControllerReady(Duration.ofSeconds(60));
        await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(200))
                .until(() -> call(c.podIp(SHOP, "api-1"), 7000).equals("denied"));
        c.removeManifest("deny.yaml");
        await().atMost(Duration.ofSeconds(15)).pollInterval(Duration.ofMillis(200))
                .until(() -> call(c.podIp(SHOP, "api-1"), 7000).equals("api-1 hi"));
    }

    /** One line exchanged from the client pod: the reply, or "denied" when the connection is closed. */
    private static String call(String ip, int port) throws IOException {
        return c.inPod(SHOP, "client", () -> {
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress(ip, port), 2000);
                s.setSoTimeout(5000);
                s.getOutputStream().write("hi\n".getBytes(StandardCharsets.UTF_8));
                String reply = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8))
                        .readLine();
                return reply == null ? "denied" : reply;
            } catch (IOException e) {
                return "denied";
            }
        });
    }
}
