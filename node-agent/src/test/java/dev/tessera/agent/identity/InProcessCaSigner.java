package dev.tessera.agent.identity;

import static java.util.Objects.requireNonNull;

import dev.tessera.api.identity.CertificateAuthority;
import dev.tessera.api.identity.SpiffeId;
import java.io.IOException;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.bouncycastle.pkcs.PKCS10CertificationRequest;

/**
 * Test signer: signs CSRs in-process with a real certificate authority (the controller's SvidIssuer does
 * this in production): the certificate's only SAN is the requested SPIFFE id, valid for the given TTL.
 */
public final class InProcessCaSigner implements CertificateSigner {

    private final CertificateAuthority ca;
    private final List<X509Certificate> trustBundle;
    private final Duration ttl;

    /**
     * @param ca the signing CA
     * @param trustBundle every trusted root; must contain {@code ca}'s certificate
     * @param ttl the lifetime of issued certificates
     */
    public InProcessCaSigner(CertificateAuthority ca, List<X509Certificate> trustBundle, Duration ttl) {
        this.ca = requireNonNull(ca, "ca");
        this.trustBundle = List.copyOf(requireNonNull(trustBundle, "trustBundle"));
        this.ttl = requireNonNull(ttl, "ttl");
        if (ttl.isNegative() || ttl.isZero()) {
            throw new IllegalArgumentException("ttl: " + ttl + " (expected: a positive duration)");
        }
        if (!this.trustBundle.contains(ca.certificate())) {
            throw new IllegalArgumentException("trustBundle: does not contain the CA certificate "
                    + ca.certificate().getSubjectX500Principal().getName() + " (expected: the signing root included)");
        }
    }


    /** The CA of a directory with a certificate lifetime. */
    public static InProcessCaSigner load(Path caDir, Duration ttl) throws IOException {
        return new InProcessCaSigner(CertificateAuthority.load(caDir), CertificateAuthority.trustBundle(caDir), ttl);
    }

    /** Signs at once on the calling thread; the future is already complete (or failed with the reason). */
    @Override
    public CompletableFuture<List<X509Certificate>> sign(PKCS10CertificationRequest csr, SpiffeId id) {
        try {
            return CompletableFuture.completedFuture(List.of(ca.sign(csr, id, ttl)));
        } catch (RuntimeException e) {
            return CompletableFuture.failedFuture(e);
        }
    }

    @Override
    public List<X509Certificate> trustBundle() {
        return trustBundle;
    }

    /** The lifetime of issued certificates. */
    public Duration ttl() {
        return ttl;
    }
}
