package dev.tessera.agent.hbone;

import static java.util.Objects.requireNonNull;

import dev.tessera.agent.connection.CloseReason;
import dev.tessera.agent.connection.ConnectionContext.Direction;
import dev.tessera.agent.connection.ConnectionListener;
import dev.tessera.agent.tls.SpiffeCertificates;
import dev.tessera.api.identity.SpiffeId;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.handler.codec.http2.DefaultHttp2WindowUpdateFrame;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2GoAwayFrame;
import io.netty.handler.codec.http2.Http2MultiplexHandler;
import io.netty.handler.codec.http2.Http2SettingsFrame;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslHandshakeCompletionEvent;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * One pooled HBONE client connection: TCP to the destination node's agent, TLS 1.3 presenting the source
 * identity, a check that the server presented the destination identity, then HTTP/2 carrying many CONNECT
 * streams. Stream slots are reserved before the connection is ready, so concurrent callers wait for one
 * handshake instead of starting their own.
 */
final class TunnelConnection {

    /**
     * Streams assumed allowed until the server's SETTINGS arrive: what every HBONE server (an agent)
     * announces. It used to be RFC 9113's suggested floor of 100, so a burst of new connections before the
     * SETTINGS opened a tunnel per 100 streams; past the server's per-peer connection cap (32) the extra
     * tunnels were refused at accept and the streams waiting on them failed (bench/soak.sh, run 1). A server
     * announcing less lowers it on arrival.
     */
    private static final int INITIAL_MAX_STREAMS = Hbone.MAX_CONCURRENT_STREAMS;

    private final PoolKey key;
    private final EventLoop loop;
    private final Promise<Channel> ready;
    private final AtomicInteger streams = new AtomicInteger();
    private volatile int maxStreams = INITIAL_MAX_STREAMS;
    private volatile boolean usable = true;
    private final SslContext tls;

    /** @param tls the client context it will connect with (the pool retires it once that context is replaced) */
    TunnelConnection(PoolKey key, EventLoop loop, SslContext tls) {
        this.tls = tls;
        this.key = requireNonNull(key, "key");
        this.loop = requireNonNull(loop, "loop");
        this.ready = loop.newPromise();
    }

    SslContext tls() {
        return tls;
    }

    PoolKey key() {
        return key;
    }

    /** The event loop this connection (and every stream on it) runs on. */
    EventLoop loop() {
        return loop;
    }

    /** Completes with the HTTP/2-ready channel, or fails with a {@link TunnelException}. */
    Future<Channel> ready() {
        return ready;
    }

    /** Takes a stream slot if this connection can carry one more stream. */
    boolean tryReserve() {
        while (usable) {
            int n = streams.get();
            if (n >= maxStreams) {
                return false;
            }
            if (streams.compareAndSet(n, n + 1)) {
                return true;
            }
        }
        return false;
    }

    void release() {
        streams.decrementAndGet();
    }

    int streams() {
        return streams.get();
    }

    boolean usable() {
        return usable;
    }

    /** Stops new streams from using this connection (existing ones continue). */
    void retire() {
        usable = false;
    }

    /** Connects; {@code onClosed} runs once the channel is gone (or could not be opened). */
    void connect(Bootstrap template, SslContext tls, ConnectionListener listener, Runnable onClosed) {
        Bootstrap b = template.clone(loop)
                .handler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        SslHandler ssl = tls.newHandler(ch.alloc(), key.destination().serverName(), key.node().getPort());
                        ch.pipeline().addLast("tls", ssl).addLast("hbone-handshake", new Handshake(listener));
                    }
                });
        b.connect(key.node()).addListener((ChannelFutureListener) f -> {
            if (!f.isSuccess()) {
                usable = false;
                ready.tryFailure(new TunnelException(CloseReason.TUNNEL_CONNECT_FAILED, "connect to HBONE port of "
                        + key.node() + " failed (" + f.cause().getMessage()
                        + "); is the agent running there and port " + key.node().getPort() + " reachable?", f.cause()));
                onClosed.run();
                return;
            }
            f.channel().closeFuture().addListener(c -> {
                usable = false;
                ready.tryFailure(new TunnelException(CloseReason.TLS_HANDSHAKE_FAILED, key.node()
                        + " closed the connection during the TLS handshake (does that node run a meshed pod of "
                        + key.destination() + " and trust our root?)"));
                if (ready.isSuccess()) {
                    listener.tunnelClosed();
                }
                onClosed.run();
            });
        });
    }

    void close() {
        usable = false;
        if (ready.isSuccess()) {
            ready.getNow().close();
        } else {
            ready.addListener(f -> {
                if (f.isSuccess()) {
                    ((Channel) f.getNow()).close();
                }
            });
        }
    }

    /** Verifies the server's identity after the TLS handshake and switches the pipeline to HTTP/2. */
    private final class Handshake extends ChannelInboundHandlerAdapter {
        private final ConnectionListener listener;

        Handshake(ConnectionListener listener) {
            this.listener = listener;
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            if (!(evt instanceof SslHandshakeCompletionEvent hs)) {
                ctx.fireUserEventTriggered(evt);
                return;
            }
            if (!hs.isSuccess()) {
                fail(ctx, new TunnelException(CloseReason.TLS_HANDSHAKE_FAILED, "TLS handshake with "
                        + key.node() + " as " + key.destination() + " failed: " + hs.cause().getMessage(), hs.cause()));
                return;
            }
            SslHandler ssl = ctx.pipeline().get(SslHandler.class);
            Optional<SpiffeId> peer = SpiffeCertificates.peerIdentity(ssl.engine().getSession());
            if (peer.isEmpty() || !peer.get().equals(key.destination())) {
                fail(ctx, new TunnelException(CloseReason.PEER_IDENTITY_MISMATCH, key.node() + " presented "
                        + peer.map(SpiffeId::toString).orElse("no SPIFFE id") + " (expected: " + key.destination() + ")"));
                return;
            }
            listener.handshake(Direction.OUTBOUND, true);
            ctx.pipeline().addLast("flush", Hbone.flushConsolidation());
            ctx.pipeline().addLast("h2", Hbone.withoutCopies(
                    Http2FrameCodecBuilder.forClient().initialSettings(Hbone.clientSettings()).build()));
            ctx.pipeline().addLast("h2-mux", new Http2MultiplexHandler(new RefuseServerStreams()));
            ctx.pipeline().addLast("h2-state", new ConnectionState());
            ctx.pipeline().remove(this);
            ctx.channel().writeAndFlush(new DefaultHttp2WindowUpdateFrame(Hbone.CONNECTION_WINDOW - 65_535));
            listener.tunnelOpened();
            if (!ready.trySuccess(ctx.channel())) {
                ctx.close();
            }
        }

        private void fail(ChannelHandlerContext ctx, TunnelException e) {
            listener.handshake(Direction.OUTBOUND, false);
            usable = false;
            ready.tryFailure(e);
            ctx.close();
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            if (!ctx.channel().isActive() && cause instanceof java.nio.channels.NotYetConnectedException) {
                return; // an epoll event of the descriptor's previous owner, not of this dial (see QuietCloseHandler)
            }
            // The handshake event (if any) already carries TLS failures; anything else ends the connection.
            ctx.close();
        }
    }

    /** Tracks the server's stream limit and GOAWAY. */
    private final class ConnectionState extends ChannelInboundHandlerAdapter {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            try {
                if (msg instanceof Http2SettingsFrame s && s.settings().maxConcurrentStreams() != null) {
                    maxStreams = (int) Math.min(Integer.MAX_VALUE, s.settings().maxConcurrentStreams());
                } else if (msg instanceof Http2GoAwayFrame) {
                    usable = false;
                }
            } finally {
                ReferenceCountUtil.release(msg);
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            usable = false;
            ctx.close();
        }
    }

    /** HBONE servers never open streams; a server-initiated stream is closed at once. */
    @ChannelHandler.Sharable
    private static final class RefuseServerStreams extends ChannelInboundHandlerAdapter {
        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            ctx.close();
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ReferenceCountUtil.release(msg);
        }
    }
}
