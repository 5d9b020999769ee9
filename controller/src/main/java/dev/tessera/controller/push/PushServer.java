package dev.tessera.controller.push;

import static java.util.Objects.requireNonNull;

import dev.tessera.api.push.FrameDecoder;
import dev.tessera.api.push.FrameEncoder;
import dev.tessera.api.push.MeshConfig;
import dev.tessera.controller.identity.AgentAuthenticator;
import dev.tessera.controller.identity.IssuingCa;
import dev.tessera.controller.identity.SvidIssuer;
import dev.tessera.controller.watch.MeshSource;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.ServerChannel;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.stream.ChunkedWriteHandler;
import io.netty.handler.timeout.IdleStateHandler;
import java.net.InetSocketAddress;
import java.security.SecureRandom;
import java.time.Instant;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The controller's agent endpoint (port 15012): TLS 1.3 with a certificate from the controller's CA,
 * agents authenticated by the bearer token of their HELLO (TokenReview in a cluster, the static token
 * file in local mode); each agent gets a snapshot, or the deltas since the version it holds when it resumes
 * within the same epoch, then one delta per published {@link MeshConfig}, encoded once for all agents.
 * CSRs are answered through the node-authorizing {@link SvidIssuer}. Protocol: {@code dev.tessera.api.push}.
 *
 * <p>Strangers are bounded ({@link PushLimits}): unauthenticated connections in all and per source address
 * (refused at accept), frames before HELLO (16 KiB), HELLO authentication and CSR signing each on their own
 * threads with a bounded queue; every refusal is counted by reason ({@link PushCounters#refusals()}).
 */
public final class PushServer implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(PushServer.class);

    /**
     * One connected, authenticated agent.
     *
     * @param node its node
     * @param remote its address
     * @param connectedSince when it authenticated
     * @param ackedVersion the last version it acknowledged (-1: none yet)
     * @param protocolVersion the push-protocol version negotiated with it
     */
    public record ConnectedAgent(String node, InetSocketAddress remote, Instant connectedSince, long ackedVersion,
            int protocolVersion) {}

    private final PushServerConfig config;
    private final MeshSource source;
    private final AgentAuthenticator authenticator;
    private final SvidIssuer issuer;
    private final PushCounters counters = new PushCounters();
    private final ConfigHub hub;
    private final ServerCertificate certificate;
    private final EventLoopGroup group;
    private final boolean epoll;
    private final ThreadPoolExecutor hellos;
    private final ThreadPoolExecutor csrs;
    private final UnauthenticatedLimiter unauthenticated;
    private Channel server;
    private ScheduledFuture<?> renewal;

    /**
     * @param config where and how to listen
     * @param source the mesh state to distribute (its listeners feed the server once {@link #start()}ed)
     * @param authenticator checks the agents' tokens
     * @param issuer signs the agents' CSRs with node authorization
     * @param ca the CA {@code issuer} starts on; the server's own certificate and the trust bundle every agent
     *     gets follow {@code issuer.trust()}, which a root rotation moves to a new CA
     */
    public PushServer(PushServerConfig config, MeshSource source, AgentAuthenticator authenticator, SvidIssuer issuer,
            IssuingCa ca) {
        this.config = requireNonNull(config, "config");
        this.source = requireNonNull(source, "source");
        this.authenticator = requireNonNull(authenticator, "authenticator");
        this.issuer = requireNonNull(issuer, "issuer");
        long epoch = new SecureRandom().nextLong() & Long.MAX_VALUE;
        requireNonNull(ca, "ca");
        // The issuer's trust follows root rotations; it starts on the same CA as {@code ca}.
        this.hub = new ConfigHub(epoch == 0 ? 1 : epoch, config.historySize(), issuer.trust().bundle(),
                PooledByteBufAllocator.DEFAULT);
        this.certificate = new ServerCertificate(() -> issuer.trust().signer(), config);
        this.epoll = Epoll.isAvailable();
        this.group = new MultiThreadIoEventLoopGroup(config.workerThreads(),
                epoll ? EpollIoHandler.newFactory() : NioIoHandler.newFactory());
        PushLimits limits = config.limits();
        this.hellos = BoundedExecutor.create("push-hello", limits.helloThreads(), limits.helloQueue());
        this.csrs = BoundedExecutor.create("push-csr", limits.csrThreads(), limits.csrQueue());
        this.unauthenticated = new UnauthenticatedLimiter(limits.maxUnauthenticated(), limits.maxUnauthenticatedPerSource());
    }

    /**
     * Sends the issuer's current trust bundle to every agent when it changed (a root rotation moved on),
     * and re-issues the server's certificate when the signer changed; new agents get it in their snapshot.
     */
    public synchronized void trustChanged() {
        var trust = issuer.trust().status();
        if (!trust.signer().equals(signerOf(certificate.chain()))) {
            certificate.renew();
            log.info("push server certificate re-issued under {}", trust.signer().getSubjectX500Principal().getName());
        }
        hub.trustBundle(trust.bundle(), trust.generation());
    }

    private static java.security.cert.X509Certificate signerOf(List<java.security.cert.X509Certificate> chain) {
        return chain.size() > 1 ? chain.get(1) : null;
    }

    /**
     * Whether every connected, authenticated agent answered after receiving trust-bundle {@code generation}
     * or a later one (true with no agent connected: each one connecting gets the current bundle first).
     */
    public boolean agentsHoldBundle(long generation) {
        return hub.sessions().stream().filter(AgentSession::active).allMatch(s -> s.bundleHeld() >= generation);
    }

    /** Connected agents that have not yet answered for the current trust bundle. */
    public long agentsWithoutCurrentBundle() {
        long g = hub.bundleGeneration();
        return hub.sessions().stream().filter(AgentSession::active).filter(s -> s.bundleHeld() < g).count();
    }

    /** Binds the port (a bind error fails here) and starts distributing the source's states. */
    public PushServer start() throws InterruptedException {
        long ping = config.pingInterval().toMillis();
        Class<? extends ServerChannel> type = epoll ? EpollServerSocketChannel.class : NioServerSocketChannel.class;
        server = new ServerBootstrap().group(group).channel(type)
                .option(ChannelOption.SO_REUSEADDR, true) // a restarted controller rebinds despite TIME_WAIT
                .childOption(ChannelOption.TCP_NODELAY, true)
                .childOption(ChannelOption.WRITE_BUFFER_WATER_MARK, new WriteBufferWaterMark(256 * 1024, 1024 * 1024))
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        // Admission before TLS: a refused stranger costs an accept and a close, no handshake state.
                        var admission = unauthenticated.admit(ch.remoteAddress().getAddress());
                        if (admission.permit() == null) {
                            counters.refused(admission.refusal());
                            log.debug("refused connection from {}: {} ({})", ch.remoteAddress(), admission.refusal(),
                                    unauthenticated.describe(admission.refusal()));
                            ch.close();
                            return;
                        }
                        ch.closeFuture().addListener(f -> admission.permit().release());
                        var tls = certificate.context().newHandler(ch.alloc());
                        // Generous: with 1,000 agents (re)connecting at once the handshakes queue behind snapshot
                        // writes on the same event loops; the HELLO deadline starts after the handshake.
                        tls.setHandshakeTimeoutMillis(30_000);
                        ch.pipeline().addLast("tls", tls)
                                .addLast("idle", new IdleStateHandler(3 * ping, ping, 0, TimeUnit.MILLISECONDS))
                                .addLast("slices", new ChunkedWriteHandler()) // snapshots go out as the socket drains
                                .addLast("decoder", new FrameDecoder(AgentSession.PRE_HELLO_MAX_FRAME))
                                .addLast("encoder", FrameEncoder.INSTANCE)
                                .addLast("session", new AgentSession(hub, counters, authenticator, issuer, hellos, csrs, config,
                                        admission.permit()::release));
                    }
                })
                .bind(new InetSocketAddress(config.bindAddress(), config.port())).sync().channel();
        source.addListener(hub::publish);
        hub.publish(source.current());
        scheduleRenewal();
        log.info("config push listening on {} ({}, epoch {})", server.localAddress(), epoll ? "epoll" : "nio", hub.epoch());
        return this;
    }

    private void scheduleRenewal() {
        renewal = group.next().schedule(() -> {
            try {
                certificate.renew();
                log.info("renewed the push server certificate (valid until {})", certificate.chain().get(0).getNotAfter());
            } catch (RuntimeException e) {
                log.warn("renewing the push server certificate failed; retrying", e);
            }
            scheduleRenewal();
        }, certificate.renewIn().toMillis(), TimeUnit.MILLISECONDS);
    }

    /** The bound port. */
    public int port() {
        return ((InetSocketAddress) server.localAddress()).getPort();
    }

    /** This run's epoch: agents resume by deltas only within one epoch (a restart starts a new one). */
    public long epoch() {
        return hub.epoch();
    }

    /** The version being distributed. */
    public long version() {
        return hub.current().version();
    }

    /** The authenticated agents, by node. */
    public List<ConnectedAgent> connectedAgents() {
        return hub.sessions().stream().filter(AgentSession::active).map(AgentSession::describe)
                .sorted(Comparator.comparing(ConnectedAgent::node)).toList();
    }

    /** The last version each connected node acknowledged (-1: none yet). */
    public Map<String, Long> ackedVersions() {
        var out = new TreeMap<String, Long>();
        hub.sessions().stream().filter(AgentSession::active).forEach(s -> out.merge(s.node(), s.ackedVersion(), Math::max));
        return out;
    }

    /** Connections accepted that have not authenticated yet (bounded by {@link PushLimits}). */
    public int unauthenticatedConnections() {
        return unauthenticated.held();
    }

    /** HELLOs waiting for an authentication thread (bounded by {@link PushLimits#helloQueue()}). */
    public int queuedHellos() {
        return hellos.getQueue().size();
    }

    /** CSRs waiting for a signing thread (bounded by {@link PushLimits#csrQueue()}). */
    public int queuedCsrs() {
        return csrs.getQueue().size();
    }

    public PushCounters counters() {
        return counters;
    }

    /** The server certificate chain currently presented (leaf first). */
    public List<java.security.cert.X509Certificate> certificateChain() {
        return certificate.chain();
    }

    /** Renews the server certificate now (new connections present the new one). */
    public void renewCertificate() {
        certificate.renew();
    }

    /** Closes the sessions of {@code node}'s agent (it reconnects and resumes); returns how many were open. */
    public int disconnect(String node) {
        int n = 0;
        for (AgentSession s : hub.sessions()) {
            if (node.equals(s.node())) {
                s.channel().close();
                n++;
            }
        }
        return n;
    }

    /** Sends GOAWAY to every agent, closes the port and stops the threads. */
    @Override
    public void close() {
        if (renewal != null) {
            renewal.cancel(false);
        }
        if (server != null) {
            server.close().awaitUninterruptibly(5, TimeUnit.SECONDS);
        }
        hub.sessions().forEach(s -> s.goAway("controller shutting down"));
        hellos.shutdownNow();
        csrs.shutdownNow();
        group.shutdownGracefully(100, 2000, TimeUnit.MILLISECONDS).awaitUninterruptibly(5, TimeUnit.SECONDS);
        hub.close();
    }
}
