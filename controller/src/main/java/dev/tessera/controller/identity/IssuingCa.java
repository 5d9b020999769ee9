package dev.tessera.controller.identity;

import static java.util.Objects.requireNonNull;

import dev.tessera.api.identity.CertificateAuthority.Pem;
import dev.tessera.api.identity.CertificateAuthority;
import dev.tessera.api.identity.SpiffeId;
import java.io.IOException;
import java.security.GeneralSecurityException;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.bouncycastle.pkcs.PKCS10CertificationRequest;

/**
 * The controller's certificate authority: one or more trusted roots (the trust bundle every agent
 * receives) and the issuing CA that signs workload certificates, usually an intermediate under one of
 * the roots. Immutable.
 *
 * <p>Its Secret form is cert-manager compatible: {@value #TLS_CRT} holds the issuing certificate first,
 * then any further intermediates up to (optionally including) a root; {@value #TLS_KEY} the issuing
 * certificate's private key; {@value #CA_CRT} the trusted roots (several during a rotation). A generated
 * CA keeps no root key: the root signs the intermediate once and its key is discarded.
 */
public final class IssuingCa {

    /** Secret key of the issuing certificate chain (PEM). */
    public static final String TLS_CRT = "tls.crt";
    /** Secret key of the issuing certificate's private key (PEM). */
    public static final String TLS_KEY = "tls.key";
    /** Secret key of the trusted roots (PEM, one or more). */
    public static final String CA_CRT = "ca.crt";
    /** Lifetime of a generated intermediate. */
    public static final Duration INTERMEDIATE_VALIDITY = Duration.ofDays(5 * 365);

    private final CertificateAuthority issuer;
    private final List<X509Certificate> intermediates;
    private final List<X509Certificate> roots;

    private IssuingCa(CertificateAuthority issuer, List<X509Certificate> intermediates, List<X509Certificate> roots) {
        this.issuer = issuer;
        this.intermediates = List.copyOf(intermediates);
        this.roots = List.copyOf(roots);
    }

    /** A new root and an issuing intermediate under it for a trust domain; the root key is discarded. */
    public static IssuingCa generate(String trustDomain) {
        CertificateAuthority root = CertificateAuthority.generate(trustDomain);
        CertificateAuthority intermediate = root.newIntermediate(trustDomain, INTERMEDIATE_VALIDITY);
        return new IssuingCa(intermediate, List.of(intermediate.certificate()), List.of(root.certificate()));
    }

    /**
     * A CA from the PEM values of a cert-manager style Secret.
     *
     * @throws IllegalArgumentException naming the Secret key when a value is missing, unreadable or does
     *     not fit: the key must match the first certificate of {@value #TLS_CRT}, which must be a CA, and
     *     the chain must verify up to one of the roots in {@value #CA_CRT}
     */
    public static IssuingCa fromPem(String tlsCrt, String tlsKey, String caCrt) {
        List<X509Certificate> chain = certificates(TLS_CRT, tlsCrt);
        List<X509Certificate> roots = certificates(CA_CRT, caCrt);
        if (tlsKey == null || tlsKey.isBlank()) {
            throw new IllegalArgumentException(TLS_KEY + ": missing (expected: the PEM private key of " + TLS_CRT + ")");
        }
        PrivateKey key;
        try {
            key = Pem.readPrivateKey(tlsKey);
        } catch (IOException | RuntimeException e) {
            throw new IllegalArgumentException(TLS_KEY + ": " + e.getMessage(), e);
        }
        // Workload certificates are signed with SHA256withECDSA: another key type would otherwise be reported
        // as a key not matching its certificate (cert-manager's default private key is RSA 2048).
        if (!(key instanceof java.security.interfaces.ECPrivateKey ec)
                || ec.getParams().getCurve().getField().getFieldSize() != 256) {
            throw new IllegalArgumentException(TLS_KEY + ": " + key.getAlgorithm() + " key (expected: an ECDSA P-256"
                    + " key; with cert-manager: spec.privateKey.algorithm: ECDSA, size: 256)");
        }
        CertificateAuthority issuer;
        try {
            issuer = CertificateAuthority.of(chain.get(0), key);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(TLS_CRT + "/" + TLS_KEY + ": " + e.getMessage(), e);
        }
        var bundle = new LinkedHashMap<PublicKey, X509Certificate>();
        roots.forEach(r -> bundle.putIfAbsent(r.getPublicKey(), r));
        // The intermediates sent with each leaf: tls.crt minus any root it ends with.
        var inter = new ArrayList<X509Certificate>();
        for (X509Certificate c : chain) {
            if (!bundle.containsKey(c.getPublicKey())) {
                inter.add(c);
            }
        }
        verifyChain(inter.isEmpty() ? List.of(chain.get(0)) : inter, List.copyOf(bundle.values()));
        return new IssuingCa(issuer, inter, List.copyOf(bundle.values()));
    }

    private static List<X509Certificate> certificates(String secretKey, String pem) {
        if (pem == null || pem.isBlank()) {
            throw new IllegalArgumentException(secretKey + ": missing (expected: PEM certificates)");
        }
        List<X509Certificate> certs;
        try {
            certs = Pem.readCertificates(pem);
        } catch (IOException | RuntimeException e) {
            throw new IllegalArgumentException(secretKey + ": unreadable certificate: " + e.getMessage()
                    + " (expected: PEM certificates)", e);
        }
        if (certs.isEmpty()) {
            throw new IllegalArgumentException(secretKey + ": no certificate (expected: PEM certificates)");
        }
        return certs;
    }

    /** Each certificate is signed by the next; the last is a root or signed by one. */
    private static void verifyChain(List<X509Certificate> chain, List<X509Certificate> roots) {
        for (int i = 0; i + 1 < chain.size(); i++) {
            if (!signedBy(chain.get(i), chain.get(i + 1).getPublicKey())) {
                throw new IllegalArgumentException(TLS_CRT + ": certificate " + (i + 1) + " ("
                        + chain.get(i).getSubjectX500Principal().getName()
                        + ") is not signed by the next one (expected: issuing certificate first, then its issuers)");
            }
        }
        X509Certificate top = chain.get(chain.size() - 1);
        for (X509Certificate root : roots) {
            if (signedBy(top, root.getPublicKey())) {
                return;
            }
        }
        throw new IllegalArgumentException(TLS_CRT + ": " + top.getSubjectX500Principal().getName()
                + " does not chain to any root of " + CA_CRT + " (expected: " + CA_CRT + " to hold its root)");
    }

    private static boolean signedBy(X509Certificate cert, PublicKey issuerKey) {
        try {
            cert.verify(issuerKey);
            return true;
        } catch (GeneralSecurityException e) {
            return false;
        }
    }

    /**
     * Signs a workload certificate for exactly {@code id} (see {@link CertificateAuthority#sign}).
     *
     * @return the chain to present: leaf first, then the intermediates (without the root)
     */
    public List<X509Certificate> issue(PKCS10CertificationRequest csr, SpiffeId id, Duration ttl) {
        var chain = new ArrayList<X509Certificate>(1 + intermediates.size());
        chain.add(issuer.sign(csr, id, ttl));
        chain.addAll(intermediates);
        return List.copyOf(chain);
    }

    /**
     * Signs a serving certificate (the controller's own, for 15012) with DNS and IP SANs besides the SPIFFE id.
     *
     * @return the chain to present: leaf first, then the intermediates
     */
    public List<X509Certificate> issueServer(PublicKey key, SpiffeId id, List<String> dnsNames,
            List<java.net.InetAddress> ips, Duration ttl) {
        var chain = new ArrayList<X509Certificate>(1 + intermediates.size());
        chain.add(issuer.signServer(key, id, dnsNames, ips, ttl));
        chain.addAll(intermediates);
        return List.copyOf(chain);
    }

    /** The trusted roots: what agents verify peers against. */
    public List<X509Certificate> trustBundle() {
        return roots;
    }

    /** The certificates between a leaf and the roots, issuing certificate first (empty if it is a root). */
    public List<X509Certificate> intermediates() {
        return intermediates;
    }

    /** The certificate that signs workload certificates. */
    public X509Certificate issuingCertificate() {
        return issuer.certificate();
    }

    /** The PEM values of the Secret form ({@value #TLS_CRT}, {@value #TLS_KEY}, {@value #CA_CRT}). */
    public Map<String, String> toSecretData() {
        List<X509Certificate> chain = intermediates.isEmpty() ? List.of(issuer.certificate()) : intermediates;
        return Map.of(
                TLS_CRT, Pem.write(chain.toArray()),
                TLS_KEY, Pem.write(issuer.privateKey()),
                CA_CRT, Pem.write(roots.toArray()));
    }
}
