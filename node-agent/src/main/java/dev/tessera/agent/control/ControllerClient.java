package dev.tessera.agent.control;

import static java.util.Objects.requireNonNull;

import dev.tessera.agent.config.ControllerAddress;
import dev.tessera.agent.netty.EventLoops;
import dev.tessera.api.identity.CertificateAuthority;
import dev.tessera.api.identity.SpiffeId;
import dev.tessera.api.push.FrameDecoder;
import dev.tessera.api.push.FrameEncoder;
import dev.tessera.api.push.Frames;
import dev.tessera.api.push.MeshConfig;
import dev.tessera.api.push.Message;
import dev.tessera.api.push.ProtocolVersions;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.handler.ssl.OpenSsl;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.handler.timeout.IdleStateHandler;
import io.netty.util.ReferenceCountUtil;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import org.bouncycastle.pkcs.PKCS10CertificationRequest;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The agent's connection to the controller (port 15012): TLS 1.3 verifying the controller's certificate
 * against {@code --controller-ca} and the dialled host name, a HELLO with the token read from
 * {@code --controller-token} at every (re)connect, the resume point (epoch, version) and the push-protocol
 * versions this agent speaks ({@link ProtocolVersions#AGENT}); the controller answers with WELCOME (the
 * version chosen, which the agent checks) then snapshots and deltas, applied in order and acknowledged. A
 * version skew (refused by either side) is kept in {@link #versionSkew()} until a session is welcomed. A
 * delta that does not apply is NACKed and the controller sends a snapshot. On any disconnect it
 * reconnects with exponential backoff and full jitter, keeping the last state meanwhile. Certificate
 * requests ({@link ControllerSigner}) travel over the current session and are re-sent after a reconnect
 * until answered. All state lives on one event loop.
 */
public final class ControllerClient implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(ControllerClient.class);

    /**
     * How to reach the controller.
     *
     * @param address {@code --controller}
     * @param node this node's name (must match the token's node)
     * @param tokenFile {@code --controller-token}, read at every connect
     * @param caFile {@code --controller-ca}: PEM roots the controller's certificate must chain to
     * @param backoffInitial first reconnect delay ceiling (200 ms)
     * @param backoffMax largest reconnect delay ceiling (30 s)
     * @param healthyAfter a session that lasted this long resets the backoff even without a new version (10 s)
     * @param readIdle a controller silent this long is considered gone (60 s; it pings every 15 s)
     */
    public record Settings(ControllerAddress address, String node, Path tokenFile, Path caFile, Duration backoffInitial,
            Duration backoffMax, Duration healthyAfter, Duration readIdle) {
        public Settings {
            requireNonNull(address, "address");
            requireNonNull(node, "node");
            requireNonNull(tokenFile, "tokenFile");
            requireNonNull(caFile, "caFile");
            requireNonNull(backoffInitial, "backoffInitial");
            requireNonNull(backoffMax, "backoffMax");
            requireNonNull(healthyAfter, "healthyAfter");
            requireNonNull(readIdle, "readIdle");
        }

        /** The defaults: 200 ms doubling to 30 s, healthy after 10 s, 60 s read idle. */
        public static Settings of(ControllerAddress address, String node, Path tokenFile, Path caFile) {
            return new Settings(address, node, tokenFile, caFile, Duration.ofMillis(200), Duration.ofSeconds(30),
                    Duration.ofSeconds(10), Duration.ofSeconds(60));
        }
    }

    private record PendingCsr(SpiffeId id, PKCS10CertificationRequest csr, CompletableFuture<List<X509Certificate>> future) {}

    private final Settings settings;
    private final Consumer<MeshConfig> onConfig;
    private final Consumer<List<X509Certificate>> onTrustBundle;
    private final EventLoops ownLoops;
    private final EventLoops loops;
    private final EventLoop loop;
    private final Backoff backoff;
    private final AtomicLong requestIds = new AtomicLong();
    private final Map<Long, PendingCsr> pending = new LinkedHashMap<>(); // event loop only
    private final AtomicLong connects = new AtomicLong();
    private volatile MeshConfig current = MeshConfig.EMPTY;
    private volatile List<X509Certificate> trustBundle = List.of();
    private volatile long epoch;
    private volatile boolean synced;
    private volatile Channel channel; // the live session, if any
    private volatile boolean closed;
    private volatile String lastError = "not connected yet";
    private volatile int protocolVersion; // negotiated for the live session; 0: none
    private volatile String versionSkew; // why the last session was refused for its protocol version, or null
    private final AtomicLong versionSkews = new AtomicLong();

    /** A client on its own single event loop. */
    public ControllerClient(Settings settings, Consumer<MeshConfig> onConfig, Consumer<List<X509Certificate>> onTrustBundle) {
        this(settings, null, onConfig, onTrustBundle);
    }

    /**
     * @param loops event loops to share (null: a private one-thread group)
     * @param onConfig receives every applied configuration, in order, on the client's event loop
     * @param onTrustBundle receives the trust bundle whenever the controller sends one
     */
    public ControllerClient(Settings settings, EventLoops loops, Consumer<MeshConfig> onConfig,
            Consumer<List<X509Certificate>> onTrustBundle) {
        this.settings = requireNonNull(settings, "settings");
        this.onConfig = requireNonNull(onConfig, "onConfig");
        this.onTrustBundle = requireNonNull(onTrustBundle, "onTrustBundle");
        this.ownLoops = loops == null ? EventLoops.create(1) : null;
        this.loops = loops == null ? ownLoops : loops;
        this.loop = this.loops.worker().next();
        this.backoff = new Backoff(settings.backoffInitial(), settings.backoffMax());
    }

    /** Starts connecting (in the background); returns at once. */
    public ControllerClient start() {
        loop.execute(this::connect);
        return this;
    }

    private void connect() {
        if (closed) {
            return;
        }
        String token;
        SslContext tls;
        try {
            token = Files.readString(settings.tokenFile(), StandardCharsets.UTF_8).strip();
            tls = tls();
        } catch (IOException | RuntimeException e) {
            lastError = e.toString();
            log.warn("cannot connect to the controller {}: {}", settings.address(), e.getMessage());
            scheduleReconnect();
            return;
        }
        connects.incrementAndGet();
        ControllerAddress a = settings.address();
        new Bootstrap().group(loop).channel(loops.socketChannelClass())
                .option(ChannelOption.TCP_NODELAY, true)
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, 10_000)
                .handler(new ChannelInitializer<>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        ch.pipeline().addLast("tls", tls.newHandler(ch.alloc(), a.host(), a.port()))
                                .addLast("idle", new IdleStateHandler(settings.readIdle().toMillis(), 0, 0, TimeUnit.MILLISECONDS))
                                .addLast("decoder", new FrameDecoder(Frames.MAX_FRAME_SIZE))
                                .addLast("encoder", FrameEncoder.INSTANCE)
                                .addLast("session", new Session(token));
                    }
                })
                .connect(a.host(), a.port()).addListener((ChannelFutureListener) f -> {
                    if (!f.isSuccess()) {
                        lastError = String.valueOf(f.cause());
                        log.info("controller {} unreachable: {}", a, f.cause().toString());
                        scheduleReconnect();
                    }
                });
    }

    private SslContext tls() throws IOException {
        List<X509Certificate> roots = CertificateAuthority.Pem.readCertificates(
                Files.readString(settings.caFile(), StandardCharsets.UTF_8));
        if (roots.isEmpty()) {
            throw new IOException(settings.caFile() + ": no certificate (expected: PEM roots of the controller's CA)");
        }
        return SslContextBuilder.forClient()
                .sslProvider(OpenSsl.isAvailable() ? SslProvider.OPENSSL : SslProvider.JDK)
                .protocols("TLSv1.3")
                .trustManager(roots.toArray(X509Certificate[]::new))
                .endpointIdentificationAlgorithm("HTTPS")
                .build();
    }

    private void scheduleReconnect() {
        if (closed) {
            return;
        }
        long delay = backoff.nextMillis();
        log.debug("reconnecting to {} in {} ms (attempt {})", settings.address(), delay, backoff.attempts());
        loop.schedule(this::connect, delay, TimeUnit.MILLISECONDS);
    }

    /** Asks the controller to sign {@code csr}; sent now if connected, else after the next connect. */
    CompletableFuture<List<X509Certificate>> requestCertificate(PKCS10CertificationRequest csr, SpiffeId id) {
        var future = new CompletableFuture<List<X509Certificate>>();
        long requestId = requestIds.incrementAndGet();
        // answered, refused, or given up by the caller (timeout): stop re-sending it
        future.whenComplete((chain, error) -> loop.execute(() -> pending.remove(requestId)));
        loop.execute(() -> {
            if (closed) {
                future.completeExceptionally(new IllegalStateException("controller client closed"));
                return;
            }
            pending.put(requestId, new PendingCsr(id, csr, future));
            Channel ch = channel;
            if (ch != null && ch.isActive()) {
                ch.writeAndFlush(new Message.Csr(requestId, id, csr));
            }
        });
        return future;
    }

    /** One TLS connection to the controller. */
    private final class Session extends ChannelInboundHandlerAdapter {
        private final String token;
        private long startedAt;
        private boolean applied;
        private boolean awaitingSnapshot;
        private boolean welcomed;

        Session(String token) {
            this.token = token;
        }

        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            startedAt = System.nanoTime();
            channel = ctx.channel();
            ctx.write(new Message.Hello(ProtocolVersions.AGENT.max(), ProtocolVersions.AGENT.min(), settings.node(), token,
                    epoch, current.version()));
            pending.forEach((id, p) -> ctx.write(new Message.Csr(id, p.id(), p.csr())));
            ctx.flush();
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            if (channel == ctx.channel()) {
                channel = null;
                protocolVersion = 0;
            }
            boolean healthy = applied || System.nanoTime() - startedAt >= settings.healthyAfter().toNanos();
            if (healthy) {
                backoff.reset();
            }
            log.info("disconnected from the controller {} (keeping state version {})", settings.address(), current.version());
            scheduleReconnect();
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (!(msg instanceof Message m)) {
                ReferenceCountUtil.release(msg);
                return;
            }
            if (m instanceof Message.Welcome w) {
                welcome(ctx, w);
                return;
            }
            if (!welcomed && (m instanceof Message.Snapshot || m instanceof Message.Delta)) {
                protocolError(ctx, m.type() + " before WELCOME (expected: a controller of protocol "
                        + ProtocolVersions.AGENT + " answers HELLO with WELCOME first)");
                return;
            }
            if (m instanceof Message.Snapshot s) {
                awaitingSnapshot = false;
                epoch = s.epoch();
                trustBundle(s.trustBundle());
                apply(ctx, s.config());
            } else if (m instanceof Message.Delta d) {
                if (d.trustBundle() != null && d.epoch() == epoch) {
                    trustBundle(d.trustBundle()); // even while awaiting a snapshot: a root rotation waits for it
                }
                if (awaitingSnapshot) {
                    return;
                }
                if (d.epoch() == epoch && d.delta().isEmpty() && d.delta().fromVersion() == current.version()
                        && d.delta().toVersion() == current.version()) {
                    ctx.writeAndFlush(new Message.Ack(current.version())); // bundle only: the state is unchanged
                    return;
                }
                MeshConfig next;
                try {
                    if (d.epoch() != epoch) {
                        throw new IllegalArgumentException("delta: epoch " + d.epoch() + " (expected: " + epoch + ")");
                    }
                    next = d.delta().apply(current);
                } catch (IllegalArgumentException e) {
                    awaitingSnapshot = true;
                    log.warn("cannot apply delta {} -> {}: {}; asking for a snapshot", d.delta().fromVersion(),
                            d.delta().toVersion(), e.getMessage());
                    ctx.writeAndFlush(new Message.Nack(d.delta().toVersion(), e.getMessage()));
                    return;
                }
                apply(ctx, next);
            } else if (m instanceof Message.Cert c) {
                trustBundle(c.trustBundle());
                PendingCsr p = pending.remove(c.requestId());
                if (p != null) {
                    p.future().complete(c.chain());
                }
            } else if (m instanceof Message.Refused r) {
                PendingCsr p = pending.remove(r.requestId());
                if (p != null) {
                    p.future().completeExceptionally(new CertificateRefusedException(p.id(), r.reason(), r.message()));
                }
            } else if (m instanceof Message.Ping p) {
                ctx.writeAndFlush(new Message.Pong(p.nonce()));
            } else if (m instanceof Message.GoAway g) {
                lastError = "GOAWAY: " + g.reason();
                log.info("controller {} going away: {}", settings.address(), g.reason());
                ctx.close();
            } else if (m instanceof Message.ErrorFrame e) {
                lastError = e.reason();
                if (e.reason().startsWith(PROTOCOL_VERSION_REFUSAL)) {
                    skew(refusedByController(settings.address().toString(), e.reason()));
                } else {
                    log.warn("controller {} closed the session: {}", settings.address(), e.reason());
                }
                ctx.close();
            } else if (!(m instanceof Message.Pong)) {
                protocolError(ctx, "unexpected " + m.type() + " from the controller");
            }
        }

        private void welcome(ChannelHandlerContext ctx, Message.Welcome w) {
            if (welcomed) {
                protocolError(ctx, "a second WELCOME (expected: one, answering HELLO)");
                return;
            }
            if (!ProtocolVersions.AGENT.contains(w.protocolVersion())) {
                String why = ProtocolVersions.agentRefusal(ProtocolVersions.AGENT, w.protocolVersion(), w.versions());
                lastError = PROTOCOL_VERSION_REFUSAL + " " + why;
                skew("refused the controller " + settings.address() + ": " + why);
                ctx.writeAndFlush(new Message.ErrorFrame(PROTOCOL_VERSION_REFUSAL + " " + why))
                        .addListener(ChannelFutureListener.CLOSE);
                return;
            }
            welcomed = true;
            protocolVersion = w.protocolVersion();
            versionSkew = null;
            log.info("controller {} speaks push protocol {}: using version {}", settings.address(), w.versions(),
                    w.protocolVersion());
        }

        private void protocolError(ChannelHandlerContext ctx, String message) {
            lastError = "protocol error: " + message;
            log.warn("closing the session with the controller {}: protocol error: {}", settings.address(), message);
            ctx.writeAndFlush(new Message.ErrorFrame("protocol error: " + message)).addListener(ChannelFutureListener.CLOSE);
        }

        private void apply(ChannelHandlerContext ctx, MeshConfig next) {
            current = next;
            applied = true;
            backoff.reset();
            lastError = null;
            try {
                onConfig.accept(next);
            } catch (RuntimeException e) {
                log.error("applying controller state version {} failed", next.version(), e);
                return;
            }
            synced = true;
            ctx.writeAndFlush(new Message.Ack(next.version()));
        }

        private void trustBundle(List<X509Certificate> bundle) {
            if (!bundle.isEmpty() && !bundle.equals(trustBundle)) {
                trustBundle = List.copyOf(bundle);
                onTrustBundle.accept(trustBundle);
            }
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
            if (evt instanceof IdleStateEvent) {
                log.warn("controller {} silent for {}; reconnecting", settings.address(), settings.readIdle());
                ctx.close();
            }
            super.userEventTriggered(ctx, evt);
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            lastError = describe(cause);
            log.warn("controller session {} failed: {}", settings.address(), lastError);
            if (cause instanceof io.netty.handler.codec.DecoderException
                    && cause.getCause() instanceof dev.tessera.api.push.ProtocolException p) {
                ctx.writeAndFlush(new Message.ErrorFrame("protocol error: " + p.getMessage()))
                        .addListener(ChannelFutureListener.CLOSE);
            } else {
                ctx.close();
            }
        }
    }

    /** How either side's ERROR for a version skew starts (the controller's refusal reason). */
    static final String PROTOCOL_VERSION_REFUSAL = "PROTOCOL_VERSION:";

    private void skew(String message) {
        versionSkews.incrementAndGet();
        if (message.equals(versionSkew)) { // every reconnect meets it again until someone upgrades: said once
            log.debug("push-protocol version skew (still): {}", message);
        } else {
            log.error("push-protocol version skew: {}", message);
        }
        versionSkew = message;
    }

    /**
     * What a controller's PROTOCOL_VERSION refusal means for this agent. A controller of version 2 or later
     * names both ranges and what to upgrade; one of version 1 only says {@code protocol version: 2 (expected:
     * 1)}: it predates negotiation and serves no newer agent, so the hint is added here.
     */
    static String refusedByController(String controller, String reason) {
        String head = "the controller " + controller + " refused this agent's push protocol " + ProtocolVersions.AGENT
                + ": " + reason;
        if (reason.contains("this controller")) {
            return head;
        }
        return head + " (that controller predates version negotiation and speaks only protocol 1: upgrade the"
                + " controller first, then the agents)";
    }

    /** A failure with its root cause; TLS failures say what the certificate must be. */
    private String describe(Throwable cause) {
        Throwable root = cause;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        boolean tls = false;
        for (Throwable t = cause; t != null; t = t.getCause() == t ? null : t.getCause()) {
            tls |= t instanceof javax.net.ssl.SSLException;
        }
        if (tls) {
            return "TLS handshake with the controller failed: " + root + " (expected: a certificate naming "
                    + settings.address().host() + " that chains to --controller-ca " + settings.caFile() + ")";
        }
        return root == cause ? cause.toString() : cause + " (" + root + ")";
    }

    /** The last applied configuration (kept while disconnected). */
    public MeshConfig current() {
        return current;
    }

    /** True once a first snapshot was applied. */
    public boolean synced() {
        return synced;
    }

    /** True while a session is open. */
    public boolean connected() {
        Channel ch = channel;
        return ch != null && ch.isActive();
    }

    /** The controller epoch of the state held (0: none). */
    public long epoch() {
        return epoch;
    }

    /** The last trust bundle the controller sent (empty before the first). */
    public List<X509Certificate> trustBundle() {
        return trustBundle;
    }

    /** Connection attempts so far. */
    public long connectAttempts() {
        return connects.get();
    }

    /** The push-protocol version negotiated for the live session; 0 while there is none. */
    public int protocolVersion() {
        return protocolVersion;
    }

    /**
     * Why the last session was refused for its protocol version (by the controller or by this agent), naming
     * the versions and what to upgrade; null once a session is welcomed (or before any was refused).
     */
    public String versionSkew() {
        return versionSkew;
    }

    /** Sessions refused for a protocol-version skew so far (either side). */
    public long versionSkewRefusals() {
        return versionSkews.get();
    }

    /** Why the last session ended or failed, or null while healthy. */
    public String lastError() {
        return lastError;
    }

    /** Stops reconnecting, closes the session and fails requests still waiting. */
    @Override
    public void close() {
        closed = true;
        loop.execute(() -> {
            Channel ch = channel;
            if (ch != null) {
                ch.close();
            }
            pending.values().forEach(p -> p.future().completeExceptionally(new IllegalStateException("controller client closed")));
            pending.clear();
        });
        if (ownLoops != null) {
            ownLoops.close();
        }
    }
}
