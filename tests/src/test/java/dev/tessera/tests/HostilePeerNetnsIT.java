package dev.tessera.tests;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.tessera.api.identity.SpiffeId;
import dev.tessera.cli.local.NetnsCluster;
import dev.tessera.cli.local.NodeHttp;
import dev.tessera.tests.harness.ClusterSpec;
import dev.tessera.tests.harness.Exchange;
import dev.tessera.tests.harness.HbonePeer;
import dev.tessera.tests.harness.NetnsSupport;
import dev.tessera.tests.harness.PodServer;
import dev.tessera.tests.harness.TestCluster;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A hostile peer on node1's network namespace holding a VALID mesh certificate (minted by the cluster's root
 * CA, as a compromised node could) attacks node2's HBONE server (15008) directly. Each refusal is seen by the
 * peer (connection closed, GOAWAY) and counted by the agent in {@code tessera_hbone_server_closed_total{reason}};
 * the agent keeps serving the mesh afterwards. The agents run with {@code --hbone-idle-timeout 3s}.
 */
@Timeout(300)
class HostilePeerNetnsIT {

    private static final String MESH = "shop";
    private static final Duration IDLE = Duration.ofSeconds(3);
    private static final String CLOSED = "tessera_hbone_server_closed_total";

    private static final ClusterSpec SPEC = ClusterSpec.builder()
            .nodes("node1", "node2")
            .meshedNamespace(MESH)
            .pod(MESH, "client", "node1", "client")
            .pod(MESH, "server", "node2", "server")
            .build();

    private static TestCluster c;
    private static HbonePeer peer;
    private static Path node1;
    private static InetSocketAddress hbone2;
    private static InetSocketAddress echo;
    private static final SpiffeId SERVER = new SpiffeId(NetnsCluster.TRUST_DOMAIN, MESH, "server");

    @BeforeAll
    static void up() throws IOException {
        NetnsSupport.requireRoot();
        c = TestCluster.create("tsc-hp", SPEC, true, List.of("--hbone-idle-timeout", IDLE.toSeconds() + "s"));
        c.server(MESH, "server", 7000, PodServer.lineEcho("server:7000"));
        peer = HbonePeer.withCa(c.cluster().caDir());
        node1 = c.nodeNetns("node1");
        hbone2 = new InetSocketAddress(c.nodeIp("node2"), 15008);
        echo = new InetSocketAddress(c.podIp(MESH, "server"), 7000);
    }

    @AfterAll
    static void down() throws IOException {
        if (peer != null) {
            peer.close();
        }
        if (c != null) {
            c.close();
        }
    }

    private static double closed(String reason) throws IOException {
        return c.metrics("node2").sumWhere(CLOSED, "reason", reason);
    }

    private static SpiffeId as(String serviceAccount) {
        return new SpiffeId(NetnsCluster.TRUST_DOMAIN, MESH, serviceAccount);
    }

    /** The mesh still carries a meshed pod's connection to node2. */
    private static void meshStillServes() throws IOException {
        String reply = c.inPod(MESH, "client", () -> Exchange.lineRoundTrip(echo.getHostString(), 7000, "hi", 10_000));
        assertThat(reply).as("client -> server through the mesh").isEqualTo("server:7000 hi");
    }

    @Test
    void aForeignTrustDomainIsRefusedAtTheHandshakeAndCounted() throws Exception {
        double before = closed("trust_domain");
        // Same CA, same namespace and account, another trust domain: not a workload of this mesh.
        try (var foreign = peer.connect(node1, hbone2, new SpiffeId("evil.example", MESH, "client"), SERVER)) {
            await().atMost(Duration.ofSeconds(30)).until(() -> !foreign.isOpen());
            assertThat(foreign.settings).as("the server never spoke HTTP/2 to it").isNotDone();
        }
        await().atMost(Duration.ofSeconds(10)).until(() -> closed("trust_domain") == before + 1);
        // The same certificate in our trust domain is accepted (the refusal is about the trust domain only).
        try (var ours = peer.connect(node1, hbone2, as("td-control"), SERVER)) {
            ours.settings.get(30, TimeUnit.SECONDS);
            int stream = ours.connect(echo);
            await().atMost(Duration.ofSeconds(30)).until(() -> ours.statuses.containsKey(stream));
            assertThat(ours.statuses.get(stream)).isEqualTo("200");
        }
    }

    @Test
    void anIdleConnectionIsDrainedAndClosedAfterTheIdleTimeout() throws Exception {
        double before = closed("idle");
        long start = System.nanoTime(); // before the server's connection exists: its idle clock starts later
        try (var idle = peer.connect(node1, hbone2, as("idler"), SERVER)) {
            idle.settings.get(30, TimeUnit.SECONDS);
            // Drain notice (GOAWAY NO_ERROR) first, then the close; not before the idle timeout. The upper bound
            // is generous (the machine is shared): the rule is ~2x the timeout (one check every half timeout).
            assertThat(idle.goAway.get(60, TimeUnit.SECONDS)).isEqualTo(0L);
            assertThat(Duration.ofNanos(idle.goAwayAt - start)).isGreaterThanOrEqualTo(IDLE);
            await().atMost(Duration.ofSeconds(60)).until(() -> !idle.isOpen());
        }
        await().atMost(Duration.ofSeconds(10)).until(() -> closed("idle") >= before + 1);
    }

    @Test
    void onePeerHoldsAtMost32ConnectionsAndTheRestAreRefusedAndCounted() throws Exception {
        double before = closed("peer_limit");
        List<HbonePeer.Connection> conns = new ArrayList<>();
        try {
            SpiffeId capped = as("capped");
            for (int i = 0; i < 40; i++) {
                // Each accepted connection opens a stream at once, so the 3 s idle timeout frees no slot while
                // the others are still handshaking.
                conns.add(peer.connect(node1, hbone2, capped, SERVER, echo));
            }
            // Every connection settles: accepted (SETTINGS) or closed.
            await().atMost(Duration.ofSeconds(60))
                    .until(() -> conns.stream().allMatch(x -> x.settings.isDone() || !x.isOpen()));
            long accepted = conns.stream().filter(x -> x.settings.isDone()).count();
            assertThat(accepted).as("connections accepted from one peer").isEqualTo(32);
            await().atMost(Duration.ofSeconds(10)).until(() -> closed("peer_limit") == before + 8);
            // Another identity from the same address is another peer.
            try (var other = peer.connect(node1, hbone2, as("not-capped"), SERVER)) {
                other.settings.get(30, TimeUnit.SECONDS);
            }
        } finally {
            conns.forEach(HbonePeer.Connection::close);
        }
        // Closing releases the slots.
        try (var again = peer.connect(node1, hbone2, as("capped"), SERVER)) {
            await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> {
                assertThat(again.settings).isDone();
            });
        }
    }

    @Test
    void rapidResetClosesTheConnectionAndTheAgentKeepsServing() throws Exception {
        double before = closed("flood");
        try (var attacker = peer.connect(node1, hbone2, as("rapid-reset"), SERVER)) {
            attacker.settings.get(30, TimeUnit.SECONDS);
            attacker.rapidReset(echo, 5_000);
            // The server answers GOAWAY ENHANCE_YOUR_CALM (0xb) and closes. The close usually overtakes the
            // GOAWAY here: the server closes with the burst's tail still unread, so its kernel resets the
            // connection and the client's kernel drops what it had not read yet. The agent's count is the proof.
            await().atMost(Duration.ofSeconds(60)).until(() -> !attacker.isOpen());
            if (attacker.goAway.isDone()) {
                assertThat(attacker.goAway.get()).isEqualTo(0xbL);
            }
            assertThat(attacker.statuses).as("CONNECTs answered (each was reset at once)").hasSizeLessThan(5_000);
        }
        await().atMost(Duration.ofSeconds(10)).until(() -> closed("flood") == before + 1);
        // Others are still served: a well-behaved peer, and the mesh itself.
        try (var fine = peer.connect(node1, hbone2, as("well-behaved"), SERVER)) {
            fine.settings.get(30, TimeUnit.SECONDS);
            int stream = fine.connect(echo);
            await().atMost(Duration.ofSeconds(30)).until(() -> fine.statuses.containsKey(stream));
            assertThat(fine.statuses.get(stream)).isEqualTo("200");
        }
        meshStillServes();
        assertThat(NodeHttp.get(c.nodeNetns("node2"), c.nodeIp("node2"), 15021, "/healthz/ready", Duration.ofSeconds(5))
                .status()).isEqualTo(200);
    }
}
