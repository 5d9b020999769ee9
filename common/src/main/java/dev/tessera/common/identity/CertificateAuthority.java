package dev.tessera.common.identity;

import static java.util.Objects.requireNonNull;

import java.io.IOException;
import java.io.StringReader;
import java.io.StringWriter;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import java.util.List;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509ExtensionUtils;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.openssl.PEMKeyPair;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.operator.ContentSigner;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.bouncycastle.pkcs.PKCS10CertificationRequest;
import org.bouncycastle.pkcs.jcajce.JcaPKCS10CertificationRequest;
import org.bouncycastle.pkcs.jcajce.JcaPKCS10CertificationRequestBuilder;
import org.bouncycastle.operator.jcajce.JcaContentVerifierProviderBuilder;

/**
 * A certificate authority (Bouncy Castle, ECDSA P-256) that signs workload certificates carrying a
 * SPIFFE URI SAN. Keys of workloads never reach it: it signs certificate signing requests.
 *
 * <p>In local mode the root lives in a directory ({@code ca.crt}, {@code ca.key}); the controller issue
 * adds an issuing intermediate and Secret storage around the same signing code.
 */
public final class CertificateAuthority {

    /** Default workload certificate lifetime. */
    public static final Duration DEFAULT_TTL = Duration.ofHours(24);

    private static final String SIG_ALG = "SHA256withECDSA";
    private static final SecureRandom RANDOM = new SecureRandom();

    private final X509Certificate certificate;
    private final PrivateKey key;

    private CertificateAuthority(X509Certificate certificate, PrivateKey key) {
        this.certificate = requireNonNull(certificate, "certificate");
        this.key = requireNonNull(key, "key");
    }

    /** A new self-signed root for a trust domain, valid ten years. */
    public static CertificateAuthority generate(String trustDomain) {
        requireNonNull(trustDomain, "trustDomain");
        try {
            KeyPair kp = newKeyPair();
            X500Name name = new X500Name("O=tessera,CN=tessera root " + trustDomain);
            Instant now = Instant.now();
            var builder = new JcaX509v3CertificateBuilder(name, serial(), Date.from(now.minusSeconds(300)),
                    Date.from(now.plus(Duration.ofDays(3650))), name, kp.getPublic());
            var ext = new JcaX509ExtensionUtils();
            builder.addExtension(Extension.basicConstraints, true, new BasicConstraints(true));
            builder.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign));
            builder.addExtension(Extension.subjectKeyIdentifier, false, ext.createSubjectKeyIdentifier(kp.getPublic()));
            return new CertificateAuthority(sign(builder, kp.getPrivate()), kp.getPrivate());
        } catch (GeneralSecurityException | IOException e) {
            throw new IllegalStateException("cannot generate CA for " + trustDomain, e);
        }
    }

    /** Loads {@code ca.crt} and {@code ca.key} (PEM) from a directory. */
    public static CertificateAuthority load(Path dir) throws IOException {
        X509Certificate cert = Pem.readCertificates(Files.readString(dir.resolve("ca.crt"))).get(0);
        PrivateKey key = Pem.readPrivateKey(Files.readString(dir.resolve("ca.key")));
        return new CertificateAuthority(cert, key);
    }

    /** Writes {@code ca.crt} and {@code ca.key} (mode 0600) to a directory. */
    public void save(Path dir) throws IOException {
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("ca.crt"), Pem.write(certificate));
        Path keyFile = dir.resolve("ca.key");
        Files.writeString(keyFile, Pem.write(key));
        Files.setPosixFilePermissions(keyFile, PosixFilePermissions.fromString("rw-------"));
    }

    public X509Certificate certificate() {
        return certificate;
    }

    /**
     * Signs a CSR for exactly {@code id}: the certificate's only SAN is the SPIFFE URI, whatever the CSR
     * asked for; the CSR's own signature must verify (proof of possession of the key).
     */
    public X509Certificate sign(PKCS10CertificationRequest csr, SpiffeId id, Duration ttl) {
        requireNonNull(csr, "csr");
        requireNonNull(id, "id");
        requireNonNull(ttl, "ttl");
        try {
            var jcsr = new JcaPKCS10CertificationRequest(csr);
            if (!csr.isSignatureValid(new JcaContentVerifierProviderBuilder().build(jcsr.getPublicKey()))) {
                throw new IllegalArgumentException("csr: signature does not verify (expected: signed by the requested key)");
            }
            Instant now = Instant.now();
            var builder = new JcaX509v3CertificateBuilder(certificate, serial(), Date.from(now.minusSeconds(60)),
                    Date.from(now.plus(ttl)), new X500Name("O=tessera"), jcsr.getPublicKey());
            var ext = new JcaX509ExtensionUtils();
            builder.addExtension(Extension.basicConstraints, true, new BasicConstraints(false));
            builder.addExtension(Extension.keyUsage, true,
                    new KeyUsage(KeyUsage.digitalSignature | KeyUsage.keyAgreement));
            builder.addExtension(Extension.extendedKeyUsage, false, new ExtendedKeyUsage(
                    new KeyPurposeId[] {KeyPurposeId.id_kp_serverAuth, KeyPurposeId.id_kp_clientAuth}));
            builder.addExtension(Extension.subjectAlternativeName, true,
                    new GeneralNames(new GeneralName(GeneralName.uniformResourceIdentifier, id.toString())));
            builder.addExtension(Extension.authorityKeyIdentifier, false, ext.createAuthorityKeyIdentifier(certificate));
            return sign(builder, key);
        } catch (GeneralSecurityException | IOException | org.bouncycastle.operator.OperatorCreationException
                | org.bouncycastle.pkcs.PKCSException e) {
            throw new IllegalArgumentException("csr: cannot sign for " + id + ": " + e.getMessage(), e);
        }
    }

    /** A new ECDSA P-256 key pair (generated where the workload's certificate will be used). */
    public static KeyPair newKeyPair() {
        try {
            KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
            g.initialize(new ECGenParameterSpec("secp256r1"), RANDOM);
            return g.generateKeyPair();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("no ECDSA P-256 in this JDK", e);
        }
    }

    /** A CSR for a key pair, asking for {@code id} as URI SAN. */
    public static PKCS10CertificationRequest csr(KeyPair keyPair, SpiffeId id) {
        try {
            var b = new JcaPKCS10CertificationRequestBuilder(new X500Name("O=tessera"), keyPair.getPublic());
            var exts = new org.bouncycastle.asn1.x509.ExtensionsGenerator();
            exts.addExtension(Extension.subjectAlternativeName, true,
                    new GeneralNames(new GeneralName(GeneralName.uniformResourceIdentifier, id.toString())));
            b.addAttribute(org.bouncycastle.asn1.pkcs.PKCSObjectIdentifiers.pkcs_9_at_extensionRequest, exts.generate());
            ContentSigner signer = new JcaContentSignerBuilder(SIG_ALG).build(keyPair.getPrivate());
            return b.build(signer);
        } catch (IOException | org.bouncycastle.operator.OperatorCreationException e) {
            throw new IllegalStateException("cannot build CSR for " + id, e);
        }
    }

    private static X509Certificate sign(X509v3CertificateBuilder builder, PrivateKey key)
            throws GeneralSecurityException {
        try {
            ContentSigner signer = new JcaContentSignerBuilder(SIG_ALG).build(key);
            return new JcaX509CertificateConverter().getCertificate(builder.build(signer));
        } catch (org.bouncycastle.operator.OperatorCreationException e) {
            throw new GeneralSecurityException(e);
        }
    }

    private static BigInteger serial() {
        return new BigInteger(127, RANDOM);
    }

    /** PEM reading and writing. */
    public static final class Pem {
        private Pem() {}

        public static String write(Object... objects) {
            var out = new StringWriter();
            try (var w = new JcaPEMWriter(out)) {
                for (Object o : objects) {
                    w.writeObject(o);
                }
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
            return out.toString();
        }

        public static List<X509Certificate> readCertificates(String pem) throws IOException {
            var certs = new java.util.ArrayList<X509Certificate>();
            try (var p = new PEMParser(new StringReader(pem))) {
                Object o;
                while ((o = p.readObject()) != null) {
                    if (o instanceof org.bouncycastle.cert.X509CertificateHolder h) {
                        certs.add(new JcaX509CertificateConverter().getCertificate(h));
                    }
                }
            } catch (java.security.cert.CertificateException e) {
                throw new IOException("certificate: unreadable PEM (expected: X.509 CERTIFICATE blocks)", e);
            }
            if (certs.isEmpty()) {
                throw new IOException("certificate: none found (expected: at least one CERTIFICATE block)");
            }
            return certs;
        }

        public static PrivateKey readPrivateKey(String pem) throws IOException {
            try (var p = new PEMParser(new StringReader(pem))) {
                Object o = p.readObject();
                var conv = new JcaPEMKeyConverter();
                if (o instanceof PEMKeyPair kp) {
                    return conv.getKeyPair(kp).getPrivate();
                }
                if (o instanceof org.bouncycastle.asn1.pkcs.PrivateKeyInfo info) {
                    return conv.getPrivateKey(info);
                }
                throw new IOException("key: unreadable PEM (expected: an EC PRIVATE KEY or PRIVATE KEY block)");
            }
        }
    }
}
