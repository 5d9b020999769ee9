package dev.tessera.agent.policy;

import static java.util.Objects.requireNonNull;

import dev.tessera.api.identity.SpiffeId;
import dev.tessera.api.model.Workload;
import java.net.InetAddress;

/**
 * What the inbound authorizer decides on: an L4 connection to a local workload.
 *
 * @param destination the destination workload (on this node)
 * @param port the destination port
 * @param sourceIdentity the verified source identity (peer certificate, or the local source pod's), or
 *     {@code null} when there is none
 * @param sourceIp the source address as this agent sees it (the source pod's address when known)
 */
public record AuthorizationRequest(Workload destination, int port, SpiffeId sourceIdentity, InetAddress sourceIp) {

    public AuthorizationRequest {
        requireNonNull(destination, "destination");
        requireNonNull(sourceIp, "sourceIp");
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException("port: " + port + " (expected: 0-65535)");
        }
    }

    /** The principal as policies write it: {@code td/ns/N/sa/S}, or {@code null}. */
    public String principal() {
        return sourceIdentity == null ? null
                : sourceIdentity.trustDomain() + "/ns/" + sourceIdentity.namespace() + "/sa/"
                        + sourceIdentity.serviceAccount();
    }
}
