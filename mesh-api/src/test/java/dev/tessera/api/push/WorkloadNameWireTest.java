package dev.tessera.api.push;

import static dev.tessera.api.push.ProtocolV1GoldenTest.decode;
import static dev.tessera.api.push.ProtocolV1GoldenTest.encode;
import static dev.tessera.api.push.ProtocolV1GoldenTest.golden;
import static org.assertj.core.api.Assertions.assertThat;

import dev.tessera.api.identity.SpiffeId;
import dev.tessera.api.model.MeshSnapshot;
import dev.tessera.api.model.NodeInfo;
import dev.tessera.api.model.Workload;
import dev.tessera.api.policy.PolicySet;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.net.InetAddress;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * {@link Workload#workloadName()} on the wire ({@link MeshCodec#WORKLOAD_NAME_LABEL}), in both directions of
 * version skew: frames of older controllers decode with the pod name as workload name, and frames of this
 * controller decode, field for field and without trailing bytes, with the layout older agents read.
 */
class WorkloadNameWireTest {

    private static final NodeInfo NODE = new NodeInfo("node1", ip("198.18.0.1"), "198.18.1.0/24");

    private static InetAddress ip(String text) {
        try {
            return InetAddress.getByName(text);
        } catch (java.net.UnknownHostException e) {
            throw new IllegalStateException(e);
        }
    }

    private static Workload owned() {
        return new Workload("shop", "reviews-v1-7d9f8b6c5d-x2x4z", "node1", ip("198.18.1.5"), "reviews",
                Map.of("app", "reviews", "pod-template-hash", "7d9f8b6c5d"), true,
                new SpiffeId("cluster.local", "shop", "reviews"), "reviews-v1");
    }

    private static MeshConfig config(long version, Workload... workloads) {
        return new MeshConfig(version, new MeshSnapshot(version, List.of(NODE), List.of(workloads)),
                new PolicySet(version, List.of(), List.of()));
    }

    @Test
    void framesOfOlderControllersDecodeWithThePodNameAsWorkloadName() throws Exception {
        var snapshot = (Message.Snapshot) decode(golden("snapshot"));
        var delta = (Message.Delta) decode(golden("delta"));
        var all = new java.util.ArrayList<>(snapshot.config().mesh().workloads());
        all.addAll(delta.delta().workloads());
        assertThat(snapshot.config().mesh().workloads()).isNotEmpty();
        {
            assertThat(all).allSatisfy(w -> {
                assertThat(w.workloadName()).isEqualTo(w.name());
                assertThat(w.labels()).doesNotContainKey(MeshCodec.WORKLOAD_NAME_LABEL);
            });
        }
    }

    @Test
    void theOwnersNameRoundTripsInSnapshotsAndDeltasAndIsNoLabel() throws Exception {
        Workload w = owned();
        var snapshot = (Message.Snapshot) decode(encode(new Message.Snapshot(3, List.of(), config(1, w))));
        Workload got = snapshot.config().mesh().workloads().iterator().next();
        assertThat(got).isEqualTo(w);
        assertThat(got.labels()).doesNotContainKey(MeshCodec.WORKLOAD_NAME_LABEL);

        Workload renamed = new Workload(w.namespace(), w.name(), w.node(), w.ip(), w.serviceAccount(), w.labels(),
                w.meshed(), w.identity(), "reviews-v1-7d9f8b6c5d");
        var delta = (Message.Delta) decode(encode(new Message.Delta(3, null,
                MeshDelta.diff(config(1, w), config(2, renamed)))));
        assertThat(delta.delta().workloads()).as("a new owner name is a change the delta carries")
                .containsExactly(renamed);
    }

    /** The workload as protocol versions 1 and 2 read it: these fields, in this order, nothing after. */
    private static Map<String, String> readAsOlderAgent(Workload w) throws ProtocolException {
        ByteBuf buf = Unpooled.buffer();
        try {
            MeshCodec.workload(new WireWriter(buf), w);
            var r = new WireReader(buf);
            assertThat(r.string("namespace")).isEqualTo(w.namespace());
            assertThat(r.string("name")).isEqualTo(w.name());
            assertThat(r.string("node")).isEqualTo(w.node());
            assertThat(r.inet("ip")).isEqualTo(w.ip());
            assertThat(r.string("serviceAccount")).isEqualTo(w.serviceAccount());
            Map<String, String> labels = r.stringMap("labels");
            assertThat(r.bool("meshed")).isEqualTo(w.meshed());
            assertThat(r.string("identity")).isEqualTo(w.identity().toString());
            r.end("workload");
            return labels;
        } finally {
            buf.release();
        }
    }

    @Test
    void olderAgentsReadTheSameLayoutWithOneMoreLabelOnlyForOwnedPods() throws Exception {
        Workload w = owned();
        assertThat(readAsOlderAgent(w)).containsAllEntriesOf(w.labels())
                .containsEntry(MeshCodec.WORKLOAD_NAME_LABEL, "reviews-v1").hasSize(w.labels().size() + 1);
        Workload unowned = new Workload("shop", "debug", "node1", ip("198.18.1.6"), "default", Map.of("app", "tools"),
                true, new SpiffeId("cluster.local", "shop", "default"));
        assertThat(readAsOlderAgent(unowned)).as("a pod that is its own workload is encoded as before")
                .isEqualTo(unowned.labels());
    }

    @Test
    void anEmptyOwnerNameIsAProtocolErrorNamingTheField() {
        var labels = new java.util.HashMap<>(owned().labels());
        labels.put(MeshCodec.WORKLOAD_NAME_LABEL, "");
        ByteBuf buf = Unpooled.buffer();
        try {
            Workload w = owned();
            new WireWriter(buf).string(w.namespace()).string(w.name()).string(w.node()).inet(w.ip())
                    .string(w.serviceAccount()).stringMap(labels).bool(true).string(w.identity().toString());
            org.assertj.core.api.Assertions.assertThatThrownBy(() -> MeshCodec.workload(new WireReader(buf), "w"))
                    .isInstanceOf(ProtocolException.class).hasMessageContaining("workloadName");
        } finally {
            buf.release();
        }
    }
}
