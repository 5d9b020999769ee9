package dev.tessera.agent.identity;

import dev.tessera.api.identity.SpiffeId;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.cert.CertificateParsingException;
import java.security.cert.X509Certificate;
import java.util.List;

/**
 * Checks what a signer returned before the agent uses it: a chain for our key, exactly our SPIFFE id,
 * valid now, and leading to a trusted root. A signer that answers wrongly fails here, not in a handshake.
 */
final class IssuedChains {

    private IssuedChains() {}

    static CertifiedKey check(SpiffeId id, KeyPair keyPair, List<X509Certificate> chain, List<X509Certificate> roots) {
        if (chain == null || chain.isEmpty()) {
            throw new IllegalStateException("signer returned no certificate (expected: a chain, leaf first)");
        }
        X509Certificate leaf = chain.get(0);
        if (!leaf.getPublicKey().equals(keyPair.getPublic())) {
            throw new IllegalStateException("leaf: public key differs from the CSR's (expected: a certificate for our key)");
        }
        List<String> uris = uriSans(leaf);
        if (!uris.equals(List.of(id.toString()))) {
            throw new IllegalStateException("leaf: URI SANs " + uris + " (expected: exactly [" + id + "])");
        }
        try {
            leaf.checkValidity();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("leaf: not valid now, " + leaf.getNotBefore() + " to " + leaf.getNotAfter()
                    + " (expected: a currently valid certificate)", e);
        }
        for (int i = 0; i + 1 < chain.size(); i++) {
            if (!signedBy(chain.get(i), chain.get(i + 1))) {
                throw new IllegalStateException("chain[" + i + "]: not signed by chain[" + (i + 1)
                        + "] (expected: leaf first, each certificate followed by its issuer)");
            }
        }
        X509Certificate last = chain.get(chain.size() - 1);
        if (roots.stream().noneMatch(r -> r.equals(last) || signedBy(last, r))) {
            throw new IllegalStateException("chain: issuer " + last.getIssuerX500Principal().getName()
                    + " is not in the trust bundle (expected: a chain to one of " + roots.size() + " trusted roots)");
        }
        return new CertifiedKey(id, keyPair.getPrivate(), chain);
    }

    private static boolean signedBy(X509Certificate cert, X509Certificate issuer) {
        if (!cert.getIssuerX500Principal().equals(issuer.getSubjectX500Principal())) {
            return false;
        }
        try {
            cert.verify(issuer.getPublicKey());
            return true;
        } catch (GeneralSecurityException e) {
            return false;
        }
    }

    static List<String> uriSans(X509Certificate cert) {
        try {
            var sans = cert.getSubjectAlternativeNames();
            if (sans == null) {
                return List.of();
            }
            return sans.stream().filter(s -> Integer.valueOf(6).equals(s.get(0))).map(s -> (String) s.get(1)).toList();
        } catch (CertificateParsingException e) {
            throw new IllegalStateException("leaf: unreadable subjectAltName (expected: a SPIFFE URI SAN)", e);
        }
    }
}
