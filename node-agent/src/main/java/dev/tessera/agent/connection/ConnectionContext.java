package dev.tessera.agent.connection;

import static java.util.Objects.requireNonNull;

import dev.tessera.api.identity.SpiffeId;
import dev.tessera.api.model.Service;
import dev.tessera.api.model.Workload;
import java.net.InetSocketAddress;

/**
 * What the agent knows about one proxied connection. Built stage by stage (each stage returns a copy with
 * more filled in) and passed along immutable; a stage that rejects the connection closes it with the
 * context known so far, so fields after that stage are {@code null}.
 *
 * @param direction outbound (captured from a local pod) or inbound (arriving over HBONE)
 * @param route how the connection is carried; {@code null} until routed
 * @param client the accepted connection's peer: the pod (outbound) or the peer node's agent (inbound)
 * @param destination the original destination (outbound) or the CONNECT target (inbound)
 * @param sourceWorkload the source pod, or {@code null} when unknown
 * @param sourceIdentity the source identity: the local pod's (outbound), the verified peer certificate's
 *     (inbound)
 * @param destinationWorkload the destination pod, or {@code null} (passthrough, rejected early)
 * @param destinationIdentity the destination identity, or {@code null}
 * @param tunnelPeer the other agent's HBONE address for tunnelled connections, else {@code null}
 * @param authorization the inbound authorization decision (destination node), or {@code null} when none
 *     was taken (outbound side of a tunnel, passthrough, rejected before the policy stage)
 * @param service the Service whose virtual IP the client connected to (outbound), or {@code null}; the
 *     {@code destination} is then the endpoint chosen for it
 */
public record ConnectionContext(
        Direction direction,
        RouteKind route,
        InetSocketAddress client,
        InetSocketAddress destination,
        Workload sourceWorkload,
        SpiffeId sourceIdentity,
        Workload destinationWorkload,
        SpiffeId destinationIdentity,
        InetSocketAddress tunnelPeer,
        dev.tessera.agent.policy.Decision authorization,
        Service service) {

    /** Which way a connection goes through this node's agent. */
    public enum Direction { OUTBOUND, INBOUND }

    /** How a connection is carried to its destination. */
    public enum RouteKind {
        /** In an HBONE tunnel to the destination node's agent. */
        HBONE,
        /** Straight to a pod on this node (outbound local delivery, or inbound after the tunnel). */
        LOCAL,
        /** Plain TCP to a destination outside the mesh. */
        PASSTHROUGH,
        /**
         * Plain TCP from outside the mesh straight to a meshed pod of this node: never proxied, decided by the
         * kernel ({@code peerauth.bpf.c}); the agent learns of it afterwards ({@code inbound.PlaintextEvents}).
         */
        PLAINTEXT
    }

    public ConnectionContext {
        requireNonNull(direction, "direction");
        requireNonNull(client, "client");
    }

    /** A context holding only the accepted connection. */
    public static ConnectionContext accepted(Direction direction, InetSocketAddress client) {
        return new ConnectionContext(direction, null, client, null, null, null, null, null, null, null, null);
    }

    public ConnectionContext withDestination(InetSocketAddress dst) {
        return new ConnectionContext(direction, route, client, dst, sourceWorkload, sourceIdentity,
                destinationWorkload, destinationIdentity, tunnelPeer, authorization, service);
    }

    public ConnectionContext withSource(Workload workload, SpiffeId identity) {
        return new ConnectionContext(direction, route, client, destination, workload, identity,
                destinationWorkload, destinationIdentity, tunnelPeer, authorization, service);
    }

    public ConnectionContext withTarget(Workload workload, SpiffeId identity) {
        return new ConnectionContext(direction, route, client, destination, sourceWorkload, sourceIdentity,
                workload, identity, tunnelPeer, authorization, service);
    }

    /** A copy carrying the inbound authorization decision. */
    public ConnectionContext withAuthorization(dev.tessera.agent.policy.Decision decision) {
        return new ConnectionContext(direction, route, client, destination, sourceWorkload, sourceIdentity,
                destinationWorkload, destinationIdentity, tunnelPeer, decision, service);
    }

    /** A copy recording that the client addressed {@code svc}'s virtual IP. */
    public ConnectionContext withService(Service svc) {
        return new ConnectionContext(direction, route, client, destination, sourceWorkload, sourceIdentity,
                destinationWorkload, destinationIdentity, tunnelPeer, authorization, svc);
    }

    public ConnectionContext withRoute(RouteKind kind, InetSocketAddress peer) {
        return new ConnectionContext(direction, kind, client, destination, sourceWorkload, sourceIdentity,
                destinationWorkload, destinationIdentity, peer, authorization, service);
    }
}
