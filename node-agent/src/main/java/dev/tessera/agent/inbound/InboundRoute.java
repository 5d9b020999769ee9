package dev.tessera.agent.inbound;

import static java.util.Objects.requireNonNull;

import dev.tessera.agent.connection.CloseReason;
import dev.tessera.agent.hbone.Hbone;
import dev.tessera.api.identity.SpiffeId;
import dev.tessera.api.model.MeshSnapshot;
import dev.tessera.api.model.Workload;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http2.Http2Headers;
import java.net.InetSocketAddress;

/**
 * Where an HBONE CONNECT may go, decided from the request, the mesh state and the identity the client
 * connected to (SNI). The server is never an open relay: the target must be a meshed pod of this node
 * whose identity is the one the TLS session was established for.
 *
 * @param target the pod address to connect to, or null when refused
 * @param workload the target workload, or null when refused before it was found
 * @param refusal why the CONNECT is refused, or null when it is allowed
 */
public record InboundRoute(InetSocketAddress target, Workload workload, CloseReason refusal) {

    /** Decides; a pure function of its arguments. */
    public static InboundRoute resolve(Http2Headers request, MeshSnapshot snapshot, String nodeName,
            SpiffeId localIdentity) {
        requireNonNull(request, "request");
        requireNonNull(snapshot, "snapshot");
        requireNonNull(nodeName, "nodeName");
        if (!HttpMethod.CONNECT.asciiName().contentEquals(request.method())) {
            return new InboundRoute(null, null, CloseReason.BAD_REQUEST);
        }
        InetSocketAddress target;
        try {
            target = Hbone.parseAuthority(request.authority());
        } catch (IllegalArgumentException e) {
            return new InboundRoute(null, null, CloseReason.BAD_REQUEST);
        }
        Workload w = snapshot.workloadByIp(target.getAddress()).orElse(null);
        if (w == null) {
            return new InboundRoute(target, null, CloseReason.TARGET_UNKNOWN);
        }
        if (!w.meshed()) {
            return new InboundRoute(target, w, CloseReason.TARGET_NOT_MESHED);
        }
        if (!w.node().equals(nodeName)) {
            return new InboundRoute(target, w, CloseReason.TARGET_NOT_LOCAL);
        }
        if (!w.identity().equals(localIdentity)) {
            return new InboundRoute(target, w, CloseReason.IDENTITY_MISMATCH);
        }
        return new InboundRoute(target, w, null);
    }

    public boolean allowed() {
        return refusal == null;
    }
}
