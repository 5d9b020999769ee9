package dev.tessera.agent.outbound;

import static java.util.Objects.requireNonNull;

import dev.tessera.agent.connection.CloseReason;
import dev.tessera.agent.connection.ConnectionContext.Direction;
import dev.tessera.agent.connection.ConnectionContext.RouteKind;
import dev.tessera.agent.connection.ConnectionContext;
import dev.tessera.api.model.MeshSnapshot;
import dev.tessera.api.model.NodeInfo;
import dev.tessera.api.model.Service;
import dev.tessera.api.model.Workload;
import java.net.InetSocketAddress;
import java.util.Optional;
import java.util.function.IntUnaryOperator;

/**
 * Where a captured connection goes, decided from the mesh state alone (a pure function, table-tested):
 * the source must be a meshed pod of this node; a Service virtual IP is replaced by one of the Service's
 * ready endpoints (on the endpoint's target port); a meshed destination on this node is delivered locally,
 * one on another node goes through HBONE to that node's agent, and anything else passes through as
 * plain TCP.
 *
 * @param context the connection context as far as routing got
 * @param nextHop where to connect: the pod, the passthrough destination or the peer agent (null when
 *     rejected)
 * @param rejection why the connection is refused, or null
 */
public record OutboundRoute(ConnectionContext context, InetSocketAddress nextHop, CloseReason rejection) {

    public OutboundRoute {
        requireNonNull(context, "context");
    }

    /**
     * Routes a connection from {@code client} whose original destination was {@code destination}.
     *
     * @param hbonePort the HBONE port of every node's agent
     */
    public static OutboundRoute resolve(MeshSnapshot snapshot, String nodeName, InetSocketAddress client,
            InetSocketAddress destination, int hbonePort) {
        return resolve(snapshot, nodeName, client, destination, hbonePort,
                n -> java.util.concurrent.ThreadLocalRandom.current().nextInt(n));
    }

    /**
     * As {@link #resolve(MeshSnapshot, String, InetSocketAddress, InetSocketAddress, int)}, with the
     * endpoint choice for Service VIPs made by {@code pick} (given n ready endpoints, an index in [0, n)).
     */
    public static OutboundRoute resolve(MeshSnapshot snapshot, String nodeName, InetSocketAddress client,
            InetSocketAddress destination, int hbonePort, IntUnaryOperator pick) {
        ConnectionContext ctx = ConnectionContext.accepted(Direction.OUTBOUND, client).withDestination(destination);
        Optional<Workload> source = snapshot.workloadByIp(client.getAddress());
        if (source.isEmpty()) {
            return reject(ctx, CloseReason.UNKNOWN_SOURCE);
        }
        Workload src = source.get();
        ctx = ctx.withSource(src, src.identity());
        if (!src.meshed()) {
            return reject(ctx, CloseReason.NOT_MESHED_SOURCE);
        }
        if (!src.node().equals(nodeName)) {
            return reject(ctx, CloseReason.SOURCE_NOT_LOCAL);
        }
        Service svc = snapshot.serviceByVip(destination.getAddress()).orElse(null);
        if (svc != null) {
            ctx = ctx.withService(svc);
            Optional<Service.Port> port = svc.port(destination.getPort());
            if (port.isEmpty()) {
                return reject(ctx, CloseReason.NO_SERVICE_PORT);
            }
            int ready = svc.readyCount();
            if (ready == 0) {
                return reject(ctx, CloseReason.NO_HEALTHY_ENDPOINT);
            }
            Service.Endpoint chosen = svc.readyEndpoint(pick.applyAsInt(ready));
            destination = new InetSocketAddress(chosen.ip(), port.get().targetPort());
            ctx = ctx.withDestination(destination);
        }
        Workload dst = snapshot.workloadByIp(destination.getAddress()).orElse(null);
        if (dst == null || !dst.meshed()) {
            return new OutboundRoute(ctx.withTarget(dst, null).withRoute(RouteKind.PASSTHROUGH, null), destination, null);
        }
        ctx = ctx.withTarget(dst, dst.identity());
        if (dst.node().equals(nodeName)) {
            return new OutboundRoute(ctx.withRoute(RouteKind.LOCAL, null), destination, null);
        }
        Optional<NodeInfo> node = snapshot.node(dst.node());
        if (node.isEmpty()) {
            return reject(ctx, CloseReason.NO_NODE);
        }
        InetSocketAddress peer = new InetSocketAddress(node.get().ip(), hbonePort);
        return new OutboundRoute(ctx.withRoute(RouteKind.HBONE, peer), peer, null);
    }

    private static OutboundRoute reject(ConnectionContext ctx, CloseReason reason) {
        return new OutboundRoute(ctx, null, reason);
    }

    public boolean rejected() {
        return rejection != null;
    }
}
