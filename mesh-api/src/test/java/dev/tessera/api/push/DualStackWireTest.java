package dev.tessera.api.push;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tessera.api.identity.SpiffeId;
import dev.tessera.api.model.MeshSnapshot;
import dev.tessera.api.model.NodeInfo;
import dev.tessera.api.model.Workload;
import dev.tessera.api.policy.PolicySet;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufUtil;
import java.net.InetAddress;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * A dual-stack pod's other addresses ({@link Workload#otherIps()}) on the wire: in the whole form as the reserved
 * label {@link MeshCodec#OTHER_IPS_LABEL} (every protocol version), in protocol 4's compact form as flag 64, and
 * left out of protocol 3's compact form, whose frames stay byte for byte what a protocol-3 controller sent.
 */
class DualStackWireTest {

    private static final ByteBufAllocator ALLOC = ByteBufAllocator.DEFAULT;
    private static final NodeInfo N1 = new NodeInfo("node1", ip("198.19.0.1"), "198.18.1.0/24");
    private static final NodeInfo N2 = new NodeInfo("node2", ip("198.19.0.2"), "198.18.2.0/24");

    private static InetAddress ip(String text) {
        try {
            return InetAddress.getByName(text);
        } catch (java.net.UnknownHostException e) {
            throw new IllegalStateException(e);
        }
    }

    private static Workload pod(String name, String node, String v4, String... others) {
        return new Workload("shop", name, node, ip(v4), "sa", Map.of("app", name), true,
                new SpiffeId("cluster.local", "shop", "sa"), name,
                java.util.Arrays.stream(others).map(DualStackWireTest::ip).toList());
    }

    private static MeshConfig config(long version, Workload... workloads) {
        return new MeshConfig(version, new MeshSnapshot(version, List.of(N1, N2), List.of(workloads)), PolicySet.EMPTY);
    }

    private static Message decode(ByteBuf frame) throws ProtocolException {
        try {
            frame.skipBytes(Frames.LENGTH_FIELD);
            return Frames.decode(frame);
        } finally {
            frame.release();
        }
    }

    private static byte[] bytes(ByteBuf b) {
        try {
            return ByteBufUtil.getBytes(b);
        } finally {
            b.release();
        }
    }

    private final Workload local = pod("cart", "node1", "198.18.1.10", "2001:db8:1::a");
    private final Workload remote = pod("pay", "node2", "198.18.2.20", "2001:db8:2::14");
    private final Workload v4only = pod("db", "node2", "198.18.2.21");

    @Test
    void theWholeFormCarriesTheOtherAddressesAsAReservedLabelThatDecodesIntoTheField() throws Exception {
        var c = config(1, local, remote, v4only);
        var m = (Message.Snapshot) ProtocolV1GoldenTest.decode(
                ProtocolV1GoldenTest.encode(new Message.Snapshot(3, List.of(), c)));
        assertThat(m.config().mesh().workloads()).containsExactlyInAnyOrder(local, remote, v4only);
        assertThat(m.config().mesh().workloads()).allSatisfy(
                w -> assertThat(w.labels()).doesNotContainKey(MeshCodec.OTHER_IPS_LABEL));
        assertThat(remote.addresses()).containsExactly(ip("198.18.2.20"), ip("2001:db8:2::14"));
    }

    @Test
    void protocol4SendsEveryNodeTheOtherAddressesOfRemotePods() throws Exception {
        var c = config(1, local, remote, v4only);
        var m = (Message.Snapshot) decode(NodeFrames.snapshot(ALLOC, 7, List.of(), c, "node1"));
        Workload got = m.config().mesh().workload("shop", "pay").orElseThrow();
        assertThat(got.otherIps()).containsExactly(ip("2001:db8:2::14"));
        assertThat(got).isEqualTo(remote.routingView());
        assertThat(m.config().mesh().workload("shop", "cart").orElseThrow()).isEqualTo(local);

        var next = config(2, local, remote.withOtherIps(List.of(ip("2001:db8:2::15"))), v4only);
        var d = (Message.Delta) decode(NodeFrames.delta(ALLOC, 7, c, MeshDelta.diff(c, next), "node1"));
        assertThat(d.delta().workloads()).singleElement()
                .satisfies(w -> assertThat(w.otherIps()).containsExactly(ip("2001:db8:2::15")));
    }

    @Test
    void protocol3LeavesThemOutAndIsByteForByteThePreviousEncodingWithoutDualStackPods() throws Exception {
        var dual = config(1, local, remote, v4only);
        assertThat(NodeFrames.differsBefore4(dual)).isTrue();
        ByteBuf shared3 = NodeFrames.snapshotShared(ALLOC, dual, 3);
        ByteBuf head = NodeFrames.snapshotHead(ALLOC, 7, 1, List.of(), List.of(), shared3.readableBytes());
        var m = (Message.Snapshot) decode(NodeFrames.frame(head, shared3));
        shared3.release();
        assertThat(m.config().mesh().workload("shop", "pay").orElseThrow().otherIps()).isEmpty();

        var single = config(1, local.withOtherIps(List.of()), remote.withOtherIps(List.of()), v4only);
        assertThat(NodeFrames.differsBefore4(single)).isFalse();
        assertThat(bytes(NodeFrames.snapshotShared(ALLOC, single, 3)))
                .isEqualTo(bytes(NodeFrames.snapshotShared(ALLOC, single, 4)));
        // protocol 3's encoder never sets flag 64, which protocol-3 agents reject
        assertThat(bytes(NodeFrames.snapshotShared(ALLOC, dual, 3)))
                .isEqualTo(bytes(NodeFrames.snapshotShared(ALLOC, single, 3)));
    }

    @Test
    void aDamagedAddressLabelFailsAsAProtocolErrorNamingTheField() {
        assertThatThrownBy(() -> MeshCodec.otherIps("2001:db8::1,node2.example", "w.labels.x"))
                .isInstanceOf(ProtocolException.class)
                .hasMessageContaining("w.labels.x: 'node2.example' (expected: IPv4 or IPv6 addresses");
        assertThatThrownBy(() -> MeshCodec.otherIps("", "f")).isInstanceOf(ProtocolException.class);
    }

    @Test
    void anAddressListedTwiceIsRefused() {
        assertThatThrownBy(() -> pod("x", "node1", "198.18.1.1", "198.18.1.1"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("otherIps: 198.18.1.1");
    }
}
