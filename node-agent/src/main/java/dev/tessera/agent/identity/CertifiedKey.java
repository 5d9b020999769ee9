package dev.tessera.agent.identity;

import static java.util.Objects.requireNonNull;

import dev.tessera.api.identity.SpiffeId;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.util.List;

/**
 * A workload's private key (generated on this node) with its certificate chain, leaf first.
 */
public record CertifiedKey(SpiffeId id, PrivateKey key, List<X509Certificate> chain) {
    public CertifiedKey {
        requireNonNull(id, "id");
        requireNonNull(key, "key");
        chain = List.copyOf(requireNonNull(chain, "chain"));
        if (chain.isEmpty()) {
            throw new IllegalArgumentException("chain: empty (expected: leaf certificate first)");
        }
    }

    public X509Certificate leaf() {
        return chain.get(0);
    }
}
