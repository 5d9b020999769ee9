package dev.tessera.tests;

import static dev.tessera.tests.harness.AgentMetrics.CONNECTIONS_OPENED;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tessera.tests.harness.ClusterSpec;
import dev.tessera.tests.harness.NetnsSupport;
import dev.tessera.tests.harness.PacketCapture;
import dev.tessera.tests.harness.Payload;
import dev.tessera.tests.harness.PodServer;
import dev.tessera.tests.harness.TestCluster;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The main end-to-end checks over native IPv6, on a dual-stack local cluster ({@code tessera local up
 * --dual-stack}: every node and pod also has an address in 2001:db8::/96): a meshed pod's IPv6 connection is
 * captured, carried between nodes in mutual TLS (never in plaintext on the node link), delivered on the same
 * node, counted in the metrics; STRICT refuses IPv6 plaintext from outside the mesh; AuthorizationPolicy
 * ipBlocks match IPv6 sources. The servers listen on the pods' IPv6 addresses only, so an IPv4 path cannot
 * stand in for the IPv6 one.
 */
@Timeout(300)
class DualStackNetnsIT {

    private static final String SHOP = "shop";
    private static final String PLAIN = "plain";
    private static final String FILE = "policies.yaml";
    private static final ObjectMapper JSON = new ObjectMapper();

    private static final ClusterSpec SPEC = ClusterSpec.builder()
            .nodes("node1", "node2")
            .meshedNamespace(SHOP)
            .plainNamespace(PLAIN)
            .plainNamespace("tessera-system")
            .pod(SHOP, "api", "node2", "api")
            .pod(SHOP, "near", "node2", "near")
            .pod(SHOP, "front", "node1", "front")
            .pod(PLAIN, "outsider", "node1", "default")
            .pod(PLAIN, "web", "node2", "default")
            .build();

    private static TestCluster c;
    private static PodServer api;

    @BeforeAll
    static void up() throws IOException {
        NetnsSupport.requireRoot();
        c = TestCluster.create("tsc-v6", SPEC, true, List.of(), cluster -> {}, true);
        api = c.server6(SHOP, "api", 7000, DualStackNetnsIT::answer);
        c.server6(SHOP, "api", 7100, DualStackNetnsIT::sink);
        c.server6(PLAIN, "web", 7000, DualStackNetnsIT::answer);
    }

    @AfterAll
    static void down() throws IOException {
        if (c != null) {
            c.close();
        }
    }

    @AfterEach
    void noPolicies() throws IOException {
        if (c != null) {
            c.removeManifest(FILE);
            awaitPolicies(Set.of());
            await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> assertThat(mtls("api")).isNotEqualTo("STRICT"));
        }
    }

    /** Reads a line, answers with it and the address the connection came from (the server's getpeername()). */
    private static void answer(Socket s) throws IOException {
        String line = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8)).readLine();
        s.getOutputStream().write((line + " from " + s.getInetAddress().getHostAddress() + "\n")
                .getBytes(StandardCharsets.UTF_8));
    }

    /** Reads everything, then answers with the byte count. */
    private static void sink(Socket s) throws IOException {
        long n = s.getInputStream().transferTo(java.io.OutputStream.nullOutputStream());
        s.getOutputStream().write((n + "\n").getBytes(StandardCharsets.UTF_8));
    }

    @Test
    void aMeshedPodsIpv6ConnectionCrossesNodesInMutualTlsOnly() throws IOException {
        double opened1 = opened("node1");
        double opened2 = opened("node2");
        PacketCapture capture = c.capture("node1", "tcp");
        String reply = c.inPod(SHOP, "front", () -> {
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress(c.podIp6(SHOP, "api"), 7100), 5000);
                s.setSoTimeout(10_000);
                byte[] chunk = new byte[64 * 1024];
                for (int i = 0; i < chunk.length; i += 64) {
                    System.arraycopy(Payload.MARKER, 0, chunk, i, 32);
                }
                for (int i = 0; i < 16; i++) {
                    s.getOutputStream().write(chunk);
                }
                s.shutdownOutput();
                return new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8)).readLine();
            }
        });
        PacketCapture.Result r = capture.stop();
        assertThat(reply).isEqualTo(String.valueOf(16 * 64 * 1024));
        assertThat(r.complete()).as("capture lost packets: %s", r.tcpdumpOutput()).isTrue();
        assertThat(r.contains(Payload.MARKER)).as("plaintext on the node1-node2 link").isFalse();
        assertThat(r.packets()).as("the tunnel between the nodes carried it")
                .anyMatch(p -> p.dstPort() == 15008 && p.payloadLength() > 0);
        await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> {
            assertThat(opened("node1")).isGreaterThan(opened1);
            assertThat(opened("node2")).isGreaterThan(opened2);
        });
    }

    @Test
    void theServerSeesItsClientAndTheSameNodeIsDeliveredToo() throws IOException {
        int before = api.accepted();
        double opened1 = opened("node1");
        double opened2 = opened("node2");
        String across = call(SHOP, "front", c.podIp6(SHOP, "api"), 7000);
        String same = call(SHOP, "near", c.podIp6(SHOP, "api"), 7000);
        assertThat(across).startsWith("hi from ");
        assertThat(same).startsWith("hi from ");
        // dialled from the client pod's own IPv6 address (transparently, with IPv6 reply routing), across nodes
        // after HBONE (from the verified source hint) and on the same node
        assertThat(across).isEqualTo("hi from " + expand(c.podIp6(SHOP, "front")));
        assertThat(same).isEqualTo("hi from " + expand(c.podIp6(SHOP, "near")));
        assertThat(api.accepted()).isEqualTo(before + 2);
        // control: both went through the agents (a direct connection would show the client's address too)
        await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> {
            assertThat(opened("node1")).isGreaterThan(opened1);
            assertThat(opened("node2")).isGreaterThanOrEqualTo(opened2 + 2);
        });
    }

    @Test
    void aNonMeshedIpv6DestinationIsLeftAlone() throws IOException {
        double before = opened("node1");
        assertThat(call(SHOP, "front", c.podIp6(PLAIN, "web"), 7000))
                .as("the non-meshed server sees the meshed pod's own IPv6 address")
                .isEqualTo("hi from " + expand(c.podIp6(SHOP, "front")));
        assertThat(opened("node1")).as("the agent never saw it").isEqualTo(before);
    }

    @Test
    void strictRefusesIpv6PlaintextButNotTheMesh() throws IOException {
        c.writeManifest(FILE, "apiVersion: security.tessera.dev/v1alpha1\nkind: PeerAuthentication\nmetadata:\n"
                + "  name: strict\n  namespace: shop\nspec:\n  mtls:\n    mode: STRICT\n");
        await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> assertThat(mtls("api")).isEqualTo("STRICT"));
        await().atMost(Duration.ofSeconds(10)).untilAsserted(() ->
                assertThat(call(PLAIN, "outsider", c.podIp6(SHOP, "api"), 7000)).isIn("timeout", "denied"));
        assertThat(call(SHOP, "front", c.podIp6(SHOP, "api"), 7000)).startsWith("hi from ");
        assertThat(call(SHOP, "near", c.podIp6(SHOP, "api"), 7000)).startsWith("hi from ");
    }

    @Test
    void ipBlocksMatchIpv6Sources() throws IOException {
        // node1's IPv6 pod network: front is in it, near (node2) is not
        String node1Pods6 = c.cluster().network().podCidr6(c.cluster().node("node1")).orElseThrow();
        apply("apiVersion: security.tessera.dev/v1alpha1\nkind: AuthorizationPolicy\nmetadata:\n  name: node1-only\n"
                + "  namespace: shop\nspec:\n  selector: {matchLabels: {app: api}}\n  action: ALLOW\n  rules:\n"
                + "  - from:\n    - source:\n        ipBlocks: [\"" + node1Pods6 + "\"]\n",
                Set.of("node1-only"));
        assertThat(call(SHOP, "front", c.podIp6(SHOP, "api"), 7000)).startsWith("hi from ");
        assertThat(call(SHOP, "near", c.podIp6(SHOP, "api"), 7000)).isEqualTo("denied");
    }

    /** Connections the node's agent opened so far (0 before its first: the counter has no series yet). */
    private static double opened(String node) throws IOException {
        var m = c.metrics(node);
        return m.text().contains(CONNECTIONS_OPENED) ? m.sum(CONNECTIONS_OPENED) : 0;
    }

    private static String expand(String ip6) {
        try {
            return java.net.InetAddress.getByName(ip6).getHostAddress();
        } catch (java.net.UnknownHostException e) {
            throw new IllegalStateException(e);
        }
    }

    private static String call(String ns, String pod, String ip, int port) throws IOException {
        return c.inPod(ns, pod, () -> {
            try (Socket s = new Socket()) {
                try {
                    s.connect(new InetSocketAddress(ip, port), 1500);
                } catch (java.net.SocketTimeoutException e) {
                    return "timeout";
                }
                s.setSoTimeout(5000);
                s.getOutputStream().write("hi\n".getBytes(StandardCharsets.UTF_8));
                String reply = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8))
                        .readLine();
                return reply == null ? "denied" : reply;
            } catch (java.net.SocketTimeoutException e) {
                return "no reply";
            } catch (IOException e) {
                return "denied";
            }
        });
    }

    /** Writes the policies and waits until node2's agent holds exactly the AuthorizationPolicies {@code names}. */
    private static void apply(String yaml, Set<String> names) throws IOException {
        c.writeManifest(FILE, yaml);
        awaitPolicies(names);
    }

    private static void awaitPolicies(Set<String> names) {
        await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(50)).untilAsserted(() -> {
            Set<String> have = new TreeSet<>();
            JSON.readTree(c.admin("node2", "/policies")).path("policies").forEach(p -> have.add(p.get("name").asText()));
            assertThat(have).isEqualTo(new TreeSet<>(names));
        });
    }

    /** The mTLS mode node2's agent enforces for {@code shop/<pod>}. */
    private static String mtls(String pod) throws IOException {
        for (JsonNode m : JSON.readTree(c.admin("node2", "/policies")).path("mtls")) {
            if (m.get("workload").asText().equals(SHOP + "/" + pod)) {
                return m.get("mode").asText();
            }
        }
        return "none";
    }
}
