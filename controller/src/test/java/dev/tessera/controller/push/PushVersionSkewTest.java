package dev.tessera.controller.push;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.tessera.api.push.FrameType;
import dev.tessera.api.push.Frames;
import dev.tessera.api.push.MeshConfig;
import dev.tessera.api.push.Message;
import dev.tessera.api.push.ProtocolException;
import dev.tessera.api.push.ProtocolVersions;
import dev.tessera.controller.core.ControllerCore;
import dev.tessera.controller.identity.AgentAuthenticator;
import dev.tessera.controller.identity.IssuingCa;
import dev.tessera.controller.identity.StaticTokenAuthenticator;
import dev.tessera.controller.identity.SvidIssuer;
import dev.tessera.controller.metrics.ControllerMetrics;
import dev.tessera.controller.watch.MeshSource;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import io.prometheus.metrics.model.snapshots.CounterSnapshot;
import io.prometheus.metrics.model.snapshots.GaugeSnapshot;
import io.prometheus.metrics.model.snapshots.MetricSnapshot;
import java.net.InetAddress;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Version skew on the push port, over real TLS: an agent of the previous protocol (version 1, speaking the
 * exact bytes it always sent) is served by this controller; an agent of this build negotiates version 3;
 * agents sharing no version with the controller are refused with a message naming the versions.
 */
class PushVersionSkewTest {

    private static final String TOKEN = "token-of-node1-0123456789";
    /**
     * A version-1 HELLO (node1, TOKEN, epoch 0, version 0) as the version-1 encoder wrote it: the golden
     * mesh-api/src/test/resources/dev/tessera/api/push/v1/hello.hex.
     */
    private static final String HELLO_V1 = "00000039010001000000056e6f64653100000019746f6b656e2d6f662d6e6f64"
            + "65312d3031323334353637383900000000000000000000000000000000";

    private final IssuingCa ca = IssuingCa.generate("cluster.local");
    private final StaticTokenAuthenticator tokens = StaticTokenAuthenticator.parse("t", List.of(TOKEN + ",node1"));
    private final PushServerTest.Source source = new PushServerTest.Source();
    private PushServer server;

    @AfterEach
    void stop() {
        if (server != null) {
            server.close();
        }
    }

    private final PrometheusRegistry registry = new PrometheusRegistry();

    private void start(ProtocolVersions.Range served) throws Exception {
        var issuer = new SvidIssuer(ca, tokens, () -> source.current().mesh(), "cluster.local", Duration.ofHours(1));
        var config = PushServerConfig.defaults("cluster.local", "tessera-system")
                .withBind(InetAddress.getByName("127.0.0.1"), 0).withHistorySize(8).withProtocolVersions(served);
        server = new PushServer(config, source, tokens, issuer, ca).start();
        new ControllerMetrics(registry, new ControllerCore() {
            @Override
            public MeshSource source() {
                return source;
            }

            @Override
            public IssuingCa ca() {
                return ca;
            }

            @Override
            public AgentAuthenticator authenticator() {
                return tokens;
            }

            @Override
            public SvidIssuer issuer() {
                return issuer;
            }

            @Override
            public boolean isLeader() {
                return true;
            }

            @Override
            public void close() {}
        }).push(server);
    }

    /** The value of {@code name}'s series whose labels include {@code label}={@code value}, or null. */
    private Double metric(String name, String label, String value) {
        for (MetricSnapshot s : registry.scrape()) {
            if (!s.getMetadata().getPrometheusName().equals(name)) {
                continue;
            }
            for (var p : s.getDataPoints()) {
                if (value.equals(p.getLabels().get(label))) {
                    return p instanceof CounterSnapshot.CounterDataPointSnapshot c ? c.getValue()
                            : ((GaugeSnapshot.GaugeDataPointSnapshot) p).getValue();
                }
            }
        }
        return null;
    }

    private RawAgent agent() throws Exception {
        return new RawAgent(server.port(), ca.trustBundle(), 0);
    }

    /** A version-1 ACK, in the layout of the golden v1/ack.hex. */
    private static byte[] ackV1(long version) {
        return ByteBufUtil.decodeHexDump("00000009" + "04" + String.format("%016x", version));
    }

    /** Decodes a frame read raw (type + payload) and checks that encoding it again gives the same bytes. */
    private static Message decodeExactly(byte[] frame) throws ProtocolException {
        ByteBuf in = Unpooled.wrappedBuffer(frame);
        ByteBuf again = Unpooled.buffer();
        try {
            Message m = Frames.decode(in);
            Frames.encode(m, again);
            again.skipBytes(Frames.LENGTH_FIELD);
            assertThat(ByteBufUtil.getBytes(again)).as(m.type() + " re-encoded").isEqualTo(frame);
            return m;
        } finally {
            in.release();
            again.release();
        }
    }

    /** Reads frames (answering pings) until a SNAPSHOT or DELTA; every frame must be one a version-1 agent knows. */
    private static Message nextConfigFrameV1(RawAgent agent) throws Exception {
        while (true) {
            byte[] raw = agent.readRaw();
            FrameType type = FrameType.of(raw[0] & 0xff);
            assertThat(type.since()).as("type " + type + " sent to a version-1 agent").isEqualTo(1);
            Message m = decodeExactly(raw);
            if (m instanceof Message.Ping p) {
                agent.send(new Message.Pong(p.nonce()));
            } else {
                assertThat(m).isInstanceOfAny(Message.Snapshot.class, Message.Delta.class);
                return m;
            }
        }
    }

    @Test
    void anAgentOfThePreviousProtocolGetsExactlyItsFramesAndItsAcksCount() throws Exception {
        source.publish(PushServerTest.state(1, 20, "v1"));
        start(ProtocolVersions.CONTROLLER);
        try (var agent = agent()) {
            agent.sendRaw(ByteBufUtil.decodeHexDump(HELLO_V1));
            var snapshot = (Message.Snapshot) nextConfigFrameV1(agent);
            assertThat(snapshot.config().version()).isEqualTo(1);
            agent.sendRaw(ackV1(1));
            await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
                assertThat(server.ackedVersions()).containsEntry("node1", 1L);
                assertThat(server.connectedAgents()).singleElement()
                        .satisfies(a -> assertThat(a.protocolVersion()).isEqualTo(1));
            });
            assertThat(metric("tessera_controller_connected_agents_by_protocol", "protocol_version", "1")).isEqualTo(1.0);
            assertThat(metric("tessera_controller_connected_agents_by_protocol", "protocol_version", "2")).isNull();
            // what tessera proxy-status reads: per node, the acknowledged version and the negotiated protocol
            assertThat(metric("tessera_controller_agent_acked_version", "node", "node1")).isEqualTo(1.0);
            assertThat(metric("tessera_controller_agent_acked_version", "protocol_version", "1")).isEqualTo(1.0);

            MeshConfig next = PushServerTest.state(2, 20, "v2");
            source.publish(next);
            var delta = (Message.Delta) nextConfigFrameV1(agent);
            MeshConfig applied = delta.delta().apply(snapshot.config());
            assertThat(applied.version()).isEqualTo(2);
            assertThat(applied.mesh().workloads()).containsExactlyInAnyOrderElementsOf(next.mesh().workloads());
            agent.sendRaw(ackV1(2));
            await().atMost(Duration.ofSeconds(10)).untilAsserted(() ->
                    assertThat(server.ackedVersions()).containsEntry("node1", 2L));
            assertThat(metric("tessera_controller_agent_acked_version", "node", "node1")).isEqualTo(2.0);
        }
        assertThat(server.counters().rejectedHandshakes()).isEmpty();
        assertThat(server.counters().malformedFrames()).isZero();
    }

    @Test
    void anAgentOfThisBuildNegotiatesTheCurrentVersion() throws Exception {
        source.publish(PushServerTest.state(1, 5, "v1"));
        start(ProtocolVersions.CONTROLLER);
        try (var agent = agent()) {
            agent.send(new Message.Hello(ProtocolVersions.AGENT.max(), ProtocolVersions.AGENT.min(), "node1", TOKEN, 0, 0));
            assertThat(agent.read()).isEqualTo(new Message.Welcome(4, 1, 4));
            assertThat(FrameType.of(agent.readRaw()[0] & 0xff)).isEqualTo(FrameType.NODE_SNAPSHOT);
            agent.send(new Message.Ack(1));
            await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
                assertThat(server.ackedVersions()).containsEntry("node1", 1L);
                assertThat(server.connectedAgents()).singleElement()
                        .satisfies(a -> assertThat(a.protocolVersion()).isEqualTo(4));
            });
        }
    }

    @Test
    void anAgentOfTheVersionBeforeIsServedItsNodeViewInProtocol3Frames() throws Exception {
        source.publish(PushServerTest.state(1, 5, "v1"));
        start(ProtocolVersions.CONTROLLER);
        try (var agent = agent()) {
            agent.send(new Message.Hello(3, 3, "node1", TOKEN, 0, 0));
            assertThat(agent.read()).isEqualTo(new Message.Welcome(3, 1, 4));
            assertThat(FrameType.of(agent.readRaw()[0] & 0xff)).isEqualTo(FrameType.NODE_SNAPSHOT);
            agent.send(new Message.Ack(1));
            await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> assertThat(server.connectedAgents())
                    .singleElement().satisfies(a -> assertThat(a.protocolVersion()).isEqualTo(3)));
        }
    }

    @Test
    void anAgentSpeakingBothVersionsGetsTheHigher() throws Exception {
        start(ProtocolVersions.CONTROLLER);
        try (var agent = agent()) {
            agent.send(new Message.Hello(9, 1, "node1", TOKEN, 0, 0));
            assertThat(agent.read()).isEqualTo(new Message.Welcome(4, 1, 4));
        }
    }

    @Test
    void anAgentAheadOfTheControllerIsToldToUpgradeTheControllerFirst() throws Exception {
        start(ProtocolVersions.CONTROLLER);
        try (var agent = agent()) {
            agent.send(new Message.Hello(7, 7, "node1", TOKEN, 0, 0));
            var error = (Message.ErrorFrame) agent.read();
            assertThat(error.reason()).isEqualTo("PROTOCOL_VERSION: agent speaks protocol versions 7, this controller"
                    + " 1-4 (expected: an agent speaking one of 1-4; upgrade the controller first: it must speak"
                    + " protocol 7 or newer (a controller serves agents of its own protocol version and of at least the"
                    + " one before))");
        }
        await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> {
            assertThat(server.counters().rejectedHandshakes()).containsEntry("PROTOCOL_VERSION", 1L);
            assertThat(server.counters().versionRefusals()).containsExactlyEntriesOf(java.util.Map.of("newer", 1L));
        });
        assertThat(metric("tessera_controller_push_version_refused", "agent", "newer")).isEqualTo(1.0);
        assertThat(metric("tessera_controller_push_rejected", "reason", "PROTOCOL_VERSION")).isEqualTo(1.0);
        assertThat(server.connectedAgents()).isEmpty();
    }

    @Test
    void anAgentBehindWhatTheControllerServesIsToldToUpgrade() throws Exception {
        // a controller that dropped version 1 (as the next one will): today's golden version-1 HELLO is refused
        start(new ProtocolVersions.Range(2, 2));
        try (var agent = agent()) {
            agent.sendRaw(ByteBufUtil.decodeHexDump(HELLO_V1));
            var error = (Message.ErrorFrame) decodeExactly(agent.readRaw());
            assertThat(error.reason()).isEqualTo("PROTOCOL_VERSION: agent speaks protocol versions 1, this controller 2"
                    + " (expected: an agent speaking one of 2; upgrade the agent: this controller no longer serves protocol 1)");
        }
        await().atMost(Duration.ofSeconds(5)).untilAsserted(() ->
                assertThat(server.counters().versionRefusals()).containsExactlyEntriesOf(java.util.Map.of("older", 1L)));
    }

    @Test
    void aMalformedVersionFieldClosesWithTheFieldNamed() throws Exception {
        start(ProtocolVersions.CONTROLLER);
        try (var agent = agent()) {
            // a version-2 HELLO whose lowest version (0) is not a version
            byte[] hello = ByteBufUtil.decodeHexDump("0000003b01" + "0002" + HELLO_V1.substring(14) + "0000");
            agent.sendRaw(hello);
            var error = (Message.ErrorFrame) agent.read();
            assertThat(error.reason()).isEqualTo(
                    "protocol error: HELLO.minProtocolVersion: 0 (expected: 1-2, at most HELLO.protocolVersion)");
        }
        await().atMost(Duration.ofSeconds(5)).untilAsserted(() ->
                assertThat(server.counters().malformedFrames()).isEqualTo(1));
    }
}
