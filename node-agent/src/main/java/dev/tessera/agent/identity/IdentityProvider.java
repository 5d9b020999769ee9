package dev.tessera.agent.identity;

import dev.tessera.api.identity.SpiffeId;
import java.security.cert.X509Certificate;
import java.util.List;
import java.util.Optional;

/**
 * Certificates of the workloads running on this node, and the trust bundle to verify peers with.
 * Implementations keep certificates renewed; callers always ask again rather than caching.
 */
public interface IdentityProvider {

    /**
     * The current certificate of a local workload identity, or empty when this node holds none
     * (no local pod runs with that identity, or issuance failed).
     */
    Optional<CertifiedKey> certificate(SpiffeId id);

    /** Every trusted root (several during a root rotation). */
    List<X509Certificate> trustBundle();
}
