package dev.tessera.agent.inbound;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tessera.agent.hbone.ConnectRequest;
import dev.tessera.agent.hbone.Hbone;
import dev.tessera.agent.hbone.TunnelException;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http2.DefaultHttp2DataFrame;
import io.netty.handler.codec.http2.DefaultHttp2HeadersFrame;
import io.netty.handler.codec.http2.Http2DataFrame;
import io.netty.handler.codec.http2.Http2FrameCodec;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2GoAwayFrame;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.handler.codec.http2.Http2MultiplexHandler;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.handler.codec.http2.Http2StreamChannelBootstrap;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.Promise;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The HBONE server's drain GOAWAY against the race every upgrade runs into: a client that opened a stream
 * (CONNECT in flight) before the GOAWAY reached it, then cancels that stream. Both ends are real Netty HTTP/2
 * codecs; the bytes between them are moved by hand so the frames cross in exactly that order. The server's
 * long-lived stream on the same connection must survive: one unknown-stream RST_STREAM used to be a
 * connection error (PROTOCOL_ERROR) that cut every tunnelled connection sharing the TLS connection.
 */
class DrainGoAwayTest {

    private final EmbeddedChannel server = new EmbeddedChannel();
    private final EmbeddedChannel client = new EmbeddedChannel();
    private final List<String> serverData = new ArrayList<>();
    private final List<String> clientGoAways = new ArrayList<>();
    private final List<Promise<Http2StreamChannel>> connects = new ArrayList<>();

    @AfterEach
    void close() {
        client.finishAndReleaseAll();
        server.finishAndReleaseAll();
    }

    @Test
    void aStreamCancelledAcrossTheDrainGoAwayDoesNotCutTheOthers() {
        server.pipeline().addLast(Http2FrameCodecBuilder.forServer().initialSettings(Hbone.serverSettings()).build(),
                new Http2MultiplexHandler(new ChannelInitializer<Http2StreamChannel>() {
                    @Override
                    protected void initChannel(Http2StreamChannel stream) {
                        stream.pipeline().addLast(new ChannelInboundHandlerAdapter() {
                            @Override
                            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                                if (msg instanceof Http2HeadersFrame) {
                                    ctx.writeAndFlush(new DefaultHttp2HeadersFrame(Hbone.accepted(), false));
                                } else if (msg instanceof Http2DataFrame d) {
                                    serverData.add(d.content().toString(StandardCharsets.UTF_8));
                                }
                                ReferenceCountUtil.release(msg);
                            }
                        });
                    }
                }));
        client.pipeline().addLast(Http2FrameCodecBuilder.forClient().initialSettings(Hbone.clientSettings()).build(),
                new Http2MultiplexHandler(new ChannelInboundHandlerAdapter()), new ChannelInboundHandlerAdapter() {
                    @Override
                    public void channelRead(ChannelHandlerContext ctx, Object msg) {
                        if (msg instanceof Http2GoAwayFrame g) {
                            clientGoAways.add(g.lastStreamId() + "/" + g.errorCode());
                        }
                        ReferenceCountUtil.release(msg);
                    }
                });
        pump();

        Http2StreamChannel longLived = connect();
        pump();
        longLived.writeAndFlush(new DefaultHttp2DataFrame(utf8("before")));
        pump();
        assertThat(serverData).containsExactly("before");

        // The server starts draining while the client's next CONNECT is already on its way.
        server.writeAndFlush(HboneServer.drainNotice());
        connect();
        moveBytes(client, server); // the server reads the CONNECT after its GOAWAY
        moveBytes(server, client); // the client reads the GOAWAY
        pump();

        assertThat(connects.get(0).isSuccess()).as("the long-lived CONNECT was answered").isTrue();
        assertThat(connects.get(1).isDone()).as("the in-flight CONNECT ended").isTrue();
        assertThat(connects.get(1).isSuccess() || connects.get(1).cause() instanceof TunnelException te
                && te.unprocessed()).as("the in-flight CONNECT: served, or failed as retryable (%s)",
                connects.get(1).cause()).isTrue();

        assertThat(clientGoAways).as("GOAWAY seen by the client").hasSize(1);
        assertThat(server.isActive()).as("the draining server's connection").isTrue();
        assertThat(server.pipeline().get(Http2FrameCodec.class).connection().goAwaySent()).isTrue();
        longLived.writeAndFlush(new DefaultHttp2DataFrame(utf8("after")));
        pump();
        assertThat(serverData).as("the long-lived stream after the GOAWAY").containsExactly("before", "after");
    }

    /** Opens a stream with the agent's own CONNECT handler (which gives up on a stream above a GOAWAY). */
    private Http2StreamChannel connect() {
        Promise<Http2StreamChannel> answered = client.eventLoop().newPromise();
        connects.add(answered);
        return new Http2StreamChannelBootstrap(client)
                .handler(new ConnectRequest(new InetSocketAddress("198.18.2.3", 7000), null, answered, 5_000))
                .open().syncUninterruptibly().getNow();
    }

    private void pump() {
        for (int i = 0; i < 10; i++) {
            if (!moveBytes(client, server) & !moveBytes(server, client)) {
                return;
            }
        }
    }

    /** Moves what {@code from} wrote to {@code to}'s input; false if there was nothing. */
    private static boolean moveBytes(EmbeddedChannel from, EmbeddedChannel to) {
        from.runPendingTasks();
        boolean moved = false;
        for (Object o; (o = from.readOutbound()) != null; ) {
            moved = true;
            if (to.isActive()) {
                to.writeInbound(o);
            } else {
                ReferenceCountUtil.release(o);
            }
        }
        to.runPendingTasks();
        return moved;
    }

    private static ByteBuf utf8(String s) {
        return Unpooled.copiedBuffer(s, StandardCharsets.UTF_8);
    }
}
