package dev.tessera.api.push;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tessera.api.push.ProtocolVersions.Range;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import org.junit.jupiter.api.Test;

/** Version negotiation (a pure function) and the strictness of the version fields on the wire. */
class ProtocolVersionsTest {

    private static byte[] frame(Message m) {
        return ProtocolV1GoldenTest.encode(m);
    }

    private static Message decode(byte[] frame) throws ProtocolException {
        return ProtocolV1GoldenTest.decode(frame);
    }

    /** A frame of {@code type} with {@code payloadHex} as its payload. */
    private static byte[] raw(FrameType type, String payloadHex) {
        byte[] payload = ByteBufUtil.decodeHexDump(payloadHex);
        ByteBuf b = Unpooled.buffer();
        try {
            b.writeInt(1 + payload.length).writeByte(type.code()).writeBytes(payload);
            return ByteBufUtil.getBytes(b);
        } finally {
            b.release();
        }
    }

    /** HELLO's fields after protocolVersion: node "n1", token "tok", epoch 7, version 9. */
    private static final String HELLO_REST = "00000002" + "6e31" + "00000003" + "746f6b" + "0000000000000007"
            + "0000000000000009";

    @Test
    void negotiationPicksTheHighestCommonVersion() {
        assertThat(ProtocolVersions.negotiate(new Range(1, 2), new Range(1, 1))).isEqualTo(1);
        assertThat(ProtocolVersions.negotiate(new Range(1, 2), new Range(2, 2))).isEqualTo(2);
        assertThat(ProtocolVersions.negotiate(new Range(1, 2), new Range(2, 7))).isEqualTo(2);
        assertThat(ProtocolVersions.negotiate(new Range(1, 2), new Range(1, 9))).isEqualTo(2);
        assertThat(ProtocolVersions.negotiate(new Range(3, 5), new Range(1, 4))).isEqualTo(4);
        assertThat(ProtocolVersions.negotiate(new Range(1, 2), new Range(7, 7))).isEqualTo(-1);
        assertThat(ProtocolVersions.negotiate(new Range(4, 5), new Range(1, 1))).isEqualTo(-1);
    }

    @Test
    void thisBuildsControllerServesTodaysAgentsAndTheVersionsBefore() {
        assertThat(ProtocolVersions.CONTROLLER).isEqualTo(new Range(1, 4));
        assertThat(ProtocolVersions.AGENT).isEqualTo(new Range(4, 4));
        assertThat(ProtocolVersions.negotiate(ProtocolVersions.CONTROLLER, ProtocolVersions.AGENT)).isEqualTo(4);
        assertThat(ProtocolVersions.negotiate(ProtocolVersions.CONTROLLER, new Range(3, 3))).isEqualTo(3);
        assertThat(ProtocolVersions.negotiate(ProtocolVersions.CONTROLLER, new Range(2, 2))).isEqualTo(2);
        assertThat(ProtocolVersions.negotiate(ProtocolVersions.CONTROLLER, new Range(1, 1))).isEqualTo(1);
    }

    @Test
    void refusalsNameBothRangesAndWhatToUpgrade() {
        assertThat(ProtocolVersions.refusal(new Range(1, 2), new Range(7, 7))).isEqualTo(
                "agent speaks protocol versions 7, this controller 1-2 (expected: an agent speaking one of 1-2; upgrade"
                        + " the controller first: it must speak protocol 7 or newer (a controller serves agents of its own"
                        + " protocol version and of at least the one before))");
        assertThat(ProtocolVersions.refusal(new Range(4, 5), new Range(1, 2))).isEqualTo(
                "agent speaks protocol versions 1-2, this controller 4-5 (expected: an agent speaking one of 4-5;"
                        + " upgrade the agent: this controller no longer serves protocol 2 or older)");
        assertThat(ProtocolVersions.agentRefusal(new Range(2, 2), 5, new Range(5, 6))).isEqualTo(
                "controller chose protocol version 5 (it speaks 5-6), this agent speaks 2 (expected: a controller"
                        + " speaking one of 2; upgrade the agent)");
    }

    @Test
    void helloOfVersion2AppendsItsLowestVersion() throws Exception {
        var h = new Message.Hello(2, 1, "n1", "tok", 7, 9);
        assertThat(ByteBufUtil.hexDump(frame(h))).isEqualTo("00000022" + "01" + "0002" + HELLO_REST + "0001");
        assertThat(decode(frame(h))).isEqualTo(h);
        assertThat(((Message.Hello) decode(frame(h))).versions()).isEqualTo(new Range(1, 2));
    }

    @Test
    void helloOfVersion1KeepsItsLayoutAndItsStrictness() throws Exception {
        var h = new Message.Hello(1, "n1", "tok", 7, 9);
        assertThat(ByteBufUtil.hexDump(frame(h))).isEqualTo("00000020" + "01" + "0001" + HELLO_REST);
        assertThat(((Message.Hello) decode(frame(h))).versions()).isEqualTo(new Range(1, 1));
        assertThatThrownBy(() -> decode(raw(FrameType.HELLO, "0001" + HELLO_REST + "0001")))
                .isInstanceOf(ProtocolException.class).hasMessage("HELLO: 2 trailing bytes (expected: none)");
    }

    @Test
    void malformedVersionFieldsAreNamed() {
        assertThatThrownBy(() -> decode(raw(FrameType.HELLO, "0000" + HELLO_REST)))
                .isInstanceOf(ProtocolException.class).hasMessage("HELLO.protocolVersion: 0 (expected: 1-65535)");
        assertThatThrownBy(() -> decode(raw(FrameType.HELLO, "0002" + HELLO_REST)))
                .isInstanceOf(ProtocolException.class)
                .hasMessage("HELLO.minProtocolVersion: truncated (expected: 2 more bytes, got 0)");
        assertThatThrownBy(() -> decode(raw(FrameType.HELLO, "0002" + HELLO_REST + "00")))
                .hasMessage("HELLO.minProtocolVersion: truncated (expected: 2 more bytes, got 1)");
        assertThatThrownBy(() -> decode(raw(FrameType.HELLO, "0002" + HELLO_REST + "0000")))
                .hasMessage("HELLO.minProtocolVersion: 0 (expected: 1-2, at most HELLO.protocolVersion)");
        assertThatThrownBy(() -> decode(raw(FrameType.HELLO, "0002" + HELLO_REST + "0003")))
                .hasMessage("HELLO.minProtocolVersion: 3 (expected: 1-2, at most HELLO.protocolVersion)");
        assertThatThrownBy(() -> decode(raw(FrameType.HELLO, "0002" + HELLO_REST + "0002ff")))
                .hasMessage("HELLO: 1 trailing bytes (expected: none)");
        assertThatThrownBy(() -> decode(raw(FrameType.WELCOME, "0001" + "0001" + "0002")))
                .hasMessage("WELCOME.protocolVersion: 1 (expected: 2-65535; version 1 has no WELCOME)");
        assertThatThrownBy(() -> decode(raw(FrameType.WELCOME, "0002" + "0003" + "0002")))
                .hasMessage("WELCOME.minProtocolVersion: 3 (expected: 1-2, at most WELCOME.maxProtocolVersion)");
        assertThatThrownBy(() -> decode(raw(FrameType.WELCOME, "0002" + "0001")))
                .hasMessage("WELCOME.maxProtocolVersion: truncated (expected: 2 more bytes, got 0)");
        assertThatThrownBy(() -> decode(raw(FrameType.WELCOME, "0002" + "0001" + "0002" + "00")))
                .hasMessage("WELCOME: 1 trailing bytes (expected: none)");
    }

    @Test
    void aNewerAgentsHelloDecodesForNegotiationWhateverItAppends() throws Exception {
        // version 7's HELLO may have fields after minProtocolVersion: the prefix still names the versions
        var h = (Message.Hello) decode(raw(FrameType.HELLO, "0007" + HELLO_REST + "0007" + "cafe0123"));
        assertThat(h.versions()).isEqualTo(new Range(7, 7));
        assertThat(h.node()).isEqualTo("n1");
    }

    @Test
    void welcomeRoundTripsAndIsAVersion2Frame() throws Exception {
        var w = new Message.Welcome(2, 1, 2);
        assertThat(ByteBufUtil.hexDump(frame(w))).isEqualTo("00000007" + "0d" + "0002" + "0001" + "0002");
        assertThat(decode(frame(w))).isEqualTo(w);
        assertThat(FrameType.WELCOME.since()).isEqualTo(2);
        for (FrameType t : FrameType.values()) {
            int since = t == FrameType.WELCOME ? 2 : t == FrameType.NODE_SNAPSHOT || t == FrameType.NODE_DELTA ? 3 : 1;
            assertThat(t.since()).as(t.name()).isEqualTo(since);
        }
    }
}
