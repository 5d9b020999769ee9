package dev.tessera.agent.identity;

import dev.tessera.api.identity.SpiffeId;
import java.security.cert.X509Certificate;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.bouncycastle.pkcs.PKCS10CertificationRequest;

/**
 * Gets workload certificates signed. The agent generates each key itself and sends only a CSR: a signer
 * never sees a private key. {@link LocalCaSigner} signs in-process with the local CA; the controller
 * client signs remotely (after the controller checked that this node runs a pod with that identity).
 */
public interface CertificateSigner {

    /**
     * Asks for a certificate for {@code id} over the CSR's public key.
     *
     * @return the chain, leaf first (without the root), or a future failed with the reason
     */
    CompletableFuture<List<X509Certificate>> sign(PKCS10CertificationRequest csr, SpiffeId id);

    /** The roots the signed chains lead to, plus any other currently trusted root (rotation). */
    List<X509Certificate> trustBundle();
}
