package dev.tessera.api.push;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.DecoderException;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class FrameDecoderTest {

    @Test
    void framesSplitAnywhereDecodeTheSame() {
        var ch = new EmbeddedChannel(new FrameDecoder(1 << 20), FrameEncoder.INSTANCE);
        List<Message> sent = List.of(new Message.Hello(1, "n", "t".repeat(40), 0, 0), new Message.Ack(9),
                new Message.Ping(1), new Message.Nack(3, "x"));
        for (Message m : sent) {
            assertThat(ch.writeOutbound(m)).isTrue();
        }
        ByteBuf all = Unpooled.buffer();
        for (ByteBuf b; (b = ch.readOutbound()) != null; ) {
            all.writeBytes(b);
            b.release();
        }
        while (all.isReadable()) { // byte by byte
            ch.writeInbound(all.readRetainedSlice(1));
        }
        all.release();
        var got = new ArrayList<Message>();
        for (Object m; (m = ch.readInbound()) != null; ) {
            got.add((Message) m);
        }
        assertThat(got).isEqualTo(sent);
        assertThat(ch.finish()).isFalse();
    }

    @Test
    void anOversizedLengthFailsBeforeBuffering() {
        var ch = new EmbeddedChannel(new FrameDecoder(1024));
        ByteBuf b = Unpooled.buffer().writeInt(1025).writeByte(4);
        assertThatThrownBy(() -> ch.writeInbound(b)).isInstanceOf(DecoderException.class)
                .hasCauseInstanceOf(ProtocolException.class)
                .hasMessageContaining("frame length: 1025 (expected: 1-1024)");
        // everything after the error is discarded
        ch.writeInbound(Unpooled.buffer().writeInt(9).writeByte(4).writeLong(1));
        assertThat((Object) ch.readInbound()).isNull();
        ch.finishAndReleaseAll();
    }

    @Test
    void aTruncatedFieldInsideACompleteFrameIsNamed() {
        var ch = new EmbeddedChannel(new FrameDecoder(1024));
        ByteBuf b = Unpooled.buffer().writeInt(5).writeByte(4).writeInt(7); // ACK with 4 of its 8 bytes
        assertThatThrownBy(() -> ch.writeInbound(b)).hasCauseInstanceOf(ProtocolException.class)
                .hasMessageContaining("ACK.version: truncated (expected: 8 more bytes, got 4)");
        ch.finishAndReleaseAll();
    }
}
