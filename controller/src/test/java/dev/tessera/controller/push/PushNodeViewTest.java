package dev.tessera.controller.push;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.tessera.api.identity.SpiffeId;
import dev.tessera.api.model.MeshSnapshot;
import dev.tessera.api.model.NodeInfo;
import dev.tessera.api.model.Service;
import dev.tessera.api.model.Workload;
import dev.tessera.api.policy.PolicySet;
import dev.tessera.api.push.FrameType;
import dev.tessera.api.push.Frames;
import dev.tessera.api.push.MeshConfig;
import dev.tessera.api.push.Message;
import dev.tessera.api.push.NodeFrames;
import dev.tessera.controller.identity.IssuingCa;
import dev.tessera.controller.identity.StaticTokenAuthenticator;
import dev.tessera.controller.identity.SvidIssuer;
import io.netty.buffer.Unpooled;
import java.net.InetAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Per-node distribution over real TLS: an agent of protocol 3 receives its own node's pods whole and every
 * other pod in its routing form, in snapshots and deltas; an agent of protocol 2 still receives the whole mesh.
 */
class PushNodeViewTest {

    private static final String TOKEN1 = "token-of-node1-0123456789";
    private static final String TOKEN2 = "token-of-node2-0123456789";
    private final IssuingCa ca = IssuingCa.generate("cluster.local");
    private final StaticTokenAuthenticator tokens = StaticTokenAuthenticator.parse("t",
            List.of(TOKEN1 + ",node1", TOKEN2 + ",node2"));
    private final PushServerTest.Source source = new PushServerTest.Source();
    private PushServer server;

    @AfterEach
    void stop() {
        if (server != null) {
            server.close();
        }
    }

    private void start() throws Exception {
        var issuer = new SvidIssuer(ca, tokens, () -> source.current().mesh(), "cluster.local", Duration.ofHours(1));
        var config = PushServerConfig.defaults("cluster.local", "tessera-system")
                .withBind(InetAddress.getByName("127.0.0.1"), 0).withHistorySize(8);
        server = new PushServer(config, source, tokens, issuer, ca).start();
    }

    private RawAgent agent() throws Exception {
        return new RawAgent(server.port(), ca.trustBundle(), 0);
    }

    private static Workload pod(int i, String node, String version, String team) throws Exception {
        return new Workload("shop", "cart-" + i, node, InetAddress.getByName("198.18." + (node.equals("node1") ? 1 : 2)
                + "." + (10 + i)), "cart", Map.of("app", "cart", "version", version, "team", team), true,
                new SpiffeId("cluster.local", "shop", "cart"), "cart");
    }

    /** Pods 0-9 on node1, 10-19 on node2, a Service over all of them; pod 15 at {@code version15}/{@code team15}. */
    private static MeshConfig state(long version, String version15, String team15) throws Exception {
        var w = new ArrayList<Workload>();
        for (int i = 0; i < 20; i++) {
            w.add(i == 15 ? pod(i, "node2", version15, team15) : pod(i, i < 10 ? "node1" : "node2", "v1", "a"));
        }
        var endpoints = w.stream().map(x -> new Service.Endpoint(x.ip(), true, x.key())).toList();
        var svc = new Service("shop", "cart", List.of(InetAddress.getByName("198.18.200.1")),
                List.of(new Service.Port("http", 80, 8080)), endpoints);
        var nodes = List.of(new NodeInfo("node1", InetAddress.getByName("198.19.0.1"), "198.18.1.0/24"),
                new NodeInfo("node2", InetAddress.getByName("198.19.0.2"), "198.18.2.0/24"));
        return new MeshConfig(version, new MeshSnapshot(version, nodes, w, List.of(svc)), PolicySet.EMPTY);
    }

    private static Map<String, Workload> workloads(MeshConfig c) {
        var m = new TreeMap<String, Workload>();
        c.mesh().workloads().forEach(w -> m.put(w.key(), w));
        return m;
    }

    /** The next frame that is not a PING (answered), its type checked. */
    private static Message next(RawAgent agent, FrameType expected) throws Exception {
        while (true) {
            byte[] raw = agent.readRaw();
            Message m = Frames.decode(Unpooled.wrappedBuffer(raw));
            if (m instanceof Message.Ping p) {
                agent.send(new Message.Pong(p.nonce()));
                continue;
            }
            assertThat(FrameType.of(raw[0] & 0xff)).isEqualTo(expected);
            return m;
        }
    }

    @Test
    void eachAgentHoldsItsOwnPodsWholeAndTheRestInTheirRoutingFormAndDeltasKeepItSo() throws Exception {
        MeshConfig v1 = state(1, "v1", "a");
        source.publish(v1);
        start();
        try (var a1 = agent(); var a2 = agent()) {
            a1.hello("node1", TOKEN1);
            a2.hello("node2", TOKEN2);
            MeshConfig held1 = ((Message.Snapshot) next(a1, FrameType.NODE_SNAPSHOT)).config();
            MeshConfig held2 = ((Message.Snapshot) next(a2, FrameType.NODE_SNAPSHOT)).config();
            assertThat(workloads(held1)).isEqualTo(workloads(NodeFrames.view(v1, "node1")));
            assertThat(workloads(held1).get("shop/cart-3")).isEqualTo(pod(3, "node1", "v1", "a")); // own: whole
            assertThat(workloads(held1).get("shop/cart-13").labels()).doesNotContainKey("team"); // remote: compact
            assertThat(held1.mesh().services()).containsExactlyElementsOf(v1.mesh().services());
            assertThat(workloads(held2)).isEqualTo(workloads(NodeFrames.view(v1, "node2")));
            a1.send(new Message.Ack(1));
            a2.send(new Message.Ack(1));

            // a remote pod's version changes (its canonical revision): both agents get it, each in its form
            MeshConfig v2 = state(2, "v2", "a");
            source.publish(v2);
            var d1 = ((Message.Delta) next(a1, FrameType.NODE_DELTA)).delta();
            var d2 = ((Message.Delta) next(a2, FrameType.NODE_DELTA)).delta();
            assertThat(d1.workloads()).containsExactly(pod(15, "node2", "v2", "a").routingView());
            assertThat(d2.workloads()).containsExactly(pod(15, "node2", "v2", "a"));
            held1 = d1.apply(held1);
            held2 = d2.apply(held2);

            // a label nobody else reads: only its own node gets the pod, the other a version bump alone
            MeshConfig v3 = state(3, "v2", "b");
            source.publish(v3);
            var e1 = ((Message.Delta) next(a1, FrameType.NODE_DELTA)).delta();
            var e2 = ((Message.Delta) next(a2, FrameType.NODE_DELTA)).delta();
            assertThat(e1.isEmpty()).isTrue();
            assertThat(e1.toVersion()).isEqualTo(3);
            assertThat(e2.workloads()).containsExactly(pod(15, "node2", "v2", "b"));
            held1 = e1.apply(held1);
            held2 = e2.apply(held2);
            assertThat(workloads(held1)).isEqualTo(workloads(NodeFrames.view(v3, "node1")));
            assertThat(workloads(held2)).isEqualTo(workloads(NodeFrames.view(v3, "node2")));
            a1.send(new Message.Ack(3));
            a2.send(new Message.Ack(3));
            await().atMost(Duration.ofSeconds(10)).untilAsserted(() ->
                    assertThat(server.ackedVersions()).containsEntry("node1", 3L).containsEntry("node2", 3L));
        }
    }

    @Test
    void anAgentThatResumesGetsItsNodesDeltasAndAFreshOneItsNodesSnapshot() throws Exception {
        source.publish(state(1, "v1", "a"));
        start();
        try (var a2 = agent()) {
            a2.hello("node2", TOKEN2);
            next(a2, FrameType.NODE_SNAPSHOT);
        }
        source.publish(state(2, "v2", "b"));
        try (var a2 = agent(); var a1 = agent()) {
            a2.send(new Message.Hello(Frames.PROTOCOL_VERSION, "node2", TOKEN2, server.epoch(), 1));
            a2.expectWelcome();
            var d = ((Message.Delta) next(a2, FrameType.NODE_DELTA)).delta();
            assertThat(d.workloads()).containsExactly(pod(15, "node2", "v2", "b"));
            a1.hello("node1", TOKEN1);
            var s = ((Message.Snapshot) next(a1, FrameType.NODE_SNAPSHOT)).config();
            assertThat(workloads(s)).isEqualTo(workloads(NodeFrames.view(state(2, "v2", "b"), "node1")));
        }
    }

    @Test
    void anAgentOfProtocol2StillReceivesTheWholeMesh() throws Exception {
        MeshConfig v1 = state(1, "v1", "a");
        source.publish(v1);
        start();
        try (var a1 = agent()) {
            a1.send(new Message.Hello(2, 2, "node1", TOKEN1, 0, 0));
            assertThat(a1.read()).isEqualTo(new Message.Welcome(2, 1, 4));
            var s = ((Message.Snapshot) next(a1, FrameType.SNAPSHOT)).config();
            assertThat(workloads(s)).isEqualTo(workloads(v1)); // every label of every pod
            source.publish(state(2, "v1", "b"));
            var d = ((Message.Delta) next(a1, FrameType.DELTA)).delta();
            assertThat(d.workloads()).containsExactly(pod(15, "node2", "v1", "b"));
        }
    }
}
