package dev.tessera.agent;

import static java.util.Objects.requireNonNull;

import dev.tessera.agent.config.AgentConfig;
import dev.tessera.agent.connection.CloseReason;
import dev.tessera.agent.connection.ConnectionContext.Direction;
import dev.tessera.agent.connection.ConnectionListener;
import dev.tessera.agent.connection.JsonAccessLog;
import dev.tessera.agent.connection.ProxyCounters;
import dev.tessera.agent.identity.IdentityProvider;
import dev.tessera.agent.inbound.HboneServer;
import dev.tessera.agent.metrics.AgentMetrics;
import dev.tessera.agent.metrics.ConnectionMetrics;
import dev.tessera.agent.netty.EventLoops;
import dev.tessera.agent.outbound.OutboundProxy;
import dev.tessera.agent.redirect.OriginalDestinations;
import dev.tessera.agent.state.StateStore;
import dev.tessera.agent.tls.TlsContexts;
import io.prometheus.metrics.core.metrics.CounterWithCallback;
import io.prometheus.metrics.core.metrics.GaugeWithCallback;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The agent's listeners as one unit: the outbound capture listener (15001) and the HBONE server (15008)
 * on shared event loops and a shared TLS context cache, with every connection event going to the
 * counters, the metrics and the access log.
 */
final class DataPath implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(DataPath.class);

    private final EventLoops loops;
    private final ProxyCounters counters = new ProxyCounters();
    private final OutboundProxy outbound;
    private final HboneServer inbound;
    private volatile OriginalDestinations originalDestinations = client -> Optional.empty();
    /** The open connections (a drain reports what it has to cut). */
    private final ConnectionMetrics connections;
    /** Every listener of the data path: counters, metrics, access log. */
    private final ConnectionListener listener;
    private final AtomicLong drainCut = new AtomicLong();

    private DataPath(AgentConfig config, StateStore state, IdentityProvider identities, AgentMetrics metrics) {
        loops = EventLoops.create(EventLoops.dataPathThreads());
        var tls = new TlsContexts(identities);
        var accessLog = new JsonAccessLog(config.logFormat());
        metrics.accessLogDropped(accessLog::dropped);
        connections = metrics.connections();
        listener = ConnectionListener.of(counters, connections, accessLog);
        outbound = new OutboundProxy(config, state, tls, client -> originalDestinations.take(client), listener, loops);
        inbound = new HboneServer(config, state, tls, listener, loops);
        registerCounters(metrics);
    }

    /** The data path's listeners (metrics, access log), for the connections the kernel decides alone. */
    ConnectionListener listener() {
        return listener;
    }

    /**
     * What the data path is built from (ztunnel's {@code ProxyInputs}): the configuration, the state it routes
     * by, the identities it presents and the metrics it reports to.
     */
    record Inputs(AgentConfig config, StateStore state, IdentityProvider identities, AgentMetrics metrics) {
        Inputs {
            requireNonNull(config, "config");
            requireNonNull(state, "state");
            requireNonNull(identities, "identities");
            requireNonNull(metrics, "metrics");
        }
    }

    /**
     * Creates the listeners and binds them (a port in use fails here, before anything else started), or adopts
     * the listening sockets received from the previous agent when {@code handoff} holds them (a missing one is
     * bound).
     *
     * @param handoff the previous agent's listeners, or null
     */
    static DataPath bind(Inputs in, dev.tessera.agent.handoff.HandoffClient handoff) {
        AgentConfig config = in.config();
        var dp = new DataPath(config, in.state(), in.identities(), in.metrics());
        try {
            // By address: with --node-ip6 two of the sockets share the outbound port.
            dp.outbound.start(take(handoff, config.nodeIp(), config.outboundPort()),
                    take(handoff, config.nodeIp6(), config.outboundPort()));
            dp.inbound.start(take(handoff, config.nodeIp(), config.inboundPort()));
        } catch (RuntimeException e) {
            dp.close();
            throw e;
        }
        return dp;
    }

    private static int take(dev.tessera.agent.handoff.HandoffClient handoff, java.net.InetAddress ip, int port) {
        return handoff == null || ip == null ? -1 : handoff.take(new InetSocketAddress(ip, port));
    }

    /** Starts accepting on both listeners (bound, but holding connections in the backlog until now). */
    void acceptConnections() {
        inbound.acceptConnections();
        outbound.acceptConnections();
    }

    /** Where accepted outbound connections look up their original destination (the eBPF maps). */
    void useOriginalDestinations(OriginalDestinations od) {
        originalDestinations = requireNonNull(od, "od");
    }

    /**
     * Dial local pods from the client pod's address, recording each delivery in {@code registry} (the kernel's
     * {@code tsp_deliveries}); null dials them from the node address.
     */
    void useDeliveries(dev.tessera.agent.netty.Delivery.Registry registry) {
        outbound.delivery().useRegistry(registry);
        inbound.delivery().useRegistry(registry);
    }

    /** The inbound policy stage of both listeners (HBONE CONNECTs and same-node deliveries). */
    void useInboundGate(dev.tessera.agent.policy.InboundGate gate) {
        inbound.useInboundGate(gate);
        outbound.useInboundGate(gate);
    }

    private void registerCounters(AgentMetrics metrics) {
        var registry = metrics.registry();
        GaugeWithCallback.builder().name("tessera_connections_active").help("Open connections, by direction")
                .labelNames("direction")
                .callback(cb -> {
                    cb.call(counters.active(Direction.OUTBOUND), "outbound");
                    cb.call(counters.active(Direction.INBOUND), "inbound");
                }).register(registry);
        CounterWithCallback.builder().name("tessera_hbone_server_closed_total")
                .help("HBONE connections the server refused or ended itself, by reason: peer_limit (over the"
                        + " per-peer connection cap), idle (no stream for the idle timeout), peer_silent (no answer"
                        + " to a keepalive PING), trust_domain (client certificate of another trust domain), flood"
                        + " (HTTP/2 flood guard, e.g. rapid reset), protocol_error (other HTTP/2 connection errors)")
                .labelNames("reason")
                .callback(cb -> inbound.refusals().forEach((reason, n) -> cb.call(n, reason))).register(registry);
        CounterWithCallback.builder().name("tessera_pod_dials_total")
                .help("Connections the agent dialled to local pods for a meshed client (same-node delivery, HBONE)"
                        + " while transparent delivery is on, by source address: client (the client pod's) or node"
                        + " (no verified client pod address, or the bind or the kernel record failed)")
                .labelNames("source")
                .callback(cb -> {
                    cb.call(outbound.delivery().transparent() + inbound.delivery().transparent(), "client");
                    cb.call(outbound.delivery().fallbacks() + inbound.delivery().fallbacks(), "node");
                }).register(registry);
        CounterWithCallback.builder().name("tessera_drain_cut_connections_total")
                .help("Connections a drain (SIGTERM) closed because they were still open at the drain timeout")
                .callback(cb -> cb.call(drainCut.get())).register(registry);
        GaugeWithCallback.builder().name("tessera_tunnel_connections")
                .help("Pooled HBONE (TLS + HTTP/2) connections this agent opened to other nodes")
                .callback(cb -> cb.call(counters.tunnelConnections())).register(registry);
        CounterWithCallback.builder().name("tessera_tls_handshakes_total")
                .help("mTLS handshakes, by direction (outbound = as HBONE client) and result")
                .labelNames("direction", "result")
                .callback(cb -> {
                    for (Direction d : Direction.values()) {
                        String dir = d == Direction.OUTBOUND ? "outbound" : "inbound";
                        cb.call(counters.handshakes(d, true), dir, "success");
                        cb.call(counters.handshakes(d, false), dir, "failure");
                    }
                }).register(registry);
    }

    /** Counters for the admin API. */
    Map<String, Object> stats() {
        var m = new LinkedHashMap<String, Object>();
        m.put("transport", loops.nativeTransport() ? "epoll" : "nio");
        m.put("outboundOpened", counters.opened(Direction.OUTBOUND));
        m.put("inboundOpened", counters.opened(Direction.INBOUND));
        m.put("outboundActive", counters.active(Direction.OUTBOUND));
        m.put("inboundActive", counters.active(Direction.INBOUND));
        m.put("tunnelConnections", counters.tunnelConnections());
        m.put("closedByReason", counters.closedByReason());
        return m;
    }

    /** The listening sockets of 15001 and 15008 (and 15001 on IPv6 with --node-ip6, last), for a handoff. */
    java.util.List<Integer> listenerFds() {
        int fd6 = outbound.listenerFd6();
        return fd6 < 0 ? java.util.List.of(outbound.listenerFd(), inbound.listenerFd())
                : java.util.List.of(outbound.listenerFd(), inbound.listenerFd(), fd6);
    }

    /**
     * After a handoff: stops accepting on this process' copies of the listening sockets (the kernel sockets
     * live on in the next agent) and sends GOAWAY to HBONE peers; open connections keep running.
     */
    void stopAccepting() {
        inbound.stopAcceptingAndGoAway();
        outbound.stopAccepting();
    }

    /**
     * Stops accepting (GOAWAY to HBONE peers) and lets open connections finish by themselves for up to
     * {@code grace}, then closes everything. Connections still open at the deadline are cut: each is closed
     * with reason {@link CloseReason#SHUTDOWN} (access log, {@code response_flags}), counted in
     * {@code tessera_drain_cut_connections_total}, and the cut is logged.
     *
     * @return how many connections were cut
     */
    int drain(Duration grace) {
        stopAccepting();
        long deadline = System.nanoTime() + grace.toNanos();
        while ((inbound.connections() > 0 || outbound.activeConnections() > 0) && System.nanoTime() < deadline) {
            LockSupport.parkNanos(DRAIN_POLL_NANOS);
            inbound.drainStep();
        }
        var left = List.copyOf(connections.open());
        if (!left.isEmpty()) {
            log.warn("drain timeout after {} ms: cutting {} open connection(s) (close reason SHUTDOWN)",
                    grace.toMillis(), left.size());
            left.forEach(s -> s.fail(CloseReason.SHUTDOWN));
            drainCut.addAndGet(left.size());
        }
        close();
        return left.size();
    }

    private static final long DRAIN_POLL_NANOS = java.util.concurrent.TimeUnit.MILLISECONDS.toNanos(50);


    @Override
    public void close() {
        try {
            inbound.close();
            outbound.close();
        } finally {
            loops.close();
        }
    }
}
