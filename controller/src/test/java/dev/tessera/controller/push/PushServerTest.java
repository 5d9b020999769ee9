package dev.tessera.controller.push;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.tessera.api.identity.SpiffeId;
import dev.tessera.api.model.MeshSnapshot;
import dev.tessera.api.model.NodeInfo;
import dev.tessera.api.model.Workload;
import dev.tessera.api.policy.PolicySet;
import dev.tessera.api.push.Frames;
import dev.tessera.api.push.MeshConfig;
import dev.tessera.api.push.Message;
import dev.tessera.controller.identity.IssuingCa;
import dev.tessera.controller.identity.StaticTokenAuthenticator;
import dev.tessera.controller.identity.SvidIssuer;
import dev.tessera.controller.watch.MeshSource;
import java.net.InetAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The push server against a raw protocol peer: slow agents, the server certificate, the HELLO deadline. */
class PushServerTest {

    private static final String TOKEN = "token-of-node1-0123456789";
    private final IssuingCa ca = IssuingCa.generate("cluster.local");
    private final StaticTokenAuthenticator tokens = StaticTokenAuthenticator.parse("t", List.of(TOKEN + ",node1"));
    private final Source source = new Source();
    private PushServer server;

    static final class Source implements MeshSource {
        final List<Consumer<MeshConfig>> listeners = new CopyOnWriteArrayList<>();
        volatile MeshConfig current = MeshConfig.EMPTY;

        @Override
        public void start() {}

        @Override
        public MeshConfig current() {
            return current;
        }

        @Override
        public void addListener(Consumer<MeshConfig> l) {
            listeners.add(l);
        }

        void publish(MeshConfig c) {
            current = c;
            listeners.forEach(l -> l.accept(c));
        }

        @Override
        public void close() {}
    }

    @AfterEach
    void stop() {
        if (server != null) {
            server.close();
        }
    }

    private PushServer start(PushServerConfig config) throws Exception {
        var issuer = new SvidIssuer(ca, tokens, () -> source.current().mesh(), "cluster.local", Duration.ofHours(1));
        server = new PushServer(config, source, tokens, issuer, ca).start();
        return server;
    }

    private static PushServerConfig config() throws Exception {
        return PushServerConfig.defaults("cluster.local", "tessera-system").withBind(InetAddress.getByName("127.0.0.1"), 0)
                .withHistorySize(8);
    }

    /** {@code pods} pods all labelled {@code label}: every version changes every pod (large deltas). */
    static MeshConfig state(long version, int pods, String label) throws Exception {
        var node = new NodeInfo("node1", InetAddress.getByName("198.18.0.1"), "198.18.1.0/24");
        var w = new ArrayList<Workload>();
        for (int i = 0; i < pods; i++) {
            w.add(new Workload("shop", "pod-" + i, "node1",
                    InetAddress.getByAddress(new byte[] {(byte) 198, (byte) (18 + i / 62_500), (byte) (1 + i / 250 % 250),
                            (byte) (2 + i % 250)}), "sa",
                    Map.of("app", "pod-" + i, "rollout", label, "team", "checkout-and-payments"), true,
                    new SpiffeId("cluster.local", "shop", "sa")));
        }
        return new MeshConfig(version, new MeshSnapshot(version, List.of(node), w), PolicySet.EMPTY);
    }

    @Test
    void aSlowAgentIsNotQueuedForButCatchesUpToTheLatestVersion() throws Exception {
        source.publish(state(1, 2000, "v1"));
        start(config());
        try (var agent = new RawAgent(server.port(), ca.trustBundle(), 4096)) {
            agent.hello("node1", TOKEN);
            var first = (Message.Snapshot) agent.read();
            assertThat(first.config().version()).isEqualTo(1);
            // the agent stops reading while 60 versions of ~200 KB deltas are published
            for (int v = 2; v <= 61; v++) {
                source.publish(state(v, 2000, "v" + v));
            }
            MeshConfig held = first.config();
            int frames = 0;
            while (held.version() < 61) {
                Message m = agent.read();
                frames++;
                if (m instanceof Message.Snapshot s) {
                    held = s.config();
                } else if (m instanceof Message.Delta d) {
                    held = d.delta().apply(held);
                }
            }
            assertThat(held.mesh().workloads()).allSatisfy(w -> assertThat(w.labels()).containsEntry("rollout", "v61"));
            assertThat(frames).as("frames written to the slow agent").isLessThan(30);
            assertThat(server.counters().pushes()).isLessThan(31);
        }
    }

    @Test
    void aLargeSnapshotGoesOutInSlicesAndItsSlowReaderIsNotDroppedAsSilent() throws Exception {
        MeshConfig big = state(1, 40_000, "v1"); // ~4 MB: many slices, more than the write buffer holds
        source.publish(big);
        var c = config();
        // ping every 2 s: an agent that says nothing for 6 s counts as gone (wide enough that a loaded machine's
        // scheduling gaps between two drained 256 KB slices, ~0.6 s apart here, never look like silence)
        start(new PushServerConfig(c.bindAddress(), 0, c.trustDomain(), c.namespace(), c.dnsNames(), c.ips(), 8,
                c.helloTimeout(), Duration.ofSeconds(2), c.serverCertTtl(), 1, PushLimits.defaults()));
        try (var agent = new RawAgent(server.port(), ca.trustBundle(), 4096)) {
            agent.hello("node1", TOKEN);
            await().atMost(Duration.ofSeconds(5)).until(() -> server.connectedAgents().size() == 1);
            source.publish(state(2, 40_000, "v2")); // published while the snapshot is still going out
            // the first 3 MB at 16 KB per 40 ms: ~7.7 s (longer on a loaded machine), more than the 6 s of silence,
            // but the server is the one still sending: every slice it hands on counts as progress. (The rest is
            // read at once: once the last slice is in the kernel's buffers, the server sees no more progress, and
            // a reader slow on that tail would be silent as far as it can tell.)
            byte[] snapshot = agent.readSlowly(16 * 1024, 40, 3 * 1024 * 1024);
            agent.send(new Message.Ack(1));
            Message next = agent.read(); // nothing came between the slices; the change (and pings) follow
            while (next instanceof Message.Ping p) {
                agent.send(new Message.Pong(p.nonce()));
                next = agent.read();
            }
            var delta = (Message.Delta) next;
            agent.send(new Message.Ack(delta.delta().toVersion()));
            await().atMost(Duration.ofSeconds(5)).untilAsserted(() ->
                    assertThat(server.ackedVersions()).containsEntry("node1", 2L));
            assertThat(server.counters().snapshotsSent()).isEqualTo(1);

            var first = (Message.Snapshot) RawAgent.decode(snapshot);
            assertThat(first.config().version()).isEqualTo(1);
            assertThat(first.config().mesh().workloads()).hasSize(40_000);
            assertThat(java.util.Set.copyOf(first.config().mesh().workloads()).equals(java.util.Set.copyOf(big.mesh().workloads())))
                    .as("the snapshot's workloads are the published ones").isTrue();
            assertThat(delta.delta().apply(first.config()).mesh().workloads())
                    .allSatisfy(w -> assertThat(w.labels()).containsEntry("rollout", "v2"));
        }
    }

    @Test
    void aStrangerCannotMakeTheServerBufferMoreThanAHello() throws Exception {
        source.publish(state(1, 10, "v1"));
        start(config());
        try (var stranger = new RawAgent(server.port(), ca.trustBundle(), 0)) {
            var out = new java.io.DataOutputStream(stranger.socket.getOutputStream());
            out.writeInt(AgentSession.PRE_HELLO_MAX_FRAME + 1); // announces a frame bigger than any HELLO
            out.write(new byte[1024]);
            out.flush();
            var in = new java.io.DataInputStream(stranger.socket.getInputStream());
            in.readInt();
            assertThat(in.readUnsignedByte()).as("ERROR frame").isEqualTo(12);
            assertThat(server.counters().malformedFrames()).isEqualTo(1);
        }
        // An authenticated agent may send frames up to 1 MiB (its HELLO raised the limit).
        try (var agent = new RawAgent(server.port(), ca.trustBundle(), 0)) {
            agent.hello("node1", TOKEN);
            assertThat(agent.read()).isInstanceOf(Message.Snapshot.class);
            var out = new java.io.DataOutputStream(agent.socket.getOutputStream());
            out.writeInt(64 * 1024);
            out.writeByte(99); // unknown type, but its length passed the check: the type is what fails
            out.write(new byte[64 * 1024 - 1]);
            out.flush();
            await().atMost(Duration.ofSeconds(5)).until(() -> server.counters().malformedFrames() == 2);
        }
    }

    @Test
    void theServerCertificateNamesTheServiceAndRenews() throws Exception {
        start(config());
        var leaf = server.certificateChain().get(0);
        assertThat(leaf.getSubjectAlternativeNames()).extracting(san -> san.get(1).toString()).contains(
                "tessera-controller.tessera-system.svc", "localhost", "127.0.0.1",
                "spiffe://cluster.local/ns/tessera-system/sa/tessera-controller");
        leaf.verify(ca.intermediates().get(0).getPublicKey());
        try (var agent = new RawAgent(server.port(), ca.trustBundle(), 0)) {
            agent.socket.startHandshake();
            assertThat(agent.socket.getSession().getPeerCertificates()[0]).isEqualTo(leaf);
            assertThat(agent.socket.getSession().getProtocol()).isEqualTo("TLSv1.3");
        }
        server.renewCertificate();
        var renewed = server.certificateChain().get(0);
        assertThat(renewed.getSerialNumber()).isNotEqualTo(leaf.getSerialNumber());
        try (var agent = new RawAgent(server.port(), ca.trustBundle(), 0)) {
            agent.socket.startHandshake();
            assertThat(agent.socket.getSession().getPeerCertificates()[0]).isEqualTo(renewed);
        }
    }

    @Test
    void aPeerThatNeverSaysHelloIsDropped() throws Exception {
        var c = config();
        start(new PushServerConfig(c.bindAddress(), 0, c.trustDomain(), c.namespace(), c.dnsNames(), c.ips(), 8,
                Duration.ofMillis(300), c.pingInterval(), c.serverCertTtl(), 1, PushLimits.defaults()));
        try (var agent = new RawAgent(server.port(), ca.trustBundle(), 0)) {
            agent.socket.startHandshake();
            var error = (Message.ErrorFrame) agent.read();
            assertThat(error.reason()).isEqualTo("HELLO_TIMEOUT: no HELLO within 300 ms");
        }
        await().atMost(Duration.ofSeconds(5)).untilAsserted(() ->
                assertThat(server.counters().rejectedHandshakes()).containsEntry("HELLO_TIMEOUT", 1L));
    }
}
