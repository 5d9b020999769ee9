package dev.tessera.agent.hbone;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http2.DefaultHttp2DataFrame;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.DefaultHttp2HeadersFrame;
import io.netty.handler.codec.http2.Http2DataFrame;
import io.netty.handler.codec.http2.Http2ChannelDuplexHandler;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2FrameStream;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.util.ReferenceCountUtil;
import java.io.ByteArrayOutputStream;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * {@link Hbone#withoutCopies}: DATA frames that arrive in reads of any size, split anywhere (as TLS reads split
 * them), come out whole and in order, every buffer released (paranoid leak detection), and a frame that spans reads
 * is a view of those reads rather than a copy.
 */
class HboneFrameReadsTest {

    /** Opens streams on the client's codec. */
    private static final class Opener extends Http2ChannelDuplexHandler {}

    private final Opener opener = new Opener();
    private final EmbeddedChannel client = new EmbeddedChannel(Http2FrameCodecBuilder.forClient().build(), opener);
    private final Collector received = new Collector();
    private final EmbeddedChannel server = new EmbeddedChannel(
            Hbone.withoutCopies(Http2FrameCodecBuilder.forServer().build()), received);

    @AfterEach
    void tearDown() {
        client.finishAndReleaseAll();
        server.finishAndReleaseAll();
    }

    /** Keeps the payload of every DATA frame, and whether any arrived as a view over more than one read. */
    private static final class Collector extends ChannelInboundHandlerAdapter {
        final ByteArrayOutputStream data = new ByteArrayOutputStream();
        int frames;
        boolean viewOverReads;
        boolean headers;

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            try {
                if (msg instanceof Http2HeadersFrame) {
                    headers = true;
                } else if (msg instanceof Http2DataFrame f) {
                    frames++;
                    ByteBuf c = f.content();
                    viewOverReads |= c.nioBufferCount() > 1; // a copy would be one contiguous buffer
                    data.writeBytes(ByteBufUtil.getBytes(c));
                }
            } finally {
                ReferenceCountUtil.release(msg);
            }
        }
    }

    @Test
    void framesSplitAcrossReadsArriveWholeInOrderAndWithoutACopy() {
        byte[] payload = new byte[60_000]; // below the initial 64 KiB windows: no WINDOW_UPDATE needed
        new Random(7).nextBytes(payload);
        Http2FrameStream stream = opener.newStream();
        client.writeAndFlush(new DefaultHttp2HeadersFrame(new DefaultHttp2Headers().method("CONNECT")
                .authority("198.18.2.10:8080"), false).stream(stream));
        for (int off = 0; off < payload.length; off += 16_384) { // the default SETTINGS_MAX_FRAME_SIZE
            int n = Math.min(16_384, payload.length - off);
            client.writeAndFlush(new DefaultHttp2DataFrame(Unpooled.wrappedBuffer(payload, off, n), false)
                    .stream(stream));
        }
        ByteBuf wire = Unpooled.buffer();
        for (Object o; (o = client.readOutbound()) != null; ) {
            ByteBuf b = (ByteBuf) o;
            wire.writeBytes(b);
            b.release();
        }
        // reads of odd sizes, none aligned with a frame: 9-byte headers and payloads split everywhere
        int[] sizes = {1, 7, 24, 100, 5_000, 16_384, 3, 11_000, 16_393};
        for (int i = 0; wire.isReadable(); i++) {
            int n = Math.min(sizes[i % sizes.length], wire.readableBytes());
            ByteBuf read = server.alloc().directBuffer(n);
            wire.readBytes(read, n);
            server.writeInbound(read);
        }
        wire.release();

        assertThat(received.headers).isTrue();
        assertThat(received.frames).isEqualTo(4);
        assertThat(received.data.toByteArray()).isEqualTo(payload);
        assertThat(received.viewOverReads).as("a frame spanning reads is a view over them, not a copy").isTrue();
    }
}
