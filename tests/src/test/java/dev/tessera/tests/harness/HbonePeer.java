package dev.tessera.tests.harness;

import static java.util.Objects.requireNonNull;

import dev.tessera.agent.hbone.Hbone;
import dev.tessera.api.identity.CertificateAuthority;
import dev.tessera.api.identity.SpiffeId;
import dev.tessera.api.netns.Netns;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.codec.http2.DefaultHttp2HeadersFrame;
import io.netty.handler.codec.http2.DefaultHttp2ResetFrame;
import io.netty.handler.codec.http2.Http2ChannelDuplexHandler;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2FrameCodec;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2FrameStream;
import io.netty.handler.codec.http2.Http2GoAwayFrame;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.handler.codec.http2.Http2SettingsFrame;
import io.netty.handler.ssl.ApplicationProtocolConfig;
import io.netty.handler.ssl.ApplicationProtocolNames;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslHandshakeCompletionEvent;
import io.netty.handler.ssl.util.InsecureTrustManagerFactory;
import io.netty.util.ReferenceCountUtil;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * A hand-driven HBONE client for hostile-peer tests: TLS 1.3 with a client certificate of any SPIFFE id,
 * minted by the cluster's local root CA ({@code <state>/ca}; the controller issues through an intermediate of
 * that root, so a certificate the root signs directly chains to the same trust bundle), then raw HTTP/2 frames.
 * Sockets are opened inside a given network namespace (a node's or a pod's). It does not check the server's
 * certificate: it is the attacker, not a victim.
 */
public final class HbonePeer implements AutoCloseable {

    private final EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    private final CertificateAuthority ca;

    private HbonePeer(CertificateAuthority ca) {
        this.ca = ca;
    }

    /** A peer minting its certificates from the root CA in {@code caDir}. */
    public static HbonePeer withCa(Path caDir) throws IOException {
        return new HbonePeer(CertificateAuthority.load(caDir));
    }

    /**
     * Opens a TLS connection from {@code netns} to {@code server} presenting a fresh certificate for {@code as},
     * asking (SNI) for {@code destination}'s identity. The returned connection is still in its handshake.
     */
    public Connection connect(Path netns, InetSocketAddress server, SpiffeId as, SpiffeId destination)
            throws IOException {
        return connect(netns, server, as, destination, null);
    }

    /** As {@link #connect(Path, InetSocketAddress, SpiffeId, SpiffeId)}, opening a CONNECT to {@code holdTo} (if
     * not null) as soon as the server's SETTINGS arrive, so the connection is never without a stream. */
    public Connection connect(Path netns, InetSocketAddress server, SpiffeId as, SpiffeId destination,
            InetSocketAddress holdTo) throws IOException {
        requireNonNull(as, "as");
        SslContext ssl;
        try {
            KeyPair kp = CertificateAuthority.newKeyPair();
            X509Certificate leaf = ca.sign(CertificateAuthority.csr(kp, as), as, Duration.ofHours(1));
            ssl = SslContextBuilder.forClient().keyManager(kp.getPrivate(), leaf)
                    .trustManager(InsecureTrustManagerFactory.INSTANCE).protocols("TLSv1.3")
                    .applicationProtocolConfig(new ApplicationProtocolConfig(ApplicationProtocolConfig.Protocol.ALPN,
                            ApplicationProtocolConfig.SelectorFailureBehavior.NO_ADVERTISE,
                            ApplicationProtocolConfig.SelectedListenerFailureBehavior.ACCEPT,
                            ApplicationProtocolNames.HTTP_2))
                    .build();
        } catch (javax.net.ssl.SSLException e) {
            throw new IOException("client TLS context for " + as + ": " + e.getMessage(), e);
        }
        var conn = new Connection(holdTo);
        var b = new Bootstrap().group(group).channel(NioSocketChannel.class)
                .option(io.netty.channel.ChannelOption.CONNECT_TIMEOUT_MILLIS, 5000)
                .handler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        ch.pipeline().addLast(ssl.newHandler(ch.alloc(), destination.serverName(), server.getPort()));
                        ch.pipeline().addLast(conn.handshake);
                    }
                });
        // The socket is created by the calling thread (NioSocketChannel's constructor): inside netns.
        conn.channel = Netns.call(netns, () -> b.connect(server).channel());
        return conn;
    }

    @Override
    public void close() {
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly(5, TimeUnit.SECONDS);
    }

    /** One connection and what the server did with it. */
    public static final class Connection implements AutoCloseable {
        private volatile Channel channel;
        private volatile Http2FrameCodec codec;
        /** Completes when the server's SETTINGS arrive: it accepted the peer and speaks HTTP/2. */
        public final CompletableFuture<Void> settings = new CompletableFuture<>();
        /** The error code of the server's first GOAWAY. */
        public final CompletableFuture<Long> goAway = new CompletableFuture<>();
        /** CONNECT responses by stream id: the {@code :status}. */
        public final ConcurrentHashMap<Integer, String> statuses = new ConcurrentHashMap<>();
        /** When the server's first GOAWAY arrived ({@link System#nanoTime()}). */
        public volatile long goAwayAt;
        /** The first exception this client's pipeline saw (it then closed the connection), or null. */
        public volatile Throwable failure;
        private final InetSocketAddress holdTo;

        private Connection(InetSocketAddress holdTo) {
            this.holdTo = holdTo;
        }

        private final ChannelInboundHandlerAdapter handshake = new ChannelInboundHandlerAdapter() {
            @Override
            public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
                if (evt instanceof SslHandshakeCompletionEvent hs && hs.isSuccess()) {
                    codec = Http2FrameCodecBuilder.forClient().initialSettings(Hbone.clientSettings()).build();
                    ctx.pipeline().addLast(codec, frames);
                    ctx.pipeline().remove(this);
                } else {
                    ctx.fireUserEventTriggered(evt);
                }
            }

            @Override
            public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                if (failure == null) {
                    failure = cause;
                }
                ctx.close();
            }
        };

        private final Http2ChannelDuplexHandler frames = new Http2ChannelDuplexHandler() {
            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                try {
                    if (msg instanceof Http2SettingsFrame) {
                        if (holdTo != null && !settings.isDone()) {
                            ctx.writeAndFlush(new DefaultHttp2HeadersFrame(Hbone.connectRequest(holdTo, null), false)
                                    .stream(frames.newStream()));
                        }
                        settings.complete(null);
                    } else if (msg instanceof Http2GoAwayFrame g) {
                        if (!goAway.isDone()) {
                            goAwayAt = System.nanoTime();
                        }
                        goAway.complete(g.errorCode());
                    } else if (msg instanceof Http2HeadersFrame h && h.headers().status() != null) {
                        statuses.put(h.stream().id(), h.headers().status().toString());
                    }
                } finally {
                    ReferenceCountUtil.release(msg);
                }
            }

            @Override
            public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                if (failure == null) {
                    failure = cause;
                }
                ctx.close();
            }
        };

        public Channel channel() {
            return channel;
        }

        public boolean isOpen() {
            return channel.isActive();
        }

        /** Opens one CONNECT stream to {@code target}; its answer lands in {@link #statuses}. Returns its id. */
        public int connect(InetSocketAddress target) throws Exception {
            return channel.eventLoop().submit(() -> {
                Http2FrameStream s = frames.newStream();
                channel.writeAndFlush(new DefaultHttp2HeadersFrame(Hbone.connectRequest(target, null), false).stream(s));
                return s.id();
            }).get(5, TimeUnit.SECONDS);
        }

        /**
         * HTTP/2 rapid reset (CVE-2023-44487): {@code n} CONNECT requests to {@code target}, each cancelled by
         * RST_STREAM right after its HEADERS, written in one burst.
         */
        public void rapidReset(InetSocketAddress target, int n) throws Exception {
            channel.eventLoop().submit(() -> {
                for (int i = 0; i < n && channel.isActive(); i++) {
                    Http2FrameStream s = frames.newStream();
                    channel.write(new DefaultHttp2HeadersFrame(Hbone.connectRequest(target, null), false).stream(s));
                    channel.write(new DefaultHttp2ResetFrame(Http2Error.CANCEL).stream(s));
                    if (i % 100 == 99) {
                        channel.flush();
                    }
                }
                channel.flush();
            }).get(30, TimeUnit.SECONDS);
        }

        @Override
        public void close() {
            if (channel != null) {
                channel.close().awaitUninterruptibly(2, TimeUnit.SECONDS);
            }
        }
    }
}
