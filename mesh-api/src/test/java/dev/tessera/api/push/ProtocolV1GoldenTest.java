package dev.tessera.api.push;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/**
 * Protocol version 1 exactly as it was on the wire before version negotiation existed: the frames in
 * {@code src/test/resources/dev/tessera/api/push/v1/} were written by the version-1 encoder (commit
 * 95cb222) and are never regenerated. Whatever the protocol becomes, these bytes must still decode, and
 * the same messages must still encode to exactly these bytes, because an agent of version 1 sends and
 * expects nothing else.
 */
class ProtocolV1GoldenTest {

    /** The frame (length field included) stored as {@code v1/<name>.hex}. */
    static byte[] golden(String name) throws IOException {
        try (InputStream in = ProtocolV1GoldenTest.class.getResourceAsStream("v1/" + name + ".hex")) {
            assertThat(in).as("v1/" + name + ".hex").isNotNull();
            String hex = new String(in.readAllBytes(), StandardCharsets.US_ASCII).replaceAll("\\s", "");
            return ByteBufUtil.decodeHexDump(hex);
        }
    }

    static Message decode(byte[] frame) throws ProtocolException {
        ByteBuf buf = Unpooled.wrappedBuffer(frame);
        try {
            assertThat(buf.readUnsignedInt()).isEqualTo(frame.length - Frames.LENGTH_FIELD);
            return Frames.decode(buf);
        } finally {
            buf.release();
        }
    }

    static byte[] encode(Message m) {
        ByteBuf buf = Unpooled.buffer();
        try {
            Frames.encode(m, buf);
            return ByteBufUtil.getBytes(buf);
        } finally {
            buf.release();
        }
    }

    /** Byte equality, failing with the first differing offset and the bytes around it (frames are long). */
    static void assertSameBytes(String what, byte[] actual, byte[] expected) {
        int n = Math.min(actual.length, expected.length);
        int at = 0;
        while (at < n && actual[at] == expected[at]) {
            at++;
        }
        if (at == n && actual.length == expected.length) {
            return;
        }
        int from = Math.max(0, at - 16);
        throw new AssertionError(what + ": differs at byte " + at + " of " + expected.length + " (got " + actual.length
                + "): expected ..." + ByteBufUtil.hexDump(expected, from, Math.min(expected.length, at + 16) - from)
                + "..., got ..." + ByteBufUtil.hexDump(actual, from, Math.min(actual.length, at + 16) - from) + "...");
    }

    @Test
    void helloOfVersion1DecodesAndReEncodesByteForByte() throws Exception {
        byte[] f = golden("hello");
        Message m = decode(f);
        assertThat(m).isInstanceOf(Message.Hello.class);
        var h = (Message.Hello) m;
        assertThat(h.protocolVersion()).isEqualTo(1);
        assertThat(h.node()).isEqualTo("node1");
        assertThat(h.token()).isEqualTo("token-of-node1-0123456789");
        assertThat(encode(h)).isEqualTo(f);
    }

    @Test
    void snapshotDeltaAndAckOfVersion1DecodeAndReEncodeByteForByte() throws Exception {
        for (String name : new String[] {"snapshot", "delta", "ack"}) {
            byte[] f = golden(name);
            Message m = decode(f);
            assertThat(m.type().name()).isEqualToIgnoringCase(name);
            assertSameBytes(name, encode(m), f);
        }
    }

    @Test
    void theSameMessagesStillEncodeToTheGoldenBytes() throws Exception {
        // RandomMesh(15) made the captured state (one node, pod and service: several of each are written in the iteration order
        // of Map.copyOf, which varies between JVM runs). If RandomMesh changes, this test changes, never the files.
        var mesh = new RandomMesh(15);
        MeshConfig a = mesh.config(5, 1, 1, 1, 3);
        MeshConfig b = mesh.mutate(a);
        var snapshot = (Message.Snapshot) decode(golden("snapshot"));
        assertSameBytes("snapshot", encode(new Message.Snapshot(7, snapshot.trustBundle(), a)), golden("snapshot"));
        assertThat(encode(new Message.Delta(7, null, MeshDelta.diff(a, b)))).isEqualTo(golden("delta"));
        assertThat(encode(new Message.Ack(b.version()))).isEqualTo(golden("ack"));
        assertThat(encode(new Message.Hello(1, "node1", "token-of-node1-0123456789", 0, 0))).isEqualTo(golden("hello"));
    }
}
