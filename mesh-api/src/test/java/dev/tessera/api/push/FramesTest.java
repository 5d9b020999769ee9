package dev.tessera.api.push;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tessera.api.identity.CertificateAuthority;
import dev.tessera.api.identity.SpiffeId;
import dev.tessera.api.model.MeshSnapshot;
import dev.tessera.api.model.Service;
import dev.tessera.api.policy.PolicySet;
import dev.tessera.api.push.MeshConfig;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import java.util.List;
import org.junit.jupiter.api.Test;

class FramesTest {

    private static final CertificateAuthority CA = CertificateAuthority.generate("cluster.local");

    private static byte[] frame(Message m) {
        ByteBuf buf = Unpooled.buffer();
        try {
            Frames.encode(m, buf);
            return ByteBufUtil.getBytes(buf);
        } finally {
            buf.release();
        }
    }

    /** Decodes a whole frame (with its length field), checking the length field first. */
    private static Message decode(byte[] frame) throws ProtocolException {
        ByteBuf buf = Unpooled.wrappedBuffer(frame);
        try {
            long length = buf.readUnsignedInt();
            assertThat(length).isEqualTo(frame.length - 4);
            return Frames.decode(buf);
        } finally {
            buf.release();
        }
    }

    @Test
    void ackLayoutIsLengthTypeThenBigEndianVersion() {
        assertThat(ByteBufUtil.hexDump(frame(new Message.Ack(0x0102030405060708L))))
                .isEqualTo("00000009" + "04" + "0102030405060708");
    }

    @Test
    void helloLayout() {
        byte[] f = frame(new Message.Hello(1, "n1", "tok", 7, 9));
        assertThat(ByteBufUtil.hexDump(f)).isEqualTo(
                "00000020" + "01" + "0001" + "00000002" + "6e31" + "00000003" + "746f6b"
                        + "0000000000000007" + "0000000000000009");
    }

    @Test
    void smallMessagesRoundTrip() throws Exception {
        var csr = CertificateAuthority.csr(CertificateAuthority.newKeyPair(), SpiffeId.parse("spiffe://cluster.local/ns/a/sa/b"));
        var leaf = CA.sign(csr, SpiffeId.parse("spiffe://cluster.local/ns/a/sa/b"), java.time.Duration.ofHours(1));
        List<Message> all = List.of(
                new Message.Hello(Frames.PROTOCOL_VERSION, "node-1", "a".repeat(900), Long.MAX_VALUE, 42),
                new Message.Ack(3), new Message.Nack(4, "delta from 2 does not apply"),
                new Message.Csr(11, SpiffeId.parse("spiffe://cluster.local/ns/a/sa/b"), csr),
                new Message.Cert(11, List.of(leaf), List.of(CA.certificate())),
                new Message.Refused(12, "NO_POD_ON_NODE", "no pod"), new Message.Ping(-1), new Message.Pong(5),
                new Message.GoAway("shutting down"), new Message.ErrorFrame("bad token ü"));
        for (Message m : all) {
            assertThat(decode(frame(m))).as(m.type().name()).isEqualTo(m);
        }
    }

    @Test
    void snapshotAndDeltaRoundTrip() throws Exception {
        var mesh = new RandomMesh(1);
        MeshConfig a = mesh.config(5, 3, 40, 5, 4);
        MeshConfig b = mesh.mutate(a);
        var snapshot = (Message.Snapshot) decode(frame(new Message.Snapshot(77, List.of(CA.certificate()), a)));
        assertThat(snapshot.epoch()).isEqualTo(77);
        assertThat(snapshot.trustBundle()).containsExactly(CA.certificate());
        assertThat(RandomMesh.content(snapshot.config())).isEqualTo(RandomMesh.content(a));

        var delta = new Message.Delta(77, null, MeshDelta.diff(a, b));
        assertThat(decode(frame(delta))).isEqualTo(delta);
        var withBundle = new Message.Delta(77, List.of(CA.certificate()), MeshDelta.diff(a, b));
        assertThat(decode(frame(withBundle))).isEqualTo(withBundle);
    }

    @Test
    void everyTruncationIsAProtocolErrorNamingAField() {
        var mesh = new RandomMesh(2);
        byte[] f = frame(new Message.Snapshot(1, List.of(CA.certificate()), mesh.config(3, 2, 6, 2, 2)));
        for (int cut = 5; cut < f.length; cut++) {
            ByteBuf buf = Unpooled.wrappedBuffer(f, 4, cut - 4);
            try {
                assertThatThrownBy(() -> Frames.decode(buf)).as("cut at " + cut)
                        .isInstanceOf(ProtocolException.class)
                        .hasMessageMatching("SNAPSHOT[.a-zA-Z\\[\\]0-9]*: .*\\(expected: .*\\)");
            } finally {
                buf.release();
            }
        }
    }

    @Test
    void unknownTypeTrailingBytesAndBadValuesAreNamed() {
        assertThatThrownBy(() -> decode(new byte[] {0, 0, 0, 1, 99}))
                .isInstanceOf(ProtocolException.class).hasMessage("frame type: 99 (expected: 1-15)");
        assertThatThrownBy(() -> decode(new byte[] {0, 0, 0, 10, 4, 0, 0, 0, 0, 0, 0, 0, 1, 0}))
                .hasMessage("ACK: 1 trailing bytes (expected: none)");
        assertThatThrownBy(() -> Frames.checkLength(70_000_000L, Frames.MAX_FRAME_SIZE))
                .hasMessage("frame length: 70000000 (expected: 1-67108864)");
        assertThatThrownBy(() -> Frames.checkLength(0, 100)).hasMessage("frame length: 0 (expected: 1-100)");

        // a service port of 0, written by hand: the model's own rule, reported with the field path
        var svc = new Service("ns", "s", List.of(RandomMesh.ip(198, 19, 1, 1)), List.of(new Service.Port("p", 80, 80)), List.of());
        var cfg = new MeshConfig(1, new MeshSnapshot(1, List.of(), List.of(), List.of(svc)), new PolicySet(1, List.of(), List.of()));
        byte[] f = frame(new Message.Snapshot(1, List.of(), cfg));
        // the port field sits right after the port name "p": find "00000001 70 0050" and zero the port
        String hex = ByteBufUtil.hexDump(f);
        int at = hex.indexOf("00000001700050") / 2 + 5;
        f[at] = 0;
        f[at + 1] = 0;
        assertThatThrownBy(() -> decode(f)).isInstanceOf(ProtocolException.class)
                .hasMessage("SNAPSHOT.services[0].ports[0]: port: 0 (expected: 1-65535)");

        // a count larger than the frame can hold is refused before anything is allocated
        byte[] g = frame(new Message.Snapshot(1, List.of(), MeshConfig.EMPTY));
        g[4 + 1 + 16 + 4] = 0x7f; // length, type, epoch, version, trustBundle.count, then nodes.count's high byte
        assertThatThrownBy(() -> decode(g)).isInstanceOf(ProtocolException.class)
                .hasMessageStartingWith("SNAPSHOT.nodes.count: ");
    }
}
