package dev.tessera.agent.inbound;

import static java.util.Objects.requireNonNull;

import dev.tessera.agent.config.AgentConfig;
import dev.tessera.agent.connection.ConnectionContext.Direction;
import dev.tessera.agent.connection.ConnectionListener;
import dev.tessera.agent.hbone.Hbone;
import dev.tessera.agent.hbone.HbonePool;
import dev.tessera.agent.identity.IdentityProvider;
import dev.tessera.agent.netty.Delivery;
import dev.tessera.agent.netty.EventLoops;
import dev.tessera.agent.netty.Listener;
import dev.tessera.agent.netty.Listeners;
import dev.tessera.agent.policy.InboundGate;
import dev.tessera.agent.state.StateStore;
import dev.tessera.agent.tls.SpiffeCertificates;
import dev.tessera.agent.tls.TlsContexts;
import dev.tessera.api.identity.SpiffeId;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.handler.codec.http2.DefaultHttp2GoAwayFrame;
import io.netty.handler.codec.http2.DefaultHttp2WindowUpdateFrame;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2Exception;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2GoAwayFrame;
import io.netty.handler.codec.http2.Http2MultiplexHandler;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.handler.ssl.SniCompletionEvent;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslHandshakeCompletionEvent;
import io.netty.util.AttributeKey;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.GlobalEventExecutor;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The HBONE server on {@code nodeIp:inboundPort} (15008): TLS 1.3 with a required, validated client
 * certificate, the server certificate chosen by SNI among this node's identities, then HTTP/2 CONNECT
 * streams each relayed to a meshed pod of this node ({@link ConnectStream}).
 */
public final class HboneServer implements AutoCloseable {

    /** The verified SPIFFE id of the client (the source workload) on an accepted TLS connection. */
    public static final AttributeKey<SpiffeId> PEER_IDENTITY = AttributeKey.valueOf("tessera.peerIdentity");
    /** The local identity the client connected to (chosen by SNI). */
    public static final AttributeKey<SpiffeId> LOCAL_IDENTITY = AttributeKey.valueOf("tessera.localIdentity");

    private static final Logger log = LoggerFactory.getLogger(HboneServer.class);
    private static final long HANDSHAKE_TIMEOUT_MILLIS = 10_000;
    /**
     * HTTP/2 rapid reset guard (CVE-2023-44487): a connection on which the peer resets more streams than this
     * within {@link #RST_WINDOW_SECONDS} is closed with GOAWAY(ENHANCE_YOUR_CALM). Netty's default (200 per 30 s)
     * is tighter, but an agent resets a stream whenever its pod aborts a connection, and one pooled tunnel
     * carries a whole node's connections to one identity: tripping the guard cuts every stream on it. An attack
     * sends thousands per second and is still cut within its first second. The same bound applies to the resets
     * this server sends (Netty's "made you reset" guard, also 200 per 30 s by default), which every pod abort
     * or refused CONNECT costs.
     */
    static final int MAX_RST_PER_WINDOW = 1000;
    static final int RST_WINDOW_SECONDS = 10;

    private final AgentConfig config;
    private final StateStore state;
    private final TlsContexts tls;
    private final ConnectionListener listener;
    private final EventLoops loops;
    private final ChannelGroup connections = new DefaultChannelGroup("hbone", GlobalEventExecutor.INSTANCE);
    private final Delivery upstream;
    private final Listener socket = new Listener("HBONE server");
    private volatile InboundGate gate = InboundGate.OPEN;
    private volatile boolean draining;
    /** HTTP/2 PING after this long without a frame from the peer; closed after twice as long. */
    private volatile Duration keepaliveAfter = Duration.ofSeconds(30);
    /** A connection without streams this long is drained (GOAWAY, then closed). */
    private volatile Duration idleTimeout = Duration.ofMinutes(10);
    /**
     * TLS connections one peer (source identity from one address) may hold: its pool opens one per
     * destination identity and event loop (at most a few), and a drain briefly doubles that.
     */
    private final int maxConnectionsPerPeer = 32;
    private final PeerConnections peers = new PeerConnections();
    private final AtomicLong refusedPeerLimit = new AtomicLong();
    private final AtomicLong closedIdle = new AtomicLong();
    private final AtomicLong closedSilent = new AtomicLong();
    private final AtomicLong refusedTrustDomain = new AtomicLong();
    private final AtomicLong closedFlood = new AtomicLong();
    private final AtomicLong closedProtocolError = new AtomicLong();

    /** The pod dialer (transparent once the composition root gives it the kernel's registry). */
    public Delivery delivery() {
        return upstream;
    }

    public HboneServer(AgentConfig config, StateStore state, IdentityProvider identities,
            ConnectionListener listener, EventLoops loops) {
        this(config, state, new TlsContexts(requireNonNull(identities, "identities")), listener, loops);
    }

    /** A server sharing TLS contexts with other components. */
    public HboneServer(AgentConfig config, StateStore state, TlsContexts tls, ConnectionListener listener,
            EventLoops loops) {
        this.config = requireNonNull(config, "config");
        this.state = requireNonNull(state, "state");
        this.tls = requireNonNull(tls, "tls");
        this.listener = requireNonNull(listener, "listener");
        this.loops = requireNonNull(loops, "loops");
        this.upstream = new Delivery(loops, HbonePool.CONNECT_TIMEOUT_MILLIS);
        this.idleTimeout = config.hboneIdleTimeout();
    }

    /** The policy stage CONNECTs pass before the pod is dialled (default: {@link InboundGate#OPEN}). */
    public void useInboundGate(InboundGate gate) {
        this.gate = requireNonNull(gate, "gate");
    }

    /**
     * Binds {@code nodeIp:inboundPort}.
     *
     * @throws IllegalStateException naming the address when the port cannot be bound
     */
    public synchronized void start() {
        start(-1);
    }

    /**
     * Adopts {@code adoptedFd}, a listening socket on {@code nodeIp:inboundPort} handed over by the previous agent,
     * or binds when it is negative.
     */
    public synchronized void start(int adoptedFd) {
        InetSocketAddress bind = new InetSocketAddress(config.nodeIp(), config.inboundPort());
        var b = Listeners.paused(loops)
                .childOption(ChannelOption.WRITE_BUFFER_WATER_MARK, Listeners.WATER_MARK)
                .childHandler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        connections.add(ch);
                        ch.pipeline().addLast("sni", new IdentitySniHandler(config.nodeName(), state, tls,
                                HANDSHAKE_TIMEOUT_MILLIS));
                        ch.pipeline().addLast("hbone-handshake", new Handshake());
                    }
                });
        socket.start(b, bind, adoptedFd);
        log.info("HBONE server listening on {} ({}, TLS {})", socket.localAddress(), loops, tls.sslProvider());
    }

    /**
     * Starts accepting connections (they queue in the listen backlog from {@link #start()} on). Called once
     * the agent is ready to serve them: state loaded, programs attached, certificates present.
     */
    public synchronized void acceptConnections() {
        socket.acceptConnections();
    }

    /** The listening socket's descriptor, for a handoff to the next agent (epoll only). */
    public synchronized int listenerFd() {
        return socket.fd();
    }

    /** The bound address (after {@link #start()}). */
    public synchronized InetSocketAddress localAddress() {
        return socket.localAddress();
    }

    /** Open TLS connections from peer agents. */
    public int connections() {
        return connections.size();
    }

    /** Sets the keepalive PING interval and the idle timeout of connections without streams (tests; before start). */
    void keepalive(Duration pingAfter, Duration idle) {
        this.keepaliveAfter = requireNonNull(pingAfter, "pingAfter");
        this.idleTimeout = requireNonNull(idle, "idle");
    }

    /**
     * Connections this server ended or refused, by reason: {@code peer_limit} (over the per-peer cap),
     * {@code idle} (no stream for the idle timeout), {@code peer_silent} (no answer to a keepalive PING),
     * {@code trust_domain} (a client certificate of another trust domain), {@code flood} (an HTTP/2 flood guard
     * answered ENHANCE_YOUR_CALM, e.g. rapid reset: too many RST_STREAM per window), {@code protocol_error} (any
     * other HTTP/2 connection error from the peer).
     */
    public Map<String, Long> refusals() {
        return Map.of("peer_limit", refusedPeerLimit.get(), "idle", closedIdle.get(),
                "peer_silent", closedSilent.get(), "trust_domain", refusedTrustDomain.get(),
                "flood", closedFlood.get(), "protocol_error", closedProtocolError.get());
    }

    /** Open connections per peer (source identity and address), capped at {@link #maxConnectionsPerPeer}. */
    private final class PeerConnections {
        private final Map<String, AtomicInteger> open = new ConcurrentHashMap<>();

        boolean admit(SpiffeId id, Channel ch) {
            String key = id + "@" + ((InetSocketAddress) ch.remoteAddress()).getAddress().getHostAddress();
            var n = open.computeIfAbsent(key, k -> new AtomicInteger());
            if (n.incrementAndGet() > maxConnectionsPerPeer) {
                release(key, n);
                return false;
            }
            ch.closeFuture().addListener(f -> release(key, n));
            return true;
        }

        private void release(String key, AtomicInteger n) {
            if (n.decrementAndGet() <= 0) {
                open.remove(key, n);
            }
        }
    }

    /**
     * Stops accepting and sends the drain notice ({@link #drainNotice}) on every connection: peers open their
     * next streams on a new connection (which the next agent accepts after a handoff); every stream already
     * open or on its way keeps running. Then call {@link #drainStep} periodically.
     */
    public void stopAcceptingAndGoAway() {
        stopAccepting();
        draining = true;
        drainStep();
    }

    /**
     * One draining step, for every connection on its own event loop: the drain notice to connections that
     * have not had it (e.g. their TLS handshake ended after the drain began); once it is a second old (the
     * peer has seen it and stopped opening streams here) the final GOAWAY; and connections without an
     * active stream are closed. Connections whose streams still run are left alone.
     */
    public void drainStep() {
        long now = System.nanoTime();
        for (Channel ch : connections) {
            ch.eventLoop().execute(() -> drainStep(ch, now));
        }
    }

    private static void drainStep(Channel ch, long now) {
        if (!(ch.pipeline().get("h2") instanceof io.netty.handler.codec.http2.Http2FrameCodec h2)) {
            return; // still in its TLS handshake: the next step sends the notice
        }
        Long noticed = ch.attr(DRAIN_NOTICE_SENT).get();
        if (noticed == null) {
            ch.attr(DRAIN_NOTICE_SENT).set(now);
            ch.writeAndFlush(drainNotice());
        } else if (now - noticed > DRAIN_NOTICE_GRACE_NANOS) {
            if (h2.connection().remote().lastStreamKnownByPeer() == Integer.MAX_VALUE) { // only the notice so far
                ch.writeAndFlush(finalGoAway());
            }
            if (h2.connection().numActiveStreams() == 0) {
                ch.close();
            }
        }
    }

    /**
     * The GOAWAY that starts a drain: a shutdown notice whose last-stream-id is 2^31-1 (RFC 9113 section 6.8),
     * so the client opens no new stream on this connection but every stream already on its way is still
     * processed. A GOAWAY naming the last stream created so far races with those streams: the server
     * refuses them, the client cancels them, and Netty takes a RST_STREAM for a stream it never created as
     * a connection error (PROTOCOL_ERROR) that resets every other stream on the connection, i.e. the
     * long-lived connections a drain exists to keep. The final GOAWAY ({@link #finalGoAway}) follows once
     * the client had time to see this one.
     */
    static Http2GoAwayFrame drainNotice() {
        return new DefaultHttp2GoAwayFrame(Http2Error.NO_ERROR).setExtraStreamIds(Integer.MAX_VALUE);
    }

    /** The final GOAWAY of a drain: last-stream-id = the last stream this server created. */
    static Http2GoAwayFrame finalGoAway() {
        return new DefaultHttp2GoAwayFrame(Http2Error.NO_ERROR);
    }

    /** When the drain notice went out on a connection ({@link System#nanoTime()}). */
    private static final AttributeKey<Long> DRAIN_NOTICE_SENT = AttributeKey.valueOf("tessera.drainNoticeSent");
    /** How long after the drain notice the final GOAWAY follows and idle connections are closed. */
    private static final long DRAIN_NOTICE_GRACE_NANOS = TimeUnit.SECONDS.toNanos(1);

    /** Stops accepting; established tunnels keep running (see {@link #stopAcceptingAndGoAway}). */
    public void stopAccepting() {
        socket.close();
    }

    /**
     * Stops accepting and closes every connection, cutting the streams still open on them (the end of a
     * drain), as {@code OutboundProxy.close()} does for its side.
     */
    @Override
    public void close() {
        stopAccepting();
        connections.close().awaitUninterruptibly(2, TimeUnit.SECONDS);
    }

    /** Verifies the client after the TLS handshake and switches the pipeline to HTTP/2. */
    private final class Handshake extends ChannelInboundHandlerAdapter {
        private boolean failed;

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            if (failed) {
                return; // one failure is reported once, whichever event names it first
            }
            if (evt instanceof SniCompletionEvent sni && !sni.isSuccess()) {
                log.debug("HBONE handshake from {} refused: {}", ctx.channel().remoteAddress(), sni.cause().getMessage());
                fail(ctx);
                return;
            }
            if (!(evt instanceof SslHandshakeCompletionEvent hs)) {
                ctx.fireUserEventTriggered(evt);
                return;
            }
            if (!hs.isSuccess()) {
                log.debug("HBONE handshake from {} failed: {}", ctx.channel().remoteAddress(), hs.cause().getMessage());
                fail(ctx);
                return;
            }
            SslHandler ssl = ctx.pipeline().get(SslHandler.class);
            Optional<SpiffeId> peer = SpiffeCertificates.peerIdentity(ssl.engine().getSession());
            if (peer.isEmpty()) {
                log.debug("HBONE client {} presented no SPIFFE id", ctx.channel().remoteAddress());
                fail(ctx);
                return;
            }
            if (!peer.get().trustDomain().equals(config.trustDomain())) {
                // A certificate the mesh CA signed for another trust domain names no workload of ours.
                log.debug("HBONE client {} presented {} (expected trust domain: {})", ctx.channel().remoteAddress(),
                        peer.get(), config.trustDomain());
                refusedTrustDomain.incrementAndGet();
                fail(ctx);
                return;
            }
            Channel ch = ctx.channel();
            if (!peers.admit(peer.get(), ch)) {
                log.debug("HBONE client {} as {}: over the limit of {} connections per peer", ch.remoteAddress(),
                        peer.get(), maxConnectionsPerPeer);
                refusedPeerLimit.incrementAndGet();
                fail(ctx);
                return;
            }
            listener.handshake(Direction.INBOUND, true);
            ch.attr(PEER_IDENTITY).set(peer.get());
            SpiffeId local = ch.attr(LOCAL_IDENTITY).get();
            InetSocketAddress remote = (InetSocketAddress) ch.remoteAddress();
            var h2 = Http2FrameCodecBuilder.forServer().initialSettings(Hbone.serverSettings())
                    .decoderEnforceMaxRstFramesPerWindow(MAX_RST_PER_WINDOW, RST_WINDOW_SECONDS)
                    .encoderEnforceMaxRstFramesPerWindow(MAX_RST_PER_WINDOW, RST_WINDOW_SECONDS).build();
            dev.tessera.agent.hbone.Hbone.withoutCopies(h2);
            ctx.pipeline().addLast("flush", dev.tessera.agent.hbone.Hbone.flushConsolidation());
            ctx.pipeline().addLast("h2", h2);
            ctx.pipeline().addLast("keepalive", new ConnectionKeepalive(h2.connection(), keepaliveAfter, idleTimeout,
                    why -> (why == ConnectionKeepalive.Closed.IDLE ? closedIdle : closedSilent).incrementAndGet()));
            ctx.pipeline().addLast("h2-mux", new Http2MultiplexHandler(new ChannelInitializer<Http2StreamChannel>() {
                @Override
                protected void initChannel(Http2StreamChannel stream) {
                    stream.pipeline().addLast("connect", new ConnectStream(config.nodeName(), state, listener,
                            upstream, local, peer.get(), remote, gate));
                }
            }));
            ctx.pipeline().addLast("h2-conn", new ConnectionFrames());
            ctx.pipeline().remove(this);
            ch.writeAndFlush(new DefaultHttp2WindowUpdateFrame(Hbone.CONNECTION_WINDOW - 65_535));
            if (draining) { // the handshake ended after the drain began
                drainStep(ch, System.nanoTime());
            }
        }

        private void fail(ChannelHandlerContext ctx) {
            failed = true;
            listener.handshake(Direction.INBOUND, false);
            ctx.close();
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }

    /**
     * Connection-level frames (SETTINGS, PING, GOAWAY) need nothing beyond the codec's own handling. A connection
     * error the codec raised (it has sent GOAWAY already) is counted once per connection by its kind.
     */
    private final class ConnectionFrames extends ChannelInboundHandlerAdapter {
        private boolean counted;

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ReferenceCountUtil.release(msg);
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            if (!counted && cause instanceof Http2Exception h2) {
                counted = true;
                if (h2.error() == Http2Error.ENHANCE_YOUR_CALM) {
                    closedFlood.incrementAndGet();
                    log.info("HBONE connection {} as {} closed: {}", ctx.channel().remoteAddress(),
                            ctx.channel().attr(PEER_IDENTITY).get(), h2.getMessage());
                } else {
                    closedProtocolError.incrementAndGet();
                }
            }
            log.debug("HBONE connection {} failed", ctx.channel().remoteAddress(), cause);
            ctx.close();
        }
    }
}
