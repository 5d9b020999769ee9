package dev.tessera.controller.push;

import dev.tessera.api.push.MeshDelta;
import dev.tessera.api.push.Message;
import dev.tessera.api.push.ProtocolException;
import dev.tessera.api.push.ProtocolVersions;
import dev.tessera.controller.identity.AgentAuthenticator;
import dev.tessera.controller.identity.RefusalReason;
import dev.tessera.controller.identity.SvidIssuer;
import dev.tessera.controller.identity.SvidRefusedException;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.DecoderException;
import io.netty.handler.ssl.SslHandshakeCompletionEvent;
import io.netty.handler.timeout.IdleState;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.util.ReferenceCountUtil;
import java.net.InetSocketAddress;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One agent's connection: HELLO and token authentication (off the event loop, on the HELLO threads), the initial sync (snapshot,
 * or the deltas since the agent's version), then every published delta while the channel is writable; a
 * connection that falls behind skips ahead with one catch-up (deltas or a snapshot) when it drains. CSRs
 * are signed off the event loop, on the CSR threads. A malformed frame closes only this connection.
 */
final class AgentSession extends ChannelInboundHandlerAdapter {

    /**
     * Largest frame an unauthenticated peer may send: a HELLO (a service-account token of a few KB). 100
     * strangers each sending most of a 1 MiB frame before HELLO took the controller from 136 to 341 MB.
     */
    static final int PRE_HELLO_MAX_FRAME = 16 * 1024;
    /** Largest frame once the agent authenticated (CSRs, acknowledgements). */
    static final int AUTHENTICATED_MAX_FRAME = 1024 * 1024;

    private static final Logger log = LoggerFactory.getLogger(AgentSession.class);
    private static final int MAX_QUEUED = 64;
    private static final int MAX_CSRS_IN_FLIGHT = 256;

    private enum State { AWAIT_HELLO, AUTHENTICATING, ACTIVE, CLOSED }

    private final ConfigHub hub;
    private final PushCounters counters;
    private final AgentAuthenticator authenticator;
    private final SvidIssuer issuer;
    private final Executor hellos;
    private final Executor csrs;
    private final Runnable authenticatedCallback;
    private final PushServerConfig config;
    private final List<Message> queued = new ArrayList<>();
    private final AtomicInteger csrsInFlight = new AtomicInteger();
    private Channel channel;
    private State state = State.AWAIT_HELLO;
    private ScheduledFuture<?> helloTimeout;
    private String token;
    private long sentVersion = -1;
    private boolean behind;
    private long drainedAt = System.nanoTime(); // when the socket last took bytes owed to this agent
    private volatile String node;
    private volatile Instant since;
    private volatile long ackedVersion = -1;
    private volatile int protocolVersion; // negotiated at HELLO
    private volatile long bundleHeld; // the trust-bundle generation the agent is known to have applied (0: none)
    private final java.util.Map<Long, Long> bundlePings = new java.util.HashMap<>(); // nonce -> generation; loop only
    private long[] snapshotBundle; // {version, bundle generation} of the last snapshot written, until ACKed; loop only
    private long pingNonces = java.util.concurrent.ThreadLocalRandom.current().nextLong();

    AgentSession(ConfigHub hub, PushCounters counters, AgentAuthenticator authenticator, SvidIssuer issuer,
            Executor hellos, Executor csrs, PushServerConfig config, Runnable onAuthenticated) {
        this.hub = hub;
        this.counters = counters;
        this.authenticator = authenticator;
        this.issuer = issuer;
        this.hellos = hellos;
        this.csrs = csrs;
        this.authenticatedCallback = onAuthenticated;
        this.config = config;
    }

    /** What the server reports about this connection. */
    PushServer.ConnectedAgent describe() {
        return new PushServer.ConnectedAgent(node, (InetSocketAddress) channel.remoteAddress(), since, ackedVersion,
                protocolVersion);
    }

    boolean active() {
        return node != null && state == State.ACTIVE;
    }

    String node() {
        return node;
    }

    /** The protocol version negotiated at HELLO (0 before). */
    int protocolVersion() {
        return protocolVersion;
    }

    long ackedVersion() {
        return ackedVersion;
    }

    /** The trust-bundle generation this agent answered for (its PONG came after that bundle), 0 if none yet. */
    long bundleHeld() {
        return bundleHeld;
    }

    /** Called by the hub (any thread) with a new trust bundle. */
    void offerBundle(List<X509Certificate> bundle, long generation) {
        try {
            channel.eventLoop().execute(() -> {
                if (state != State.ACTIVE || !channel.isActive() || sentVersion < 0) {
                    return; // the snapshot still to come carries the bundle (and its ACK says it was applied)
                }
                // A bundle-only DELTA (no object changes, from and to the version sent): agents of every protocol
                // version apply it; written even when the socket is full, it is small.
                channel.write(new Message.Delta(hub.epoch(), bundle, emptyDelta(sentVersion)));
                pingAfterBundle(generation);
            });
        } catch (RejectedExecutionException e) {
            // the loop is shutting down: nothing to tell
        }
    }

    private static MeshDelta emptyDelta(long version) {
        return new MeshDelta(version, version, List.of(), List.of(), List.of(), List.of(), List.of(), List.of(),
                List.of(), List.of(), List.of(), List.of());
    }

    /** The agent handles frames in order: its PONG to this PING means it applied everything written before. */
    private void pingAfterBundle(long generation) {
        long nonce = ++pingNonces;
        bundlePings.put(nonce, generation);
        channel.writeAndFlush(new Message.Ping(nonce));
    }

    Channel channel() {
        return channel;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) throws Exception {
        channel = ctx.channel();
        counters.connection();
        // The HELLO deadline starts once TLS is up (see userEventTriggered): a handshake waiting for event
        // loops busy streaming snapshots to a thousand agents is bounded by the SslHandler's own timeout.
        super.channelActive(ctx);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) throws Exception {
        state = State.CLOSED;
        cancelHelloTimeout();
        hub.unregister(this);
        super.channelInactive(ctx);
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (!(msg instanceof Message m)) {
            ReferenceCountUtil.release(msg);
            return;
        }
        switch (state) {
            case AWAIT_HELLO -> hello(m);
            case AUTHENTICATING -> {
                if (queued.size() >= MAX_QUEUED) {
                    protocolError("more than " + MAX_QUEUED + " frames before HELLO was answered (expected: wait)");
                } else {
                    queued.add(m);
                }
            }
            case ACTIVE -> handle(m);
            case CLOSED -> { }
        }
    }

    private void hello(Message m) {
        if (!(m instanceof Message.Hello h)) {
            protocolError("first frame: " + m.type() + " (expected: HELLO)");
            return;
        }
        ProtocolVersions.Range served = config.protocolVersions();
        int chosen = ProtocolVersions.negotiate(served, h.versions());
        if (chosen < 0) {
            // before authenticating: cheap, and what each side speaks is no secret
            counters.versionRefused(h.versions().min() > served.max() ? "newer" : "older");
            reject("PROTOCOL_VERSION", ProtocolVersions.refusal(served, h.versions()));
            return;
        }
        protocolVersion = chosen;
        state = State.AUTHENTICATING;
        channel.config().setAutoRead(false);
        try {
            hellos.execute(() -> {
                try {
                    AgentAuthenticator.Agent agent = authenticator.authenticate(h.token());
                    channel.eventLoop().execute(() -> authenticated(h, agent));
                } catch (SvidRefusedException e) {
                    channel.eventLoop().execute(() -> reject(e.reason().name(), e.getMessage()));
                } catch (RuntimeException e) {
                    log.warn("authenticating node {} failed", h.node(), e);
                    channel.eventLoop().execute(() -> reject("TOKEN_REVIEW_FAILED", String.valueOf(e.getMessage())));
                }
            });
        } catch (RejectedExecutionException e) {
            if (shutDown(hellos)) {
                reject("SHUTTING_DOWN", "the controller is shutting down");
            } else {
                refuse("HELLO_QUEUE_FULL", "too many agents authenticating at once (expected: reconnect with backoff)");
            }
        }
    }

    private static boolean shutDown(Executor e) {
        return e instanceof java.util.concurrent.ExecutorService s && s.isShutdown();
    }

    private void authenticated(Message.Hello h, AgentAuthenticator.Agent agent) {
        if (state != State.AUTHENTICATING) {
            return;
        }
        if (!agent.node().equals(h.node())) {
            reject("NODE_MISMATCH", "HELLO names node '" + h.node() + "' but the token belongs to the agent of node '"
                    + agent.node() + "' (expected: the node the agent runs on)");
            return;
        }
        cancelHelloTimeout();
        authenticatedCallback.run(); // no longer a stranger: its place among the unauthenticated is free
        var decoder = channel.pipeline().get(dev.tessera.api.push.FrameDecoder.class);
        if (decoder != null) {
            decoder.maxFrameSize(AUTHENTICATED_MAX_FRAME);
        }
        token = h.token();
        node = h.node();
        since = Instant.now();
        state = State.ACTIVE;
        if (protocolVersion >= 2) { // a version-1 agent gets exactly the frames it always got: no WELCOME
            ProtocolVersions.Range served = config.protocolVersions();
            // flushed on its own: the catch-up below writes (and flushes) nothing while no state exists yet
            channel.writeAndFlush(new Message.Welcome(protocolVersion, served.min(), served.max()));
        }
        write(hub.register(this, h.epoch() == hub.epoch(), h.version()));
        log.info("agent of node {} connected from {} (protocol {} of the agent's {}, resume epoch {} version {}, now at {})",
                node, channel.remoteAddress(), protocolVersion, h.versions(), h.epoch(), h.version(), sentVersion);
        channel.config().setAutoRead(true);
        var pending = new ArrayList<>(queued);
        queued.clear();
        pending.forEach(this::handle);
    }

    private void handle(Message m) {
        if (m instanceof Message.Ack a) {
            ackedVersion = Math.max(ackedVersion, a.version());
            if (snapshotBundle != null && a.version() >= snapshotBundle[0]) {
                bundleHeld = Math.max(bundleHeld, snapshotBundle[1]);
                snapshotBundle = null;
            }
        } else if (m instanceof Message.Nack n) {
            counters.nack();
            log.warn("agent of node {} could not apply version {}: {}; sending a snapshot", node, n.version(), n.error());
            behind = true;
            sentVersion = -1;
            catchUp(false);
        } else if (m instanceof Message.Csr c) {
            csr(c);
        } else if (m instanceof Message.Ping p) {
            channel.writeAndFlush(new Message.Pong(p.nonce()));
        } else if (m instanceof Message.Pong p) {
            Long generation = bundlePings.remove(p.nonce());
            if (generation != null && generation > bundleHeld) {
                bundleHeld = generation;
            }
        } else if (m instanceof Message.ErrorFrame e) {
            log.warn("agent of node {} reports an error and closes: {}", node, e.reason());
            channel.close();
        } else {
            protocolError("unexpected " + m.type() + " from an agent (expected: ACK, NACK, CSR, PING, PONG or ERROR)");
        }
    }

    private void csr(Message.Csr c) {
        counters.csr();
        if (csrsInFlight.incrementAndGet() > MAX_CSRS_IN_FLIGHT) {
            csrsInFlight.decrementAndGet();
            counters.refused("CSR_PER_AGENT_LIMIT");
            channel.writeAndFlush(new Message.Refused(c.requestId(), "TOO_MANY_REQUESTS",
                    "more than " + MAX_CSRS_IN_FLIGHT + " certificate requests in flight (expected: retry later)"));
            return;
        }
        String bearer = token;
        try {
            csrs.execute(() -> {
                Message answer;
                try {
                    SvidIssuer.Issued issued = issuer.issue(c.csr(), c.id(), bearer);
                    // The bundle is the hub's as of the write, on the event loop: never older than a bundle DELTA
                    // written before it (a root rotation must not see an agent go back to an older bundle).
                    List<X509Certificate> chain = issued.chain();
                    channel.eventLoop().execute(() -> channel.writeAndFlush(
                            new Message.Cert(c.requestId(), chain, hub.trustBundle())));
                    return;
                } catch (SvidRefusedException e) {
                    if (e.reason() == RefusalReason.TOKEN_INVALID || e.reason() == RefusalReason.TOKEN_MISSING) {
                        // The session's token expired (projected tokens rotate; sessions outlive them): the
                        // agent reconnects with the token file's current one and re-sends its pending CSRs.
                        log.info("agent of node {}: session token no longer valid ({}); asking it to reconnect", node,
                                e.getMessage());
                        goAway("bearer token no longer valid: reconnect with a fresh token");
                        return;
                    }
                    answer = new Message.Refused(c.requestId(), e.reason().name(), e.getMessage());
                } catch (RuntimeException e) {
                    log.warn("signing {} for node {} failed", c.id(), node, e);
                    answer = new Message.Refused(c.requestId(), "INTERNAL", String.valueOf(e.getMessage()));
                } finally {
                    csrsInFlight.decrementAndGet();
                }
                channel.writeAndFlush(answer);
            });
        } catch (RejectedExecutionException e) {
            csrsInFlight.decrementAndGet();
            if (!shutDown(csrs)) {
                counters.refused("CSR_QUEUE_FULL");
                channel.writeAndFlush(new Message.Refused(c.requestId(), "TOO_MANY_REQUESTS",
                        "the controller's certificate queue is full (expected: retry later)"));
            }
        }
    }

    /** Called by the hub (any thread) with a retained delta frame from {@code from} to {@code to}. */
    void offer(long from, long to, ByteBuf frame) {
        try {
            channel.eventLoop().execute(() -> deliver(from, to, frame));
        } catch (RejectedExecutionException e) {
            frame.release();
        }
    }

    private void deliver(long from, long to, ByteBuf frame) {
        if (state != State.ACTIVE || !channel.isActive() || to <= sentVersion) {
            frame.release();
            return;
        }
        if (!behind && from == sentVersion && channel.isWritable()) {
            sentVersion = to;
            counters.deltaSent();
            channel.writeAndFlush(frame, channel.voidPromise());
            return;
        }
        frame.release();
        behind = true;
        if (channel.isWritable()) {
            catchUp(true);
        }
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) throws Exception {
        if (ctx.channel().isWritable()) {
            drainedAt = System.nanoTime();
        }
        if (ctx.channel().isWritable() && behind && state == State.ACTIVE) {
            catchUp(true);
        }
        super.channelWritabilityChanged(ctx);
    }

    private void catchUp(boolean sameEpoch) {
        write(hub.catchUp(node, protocolVersion, sameEpoch && sentVersion >= 0, sentVersion));
    }

    private void write(ConfigHub.CatchUp c) {
        if (!c.frames().isEmpty()) {
            for (ByteBuf f : c.frames()) {
                if (c.snapshot()) {
                    counters.snapshotSent();
                    // sliced by the pipeline's ChunkedWriteHandler as the socket drains, in order with the rest
                    channel.write(new SnapshotSlices(f, () -> drainedAt = System.nanoTime()));
                } else {
                    counters.deltaSent();
                    channel.write(f, channel.voidPromise());
                }
            }
            if (c.snapshot()) {
                // its ACK (of this version or a later one, applied after it) says the agent holds that bundle
                snapshotBundle = new long[] {c.version(), c.bundleGeneration()};
            }
            channel.flush();
        }
        sentVersion = c.version();
        behind = sentVersion < 0 && hub.current().version() > 0;
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
        if (evt instanceof SslHandshakeCompletionEvent hs && !hs.isSuccess()) {
            counters.rejected("TLS");
            log.debug("TLS handshake with {} failed: {}", ctx.channel().remoteAddress(), hs.cause().toString());
            ctx.close();
        } else if (evt instanceof SslHandshakeCompletionEvent && state == State.AWAIT_HELLO && helloTimeout == null) {
            helloTimeout = ctx.executor().schedule(() -> reject("HELLO_TIMEOUT", "no HELLO within "
                    + config.helloTimeout().toMillis() + " ms"), config.helloTimeout().toMillis(), TimeUnit.MILLISECONDS);
        } else if (evt instanceof IdleStateEvent idle) {
            if (idle.state() == IdleState.WRITER_IDLE && state == State.ACTIVE) {
                ctx.writeAndFlush(new Message.Ping(System.nanoTime()));
            } else if (idle.state() == IdleState.READER_IDLE) {
                // An agent cannot answer before its snapshot is in: while its socket keeps taking the slices, it
                // is not silent (1,000 agents syncing at once share the controller's CPU for tens of seconds).
                if (System.nanoTime() - drainedAt < 3 * config.pingInterval().toNanos()) {
                    log.debug("agent of node {} silent while a large write to it still drains; waiting", node);
                } else {
                    log.info("agent of node {} silent for too long; closing", node);
                    ctx.close();
                }
            }
        }
        super.userEventTriggered(ctx, evt);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (cause instanceof DecoderException && cause.getCause() instanceof ProtocolException p) {
            protocolError(p.getMessage());
        } else if (cause instanceof DecoderException && cause.getCause() instanceof javax.net.ssl.SSLException) {
            ctx.close(); // counted by the handshake event
        } else {
            log.debug("connection of node {} from {} failed: {}", node, ctx.channel().remoteAddress(), cause.toString());
            ctx.close();
        }
    }

    private void protocolError(String message) {
        if (state == State.CLOSED) {
            return;
        }
        counters.malformedFrame();
        log.warn("closing connection of node {} from {}: protocol error: {}", node, channel.remoteAddress(), message);
        close(new Message.ErrorFrame("protocol error: " + message));
    }

    private void reject(String reason, String message) {
        if (state == State.CLOSED || state == State.ACTIVE) {
            return;
        }
        counters.rejected(reason);
        log.warn("refused agent connection from {}: {}: {}", channel.remoteAddress(), reason, message);
        close(new Message.ErrorFrame(reason + ": " + message));
    }

    /** Overload, not a bad peer: counted apart from rejections, answered {@code OVERLOADED} and closed. */
    private void refuse(String reason, String message) {
        if (state == State.CLOSED || state == State.ACTIVE) {
            return;
        }
        counters.refused(reason);
        log.info("refused agent connection from {}: {}: {}", channel.remoteAddress(), reason, message);
        close(new Message.ErrorFrame("OVERLOADED: " + reason + ": " + message));
    }

    private void close(Message last) {
        state = State.CLOSED;
        cancelHelloTimeout();
        hub.unregister(this);
        queued.clear();
        channel.config().setAutoRead(false);
        channel.writeAndFlush(last).addListener(ChannelFutureListener.CLOSE);
    }

    /** Says goodbye (controller shutting down). */
    void goAway(String reason) {
        channel.eventLoop().execute(() -> {
            if (state != State.CLOSED) {
                close(new Message.GoAway(reason));
            }
        });
    }

    private void cancelHelloTimeout() {
        if (helloTimeout != null) {
            helloTimeout.cancel(false);
            helloTimeout = null;
        }
    }
}
