package dev.tessera.agent.hbone;

import static java.util.Objects.requireNonNull;

import dev.tessera.api.identity.SpiffeId;
import java.net.InetSocketAddress;

/**
 * What one pooled HBONE connection is for: the local identity it presents, the identity the server must
 * present, and the destination node's HBONE address.
 */
public record PoolKey(SpiffeId source, SpiffeId destination, InetSocketAddress node) {
    public PoolKey {
        requireNonNull(source, "source");
        requireNonNull(destination, "destination");
        requireNonNull(node, "node");
    }
}
