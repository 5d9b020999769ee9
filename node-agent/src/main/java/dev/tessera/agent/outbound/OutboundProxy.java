package dev.tessera.agent.outbound;

import static java.util.Objects.requireNonNull;

import dev.tessera.agent.config.AgentConfig;
import dev.tessera.agent.connection.ConnectionListener;
import dev.tessera.agent.hbone.HbonePool;
import dev.tessera.agent.identity.IdentityProvider;
import dev.tessera.agent.netty.EventLoops;
import dev.tessera.agent.netty.Listener;
import dev.tessera.agent.netty.Delivery;
import dev.tessera.agent.netty.Listeners;
import dev.tessera.agent.policy.InboundGate;
import dev.tessera.agent.redirect.OriginalDestinations;
import dev.tessera.agent.state.StateStore;
import dev.tessera.agent.tls.TlsContexts;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.util.concurrent.GlobalEventExecutor;
import java.net.InetSocketAddress;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The outbound capture listener on {@code nodeIp:outboundPort} (15001), and on {@code [nodeIp6]:outboundPort}
 * when {@code --node-ip6} is given: every TCP connect of a meshed pod arrives here (redirected by
 * cgroup/connect4, or connect6 for native IPv6 destinations) and is handled by {@link OutboundHandler}, the
 * same way on both sockets. Owns the HBONE client pool.
 */
public final class OutboundProxy implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(OutboundProxy.class);

    private final AgentConfig config;
    private final StateStore state;
    private final OriginalDestinations originalDestinations;
    private final ConnectionListener listener;
    private final EventLoops loops;
    private final HbonePool pool;
    private final Delivery direct;
    private final ChannelGroup accepted = new DefaultChannelGroup("outbound", GlobalEventExecutor.INSTANCE);
    private final Listener socket = new Listener("outbound proxy");
    /** The IPv6 listener, or null without {@code --node-ip6}. */
    private final Listener socket6;
    private volatile InboundGate gate = InboundGate.OPEN;

    public OutboundProxy(AgentConfig config, StateStore state, IdentityProvider identities,
            OriginalDestinations originalDestinations, ConnectionListener listener, EventLoops loops) {
        this(config, state, new TlsContexts(requireNonNull(identities, "identities")), originalDestinations,
                listener, loops);
    }

    /** A proxy sharing TLS contexts with other components. */
    public OutboundProxy(AgentConfig config, StateStore state, TlsContexts tls,
            OriginalDestinations originalDestinations, ConnectionListener listener, EventLoops loops) {
        this.config = requireNonNull(config, "config");
        this.state = requireNonNull(state, "state");
        this.originalDestinations = requireNonNull(originalDestinations, "originalDestinations");
        this.listener = requireNonNull(listener, "listener");
        this.loops = requireNonNull(loops, "loops");
        this.pool = new HbonePool(requireNonNull(tls, "tls"), loops, listener, config.nodeIp());
        this.direct = new Delivery(loops, HbonePool.CONNECT_TIMEOUT_MILLIS);
        this.socket6 = config.nodeIp6() == null ? null : new Listener("outbound proxy (IPv6)");
    }

    /** Same-node deliveries' dialer (transparent once the composition root gives it the kernel's registry). */
    public Delivery delivery() {
        return direct;
    }

    /** The policy stage same-node deliveries pass before the pod is dialled (default: {@link InboundGate#OPEN}). */
    public void useInboundGate(InboundGate gate) {
        this.gate = requireNonNull(gate, "gate");
    }

    /**
     * Binds {@code nodeIp:outboundPort}.
     *
     * @throws IllegalStateException naming the address when the port cannot be bound
     */
    public synchronized void start() {
        start(-1, -1);
    }

    /**
     * Adopts {@code adoptedFd}, a listening socket on {@code nodeIp:outboundPort} handed over by the previous agent,
     * or binds when it is negative; the same for {@code adoptedFd6} on {@code [nodeIp6]:outboundPort} when
     * {@code --node-ip6} is given (ignored otherwise).
     */
    public synchronized void start(int adoptedFd, int adoptedFd6) {
        InetSocketAddress bind = new InetSocketAddress(config.nodeIp(), config.outboundPort());
        var b = Listeners.paused(loops)
                .childOption(ChannelOption.AUTO_READ, false)
                .childOption(ChannelOption.ALLOW_HALF_CLOSURE, true)
                .childOption(ChannelOption.WRITE_BUFFER_WATER_MARK, Listeners.WATER_MARK)
                .childHandler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        accepted.add(ch);
                        ch.pipeline().addLast("outbound", new OutboundHandler(config.nodeName(), config.inboundPort(),
                                state, originalDestinations, pool, direct, listener, gate));
                    }
                });
        socket.start(b, bind, adoptedFd);
        log.info("outbound proxy listening on {} ({})", socket.localAddress(), loops);
        if (socket6 != null) {
            try {
                socket6.start(b, new InetSocketAddress(config.nodeIp6(), config.outboundPort()), adoptedFd6);
            } catch (RuntimeException e) {
                socket.close();
                throw e;
            }
            log.info("outbound proxy listening on {} (IPv6)", socket6.localAddress());
        }
    }

    /**
     * Starts accepting connections (they queue in the listen backlog from {@link #start()} on). Called once
     * the agent is ready to serve them: state loaded, programs attached, certificates present.
     */
    public synchronized void acceptConnections() {
        socket.acceptConnections();
        if (socket6 != null) {
            socket6.acceptConnections();
        }
    }

    /** The listening socket's descriptor, for a handoff to the next agent (epoll only). */
    public synchronized int listenerFd() {
        return socket.fd();
    }

    /** The IPv6 listening socket's descriptor for a handoff, or -1 without {@code --node-ip6}. */
    public synchronized int listenerFd6() {
        return socket6 == null ? -1 : socket6.fd();
    }

    /** The bound address (after {@link #start()}). */
    public synchronized InetSocketAddress localAddress() {
        return socket.localAddress();
    }

    /** The bound IPv6 address (after {@link #start()}), or null without {@code --node-ip6}. */
    public synchronized InetSocketAddress localAddress6() {
        return socket6 == null ? null : socket6.localAddress();
    }

    /** The HBONE client pool (for counters and tests). */
    public HbonePool pool() {
        return pool;
    }

    /** Application connections currently open. */
    public int activeConnections() {
        return accepted.size();
    }

    /** Stops accepting (open connections keep running): after a handoff, the next agent accepts. */
    public void stopAccepting() {
        socket.close();
        if (socket6 != null) {
            socket6.close();
        }
    }

    /** Stops accepting, closes open connections and the tunnel pool. */
    @Override
    public void close() {
        stopAccepting();
        accepted.close().awaitUninterruptibly(2, TimeUnit.SECONDS);
        pool.close();
    }
}
