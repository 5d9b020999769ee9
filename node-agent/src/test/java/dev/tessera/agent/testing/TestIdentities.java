package dev.tessera.agent.testing;

import dev.tessera.agent.identity.CertifiedKey;
import dev.tessera.agent.identity.IdentityProvider;
import dev.tessera.api.identity.CertificateAuthority;
import dev.tessera.api.identity.SpiffeId;
import java.security.KeyPair;
import java.security.cert.X509Certificate;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * An identity provider for tests backed by the real {@link CertificateAuthority}: keys are generated,
 * CSRs built and signed exactly as on a node; only the renewal loop is missing.
 */
public final class TestIdentities implements IdentityProvider {

    private final Map<SpiffeId, CertifiedKey> certs = new HashMap<>();
    private final List<X509Certificate> bundle;

    public TestIdentities(List<X509Certificate> bundle) {
        this.bundle = List.copyOf(bundle);
    }

    /** Holds certificates of {@code ids}, issued by {@code ca}; trusts {@code ca}. */
    public static TestIdentities issuedBy(CertificateAuthority ca, SpiffeId... ids) {
        var t = new TestIdentities(List.of(ca.certificate()));
        for (SpiffeId id : ids) {
            t.put(issue(ca, id, id));
        }
        return t;
    }

    /** A key and certificate for {@code san}, filed under {@code id} (they differ only for liar tests). */
    public static CertifiedKey issue(CertificateAuthority ca, SpiffeId id, SpiffeId san) {
        KeyPair kp = CertificateAuthority.newKeyPair();
        X509Certificate cert = ca.sign(CertificateAuthority.csr(kp, san), san, CertificateAuthority.DEFAULT_TTL);
        return new CertifiedKey(id, kp.getPrivate(), List.of(cert));
    }

    public TestIdentities put(CertifiedKey key) {
        synchronized (certs) {
            certs.put(key.id(), key);
        }
        return this;
    }

    @Override
    public Optional<CertifiedKey> certificate(SpiffeId id) {
        synchronized (certs) {
            return Optional.ofNullable(certs.get(id));
        }
    }

    @Override
    public List<X509Certificate> trustBundle() {
        return bundle;
    }
}
