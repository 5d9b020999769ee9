package dev.tessera.agent.hbone;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tessera.agent.netty.Listeners;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http2.DefaultHttp2DataFrame;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.DefaultHttp2HeadersFrame;
import io.netty.handler.codec.http2.DefaultHttp2WindowUpdateFrame;
import io.netty.handler.codec.http2.Http2ChannelDuplexHandler;
import io.netty.handler.codec.http2.Http2DataFrame;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2FrameStream;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.handler.codec.http2.Http2Settings;
import io.netty.util.ReferenceCountUtil;
import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The HTTP/2 codecs of both tunnel ends. {@link Hbone#MAX_FRAME_SIZE}: both ends advertise it, so one relayed read of
 * up to {@link Listeners#MAX_READ} (256 KiB) crosses the tunnel as one DATA frame in each direction; toward a peer that advertises HTTP/2's
 * default, frames keep to 16 KiB. {@link Hbone#withoutCopies}: DATA frames that arrive in reads of any size, split
 * anywhere (as TLS reads split them), come out whole and in order, every buffer released (paranoid leak detection),
 * and a frame that spans reads is a view of those reads rather than a copy.
 */
class HboneFramesTest {

    /** Opens streams on the client's codec. */
    private static final class Opener extends Http2ChannelDuplexHandler {}

    /**
     * Keeps the size and bytes of every DATA frame, whether any arrived as a view over more than one read, and the
     * stream of the last HEADERS frame.
     */
    private static final class Frames extends ChannelInboundHandlerAdapter {
        final List<Integer> data = new ArrayList<>();
        final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        boolean viewOverReads;
        Http2FrameStream stream;

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            try {
                if (msg instanceof Http2HeadersFrame h) {
                    stream = h.stream();
                } else if (msg instanceof Http2DataFrame f) {
                    ByteBuf c = f.content();
                    data.add(c.readableBytes());
                    viewOverReads |= c.nioBufferCount() > 1; // a copy would be one contiguous buffer
                    bytes.writeBytes(ByteBufUtil.getBytes(c));
                }
            } finally {
                ReferenceCountUtil.release(msg);
            }
        }
    }

    private final Opener opener = new Opener();
    private final Frames atClient = new Frames();
    private final Frames atServer = new Frames();
    private EmbeddedChannel client;
    private EmbeddedChannel server;

    @AfterEach
    void tearDown() {
        client.finishAndReleaseAll();
        server.finishAndReleaseAll();
    }

    private void connect(Http2Settings serverSettings) {
        client = new EmbeddedChannel(Hbone.withoutCopies(
                Http2FrameCodecBuilder.forClient().initialSettings(Hbone.clientSettings()).build()), opener, atClient);
        server = new EmbeddedChannel(Hbone.withoutCopies(
                Http2FrameCodecBuilder.forServer().initialSettings(serverSettings).build()), atServer);
        // the tunnel's water mark, as on the real channels (HbonePool, HboneServer): HTTP/2's flow controller sizes a
        // frame by what the channel takes before it turns unwritable (64 KiB at Netty's default)
        client.config().setWriteBufferWaterMark(Listeners.WATER_MARK);
        server.config().setWriteBufferWaterMark(Listeners.WATER_MARK);
        pump();
    }

    /** Carries bytes both ways until neither end has anything more to say (SETTINGS, their ACKs, frames). */
    private void pump() {
        boolean moved = true;
        while (moved) {
            moved = move(client, server) | move(server, client);
        }
    }

    private static boolean move(EmbeddedChannel from, EmbeddedChannel to) {
        boolean moved = false;
        for (Object o; (o = from.readOutbound()) != null; ) {
            to.writeInbound((ByteBuf) o);
            moved = true;
        }
        return moved;
    }

    private static ByteBuf bytes(int n) {
        return Unpooled.directBuffer(n).writeZero(n);
    }

    @Test
    void theLargestRelayedReadIsOneFrameEachWay() {
        connect(Hbone.serverSettings());
        // as both ends' pipelines do (TunnelConnection, HboneServer): the connection window beyond HTTP/2's 64 KiB
        client.writeAndFlush(new DefaultHttp2WindowUpdateFrame(Hbone.CONNECTION_WINDOW - 65_535));
        server.writeAndFlush(new DefaultHttp2WindowUpdateFrame(Hbone.CONNECTION_WINDOW - 65_535));
        pump();
        Http2FrameStream stream = opener.newStream();
        client.writeAndFlush(new DefaultHttp2HeadersFrame(new DefaultHttp2Headers().method("CONNECT")
                .authority("198.18.2.10:8080"), false).stream(stream));
        client.writeAndFlush(new DefaultHttp2DataFrame(bytes(Listeners.MAX_READ), false).stream(stream));
        pump();
        assertThat(atServer.data).containsExactly(Listeners.MAX_READ);

        server.writeAndFlush(new DefaultHttp2HeadersFrame(new DefaultHttp2Headers().status("200"), false)
                .stream(atServer.stream));
        server.writeAndFlush(new DefaultHttp2DataFrame(bytes(Listeners.MAX_READ), false).stream(atServer.stream));
        pump();
        assertThat(atClient.data).containsExactly(Listeners.MAX_READ);
    }

    @Test
    void aPeerThatAdvertisesTheDefaultGetsFramesOfItsSize() {
        connect(new Http2Settings().initialWindowSize(Hbone.STREAM_WINDOW)); // an HBONE server of HTTP/2's defaults
        Http2FrameStream stream = opener.newStream();
        client.writeAndFlush(new DefaultHttp2HeadersFrame(new DefaultHttp2Headers().method("CONNECT")
                .authority("198.18.2.10:8080"), false).stream(stream));
        client.writeAndFlush(new DefaultHttp2DataFrame(bytes(65_536), false).stream(stream));
        pump();
        assertThat(atServer.data).containsExactly(16_384, 16_384, 16_384, 16_384);
    }

    @Test
    void framesSplitAcrossReadsArriveWholeInOrderAndWithoutACopy() {
        connect(new Http2Settings()); // HTTP/2's defaults: 16 KiB frames, 64 KiB windows
        byte[] payload = new byte[60_000]; // below the initial 64 KiB windows: no WINDOW_UPDATE needed
        new Random(7).nextBytes(payload);
        Http2FrameStream stream = opener.newStream();
        client.writeAndFlush(new DefaultHttp2HeadersFrame(new DefaultHttp2Headers().method("CONNECT")
                .authority("198.18.2.10:8080"), false).stream(stream));
        client.writeAndFlush(new DefaultHttp2DataFrame(Unpooled.wrappedBuffer(payload), false).stream(stream));
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

        assertThat(atServer.stream).as("the HEADERS frame").isNotNull();
        assertThat(atServer.data).containsExactly(16_384, 16_384, 16_384, 10_848);
        assertThat(atServer.bytes.toByteArray()).isEqualTo(payload);
        assertThat(atServer.viewOverReads).as("a frame spanning reads is a view over them, not a copy").isTrue();
    }
}
