package dev.tessera.api.push;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tessera.api.identity.SpiffeId;
import dev.tessera.api.model.MeshSnapshot;
import dev.tessera.api.model.NodeInfo;
import dev.tessera.api.model.Service;
import dev.tessera.api.model.Workload;
import dev.tessera.api.policy.PolicySet;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.Unpooled;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Protocol 3's per-node frames: each agent's view of the mesh, and the changes to it. */
class NodeFramesTest {

    private static final ByteBufAllocator ALLOC = ByteBufAllocator.DEFAULT;

    private static final NodeInfo N1 = new NodeInfo("node1", RandomMesh.ip(198, 19, 0, 1), "198.18.1.0/24");
    private static final NodeInfo N2 = new NodeInfo("node2", RandomMesh.ip(198, 19, 0, 2), "198.18.2.0/24");

    private static Workload pod(String ns, String name, String node, int ip, Map<String, String> labels, String owner) {
        return new Workload(ns, name, node, RandomMesh.ip(198, 18, node.equals("node1") ? 1 : 2, ip), "sa-" + name,
                labels, true, new SpiffeId("cluster.local", ns, "sa-" + name), owner);
    }

    private final Workload local = pod("shop", "cart-5d8f-abcde", "node1", 10,
            Map.of("app", "cart", "version", "v1", "pod-template-hash", "5d8f", "team", "a"), "cart");
    private final Workload remote = pod("shop", "pay-7c9b-xyz12", "node2", 20,
            Map.of("service.istio.io/canonical-name", "payments", "app.kubernetes.io/version", "v3",
                    "pod-template-hash", "7c9b", "tier", "backend"), "pay");
    private final Workload bare = pod("other", "lonely", "node2", 21, Map.of(), "lonely"); // no owner, no labels
    private final Service service = new Service("shop", "pay", List.of(RandomMesh.ip(198, 18, 200, 1)),
            List.of(new Service.Port("http", 80, 8080)),
            List.of(new Service.Endpoint(remote.ip(), true, remote.key()),
                    new Service.Endpoint(local.ip(), false, local.key()),
                    new Service.Endpoint(RandomMesh.ip(198, 18, 9, 9), true, ""), // not a pod
                    new Service.Endpoint(RandomMesh.ip(198, 18, 9, 8), true, "shop/gone"))); // a pod not in the mesh

    private MeshConfig config(long version, Workload... workloads) {
        return new MeshConfig(version, new MeshSnapshot(version, List.of(N1, N2), List.of(workloads), List.of(service)),
                PolicySet.EMPTY);
    }

    private static Message decode(ByteBuf frame) throws ProtocolException {
        try {
            frame.skipBytes(Frames.LENGTH_FIELD);
            return Frames.decode(frame);
        } finally {
            frame.release();
        }
    }

    private static MeshConfig snapshotFor(MeshConfig c, String node) throws ProtocolException {
        var m = (Message.Snapshot) decode(NodeFrames.snapshot(ALLOC, 7, List.of(), c, node));
        assertThat(m.epoch()).isEqualTo(7);
        return m.config();
    }

    private static MeshDelta deltaFor(MeshConfig from, MeshConfig to, String node) throws ProtocolException {
        return ((Message.Delta) decode(NodeFrames.delta(ALLOC, 7, from, MeshDelta.diff(from, to), node))).delta();
    }

    @Test
    void anAgentHoldsItsOwnPodsWholeAndTheOthersInTheirRoutingForm() throws Exception {
        MeshConfig c = config(3, local, remote, bare);

        MeshConfig atNode1 = snapshotFor(c, "node1");

        assertThat(atNode1.version()).isEqualTo(3);
        assertThat(atNode1.mesh().workload("shop", "cart-5d8f-abcde")).contains(local); // labels and all
        Workload r = atNode1.mesh().workload("shop", "pay-7c9b-xyz12").orElseThrow();
        assertThat(r.labels()).isEqualTo(Map.of("service.istio.io/canonical-name", "payments",
                "service.istio.io/canonical-revision", "v3"));
        // what routing, the peer check, metrics and the access log read is all there
        assertThat(r.ip()).isEqualTo(remote.ip());
        assertThat(r.node()).isEqualTo("node2");
        assertThat(r.identity()).isEqualTo(remote.identity());
        assertThat(r.serviceAccount()).isEqualTo(remote.serviceAccount());
        assertThat(r.meshed()).isTrue();
        assertThat(r.workloadName()).isEqualTo("pay");
        assertThat(r.key()).isEqualTo(remote.key());
        assertThat(r.canonicalService()).isEqualTo(remote.canonicalService()).isEqualTo("payments");
        assertThat(r.canonicalRevision()).isEqualTo(remote.canonicalRevision()).isEqualTo("v3");
        assertThat(atNode1.mesh().workload("other", "lonely")).contains(bare); // nothing to drop
        // and node2 sees it the other way round
        MeshConfig atNode2 = snapshotFor(c, "node2");
        assertThat(atNode2.mesh().workload("shop", "pay-7c9b-xyz12")).contains(remote);
        assertThat(atNode2.mesh().workload("shop", "cart-5d8f-abcde")).contains(local.routingView());
        assertThat(atNode2.mesh().workload("shop", "cart-5d8f-abcde").orElseThrow().labels())
                .isEqualTo(Map.of("service.istio.io/canonical-revision", "v1")); // its service is its workload name
    }

    @Test
    void servicesKeepEveryEndpointWithItsAddressReadinessAndPod() throws Exception {
        MeshConfig atNode1 = snapshotFor(config(3, local, remote, bare), "node1");

        assertThat(atNode1.mesh().service("shop", "pay")).contains(service);
        assertThat(atNode1.mesh().serviceByVip(RandomMesh.ip(198, 18, 200, 1))).contains(service);
    }

    @Test
    void aChangeToARemotePodReachesEveryAgentInTheFormItHoldsItIn() throws Exception {
        MeshConfig before = config(3, local, remote);
        var moved = new Workload(remote.namespace(), remote.name(), remote.node(), remote.ip(), remote.serviceAccount(),
                Map.of("service.istio.io/canonical-name", "payments", "app.kubernetes.io/version", "v4"), true,
                remote.identity(), remote.workloadName());
        MeshConfig after = config(4, local, moved);

        MeshDelta toNode1 = deltaFor(before, after, "node1");
        MeshDelta toNode2 = deltaFor(before, after, "node2");

        assertThat(toNode1.fromVersion()).isEqualTo(3);
        assertThat(toNode1.toVersion()).isEqualTo(4);
        assertThat(toNode1.workloads()).containsExactly(moved.routingView());
        assertThat(toNode2.workloads()).containsExactly(moved);
    }

    @Test
    void aChangeOnlyItsOwnNodeSeesReachesTheOthersAsAVersionBumpAlone() throws Exception {
        MeshConfig before = config(3, local, remote);
        var relabelled = new Workload(local.namespace(), local.name(), local.node(), local.ip(), local.serviceAccount(),
                Map.of("app", "cart", "version", "v1", "pod-template-hash", "5d8f", "team", "b"), true,
                local.identity(), local.workloadName());
        MeshConfig after = config(4, relabelled, remote);

        MeshDelta toNode2 = deltaFor(before, after, "node2");
        MeshDelta toNode1 = deltaFor(before, after, "node1");

        assertThat(toNode2.isEmpty()).isTrue();
        assertThat(toNode2.toVersion()).isEqualTo(4);
        assertThat(toNode1.workloads()).containsExactly(relabelled); // whole, only to its own node
    }

    @Test
    void aPodThatMovesBecomesWholeOnItsNewNodeAndCompactOnItsOldOne() throws Exception {
        MeshConfig before = config(3, local, remote);
        var moved = new Workload(local.namespace(), local.name(), "node2", RandomMesh.ip(198, 18, 2, 99),
                local.serviceAccount(), local.labels(), true, local.identity(), local.workloadName());
        MeshConfig after = config(4, moved, remote);

        MeshConfig node1 = deltaFor(before, after, "node1").apply(snapshotFor(before, "node1"));
        MeshConfig node2 = deltaFor(before, after, "node2").apply(snapshotFor(before, "node2"));

        assertThat(node1.mesh().workload("shop", "cart-5d8f-abcde")).contains(moved.routingView());
        assertThat(node2.mesh().workload("shop", "cart-5d8f-abcde")).contains(moved);
    }

    @Test
    void everyNodesSnapshotAndEveryChainOfItsDeltasGiveThatNodesViewOverRandomChanges() throws Exception {
        for (long seed = 0; seed < 10; seed++) {
            var mesh = new RandomMesh(seed);
            MeshConfig current = mesh.config(1, 3, 30, 4, 3);
            var held = new java.util.HashMap<String, MeshConfig>();
            for (String node : current.mesh().nodes().keySet()) {
                MeshConfig s = snapshotFor(current, node);
                assertThat(RandomMesh.content(s)).isEqualTo(RandomMesh.content(NodeFrames.view(current, node)));
                held.put(node, s);
            }
            for (int step = 0; step < 30; step++) {
                MeshConfig next = mesh.mutate(current);
                for (String node : held.keySet()) {
                    MeshConfig applied = deltaFor(current, next, node).apply(held.get(node));
                    assertThat(RandomMesh.content(applied)).as("seed %d step %d node %s", seed, step, node)
                            .isEqualTo(RandomMesh.content(NodeFrames.view(next, node)));
                    held.put(node, applied);
                }
                current = next;
            }
        }
    }

    @Test
    void theSharedPartIsOneBufferForEveryNodeAndTheHeadsHoldOnlyTheNodesOwnPods() {
        var workloads = new ArrayList<Workload>();
        for (int i = 0; i < 200; i++) {
            String node = i % 2 == 0 ? "node1" : "node2";
            workloads.add(new Workload("ns" + i % 5, "app-" + i % 7 + "-node-" + node + "-" + i, node,
                    RandomMesh.ip(198, 18, i % 2 + 1, i / 2 + 1), "sa-" + i % 7,
                    Map.of("app", "app-" + i % 7, "version", "v1", "pod-template-hash", "abc" + i % 7), true,
                    new SpiffeId("cluster.local", "ns" + i % 5, "sa-" + i % 7)));
        }
        var c = new MeshConfig(1, new MeshSnapshot(1, List.of(N1, N2), workloads, List.of()), PolicySet.EMPTY);
        ByteBuf whole = Frames.encode(ALLOC, new Message.Snapshot(1, List.of(), c));
        ByteBuf shared = NodeFrames.snapshotShared(ALLOC, c);
        ByteBuf head = NodeFrames.snapshotHead(ALLOC, 1, 1, List.of(), NodeFrames.local(workloads, "node1"),
                shared.readableBytes());
        try {
            assertThat(head.readableBytes()).isLessThan(whole.readableBytes() / 2 + 100); // half the pods, whole
            assertThat(shared.readableBytes()).isLessThan(whole.readableBytes() / 5);
        } finally {
            whole.release();
            shared.release();
            head.release();
        }
    }

    @Test
    void aDamagedFrameIsAProtocolErrorNeverAnotherException() throws Exception {
        var mesh = new RandomMesh(7);
        MeshConfig c = mesh.config(1, 3, 30, 4, 3);
        MeshConfig next = mesh.mutate(c);
        var frames = new ArrayList<byte[]>();
        for (ByteBuf f : List.of(NodeFrames.snapshot(ALLOC, 1, List.of(), c, "node1"),
                NodeFrames.delta(ALLOC, 1, c, MeshDelta.diff(c, next), "node2"))) {
            try {
                f.skipBytes(Frames.LENGTH_FIELD);
                frames.add(io.netty.buffer.ByteBufUtil.getBytes(f));
            } finally {
                f.release();
            }
        }
        var random = new java.util.Random(11);
        for (int i = 0; i < 4000; i++) {
            byte[] b = frames.get(i % 2).clone();
            int cut = random.nextInt(4) == 0 ? 1 + random.nextInt(b.length - 1) : b.length;
            for (int k = 0, n = 1 + random.nextInt(4); k < n; k++) {
                b[1 + random.nextInt(b.length - 1)] = (byte) random.nextInt(256); // never the type byte
            }
            ByteBuf in = Unpooled.wrappedBuffer(b, 0, cut);
            try {
                Frames.decode(in);
            } catch (ProtocolException expected) {
                // the only way a damaged frame may fail
            } finally {
                in.release();
            }
        }
    }

    @Test
    void aStringIndexOutsideTheTableIsAProtocolError() {
        ByteBuf buf = Unpooled.buffer();
        var w = new WireWriter(buf);
        buf.writeInt(0);
        buf.writeByte(FrameType.NODE_DELTA.code());
        w.u64(1).u64(1).u64(2).u32(0); // epoch, from, to, no local workloads
        w.varint(0); // empty strings table
        w.u32(0).u32(0); // nodes, removed
        w.varint(1).varint(5).varint(1); // one group, node = string 5 (no such string)
        buf.setInt(0, buf.readableBytes() - Frames.LENGTH_FIELD);
        buf.skipBytes(Frames.LENGTH_FIELD);
        try {
            assertThatThrownBy(() -> Frames.decode(buf)).isInstanceOf(ProtocolException.class)
                    .hasMessageContaining("NODE_DELTA.workloads.groups[0].node: string 5");
        } finally {
            buf.release();
        }
    }
}
