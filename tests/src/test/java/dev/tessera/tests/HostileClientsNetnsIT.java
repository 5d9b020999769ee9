package dev.tessera.tests;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.tessera.cli.local.NetnsCluster;
import dev.tessera.cli.local.NodeHttp;
import dev.tessera.tests.harness.ClusterSpec;
import dev.tessera.tests.harness.NetnsSupport;
import dev.tessera.tests.harness.TestCluster;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Clients that misbehave on purpose against the plain-HTTP endpoints every pod can reach: the agent's
 * metrics (15020) and readiness (15021), the controller's metrics and health (15014). A client that opens
 * many connections and sends half a request on each (slow loris) must not delay the kubelet's probes.
 */
@Timeout(120)
class HostileClientsNetnsIT {

    private static final String PLAIN = "plain";

    private static final ClusterSpec SPEC = ClusterSpec.builder()
            .nodes("node1")
            .plainNamespace(PLAIN)
            .pod(PLAIN, "attacker", "node1", "default")
            .build();

    private static TestCluster c;

    @BeforeAll
    static void up() throws IOException {
        NetnsSupport.requireRoot();
        c = TestCluster.create("tsc-hc", SPEC, true);
    }

    @AfterAll
    static void down() throws IOException {
        if (c != null) {
            c.close();
        }
    }

    @Test
    void halfSentRequestsFromAPodDelayNoProbe() throws Exception {
        String node = c.nodeIp("node1");
        // The agent's ports from a pod; the controller's (which pods of a local cluster cannot route to) from
        // a node, while its probe comes from its own address, as a kubelet probes its node's pod.
        var pod = c.podNetns(PLAIN, "attacker");
        var targets = List.of(java.util.Map.entry(new InetSocketAddress(node, 15021), pod),
                java.util.Map.entry(new InetSocketAddress(node, 15020), pod),
                java.util.Map.entry(new InetSocketAddress(NetnsCluster.CONTROLLER_IP, 15014), c.nodeNetns("node1")));
        List<Socket> held = new ArrayList<>();
        try {
            for (var t : targets) {
                var target = t.getKey();
                for (int i = 0; i < 20; i++) { // more than one source may hold (16): the rest are refused
                    Socket s = dev.tessera.api.netns.Netns.call(t.getValue(), () -> {
                        Socket x = new Socket();
                        try {
                            x.connect(target, 2000);
                        } catch (IOException e) {
                            x.close();
                            throw new IOException("connect to " + target + ": " + e.getMessage(), e);
                        }
                        return x;
                    });
                    held.add(s);
                    s.getOutputStream().write("GET /healthz/ready HTTP/1.1\r\nHost: x\r\n".getBytes(StandardCharsets.US_ASCII));
                }
            }
            // The kubelet's probes (from the node's address, with its default 1 s timeout) still answer.
            for (int i = 0; i < 5; i++) {
                assertThat(NodeHttp.get(c.nodeNetns("node1"), node, 15021, "/healthz/ready", Duration.ofSeconds(1))
                        .status()).as("agent readiness while a pod holds half-sent requests").isEqualTo(200);
                assertThat(NodeHttp.get(c.cluster().controlPlaneNetns(), NetnsCluster.CONTROLLER_IP, 15014, "/healthz/live",
                        Duration.ofSeconds(1)).status()).as("controller liveness while a pod holds half-sent requests")
                        .isEqualTo(200);
                assertThat(NodeHttp.get(c.nodeNetns("node1"), node, 15020, "/metrics", Duration.ofSeconds(1)).status())
                        .as("agent metrics while a pod holds half-sent requests").isEqualTo(200);
            }
            // Every held connection is closed by the server: at once over the per-source cap, the others at
            // their request deadline.
            for (Socket s : held) {
                s.setSoTimeout(15_000);
                int b;
                try {
                    b = s.getInputStream().read();
                } catch (IOException reset) {
                    b = -1;
                }
                assertThat(b).as("a half-sent request's connection").isEqualTo(-1);
            }
        } finally {
            for (Socket s : held) {
                s.close();
            }
        }
        await().atMost(Duration.ofSeconds(5)).ignoreExceptions().until(() -> NodeHttp.get(c.nodeNetns("node1"),
                node, 15021, "/healthz/ready", Duration.ofSeconds(1)).status() == 200);
    }
}
