package dev.tessera.agent.tls;

import dev.tessera.api.identity.SpiffeId;
import java.security.cert.Certificate;
import java.security.cert.CertificateParsingException;
import java.security.cert.X509Certificate;
import java.util.Collection;
import java.util.List;
import java.util.Optional;
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.SSLSession;

/** Reads SPIFFE identities out of X.509 certificates and TLS sessions. */
public final class SpiffeCertificates {

    private static final int URI_SAN = 6;

    private SpiffeCertificates() {}

    /**
     * The SPIFFE id of a certificate: its one {@code spiffe://} URI SAN. Empty when it has none, or more
     * than one (ambiguous identities are not accepted).
     */
    public static Optional<SpiffeId> spiffeId(X509Certificate cert) {
        Collection<List<?>> sans;
        try {
            sans = cert.getSubjectAlternativeNames();
        } catch (CertificateParsingException e) {
            return Optional.empty();
        }
        if (sans == null) {
            return Optional.empty();
        }
        SpiffeId found = null;
        for (List<?> san : sans) {
            if (san.size() >= 2 && Integer.valueOf(URI_SAN).equals(san.get(0))
                    && san.get(1) instanceof String uri && uri.startsWith("spiffe://")) {
                if (found != null) {
                    return Optional.empty();
                }
                try {
                    found = SpiffeId.parse(uri);
                } catch (IllegalArgumentException e) {
                    return Optional.empty();
                }
            }
        }
        return Optional.ofNullable(found);
    }

    /**
     * The SPIFFE id of the peer of an established TLS session (its chain was validated against the trust
     * bundle during the handshake); empty when the peer sent no certificate or it has no single SPIFFE id.
     */
    public static Optional<SpiffeId> peerIdentity(SSLSession session) {
        try {
            Certificate[] chain = session.getPeerCertificates();
            if (chain.length == 0 || !(chain[0] instanceof X509Certificate leaf)) {
                return Optional.empty();
            }
            return spiffeId(leaf);
        } catch (SSLPeerUnverifiedException e) {
            return Optional.empty();
        }
    }
}
