package dev.tessera.api.identity;

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
import org.bouncycastle.operator.jcajce.JcaContentVerifierProviderBuilder;
import org.bouncycastle.pkcs.PKCS10CertificationRequest;
import org.bouncycastle.pkcs.jcajce.JcaPKCS10CertificationRequest;
import org.bouncycastle.pkcs.jcajce.JcaPKCS10CertificationRequestBuilder;

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

    /** The CA certificate file (PEM; may hold several certificates) in a CA directory. */
    public static final String CERT_FILE = "ca.crt";
    /** The CA private key file (PEM, mode 0600) in a CA directory. */
    public static final String KEY_FILE = "ca.key";
    /** Optional extra trusted roots (PEM) in a CA directory. */
    public static final String BUNDLE_FILE = "trust-bundle.crt";

    private static final String SIG_ALG = "SHA256withECDSA";
    private static final SecureRandom RANDOM = new SecureRandom();

    private static final java.security.spec.ECParameterSpec P256 =
            ((java.security.interfaces.ECPublicKey) newKeyPair().getPublic()).getParams();

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

    /**
     * A CA from a certificate and its private key (e.g. read from a Kubernetes Secret).
     *
     * @throws IllegalArgumentException when the key does not belong to the certificate or the
     *     certificate is not a CA
     */
    public static CertificateAuthority of(X509Certificate certificate, PrivateKey key) {
        requireNonNull(certificate, "certificate");
        requireNonNull(key, "key");
        if (!matches(certificate, key)) {
            throw new IllegalArgumentException("key: does not match certificate "
                    + certificate.getSubjectX500Principal().getName() + " (expected: that certificate's private key)");
        }
        if (certificate.getBasicConstraints() < 0) {
            throw new IllegalArgumentException("certificate: " + certificate.getSubjectX500Principal().getName()
                    + " is not a CA (expected: basicConstraints CA:true)");
        }
        return new CertificateAuthority(certificate, key);
    }

    /**
     * A new issuing intermediate signed by this CA (path length 0: it signs workload certificates only),
     * valid for {@code validity} but never beyond this CA.
     */
    public CertificateAuthority newIntermediate(String trustDomain, Duration validity) {
        requireNonNull(trustDomain, "trustDomain");
        requireNonNull(validity, "validity");
        if (validity.isNegative() || validity.isZero()) {
            throw new IllegalArgumentException("validity: " + validity + " (expected: a positive duration)");
        }
        try {
            KeyPair kp = newKeyPair();
            Instant now = Instant.now();
            Instant notAfter = now.plus(validity);
            if (notAfter.isAfter(certificate.getNotAfter().toInstant())) {
                notAfter = certificate.getNotAfter().toInstant();
            }
            var builder = new JcaX509v3CertificateBuilder(certificate, serial(), Date.from(now.minusSeconds(300)),
                    Date.from(notAfter), new X500Name("O=tessera,CN=tessera issuing " + trustDomain), kp.getPublic());
            var ext = new JcaX509ExtensionUtils();
            builder.addExtension(Extension.basicConstraints, true, new BasicConstraints(0));
            builder.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign));
            builder.addExtension(Extension.subjectKeyIdentifier, false, ext.createSubjectKeyIdentifier(kp.getPublic()));
            builder.addExtension(Extension.authorityKeyIdentifier, false, ext.createAuthorityKeyIdentifier(certificate));
            return new CertificateAuthority(sign(builder, key), kp.getPrivate());
        } catch (GeneralSecurityException | IOException e) {
            throw new IllegalStateException("cannot generate an intermediate for " + trustDomain, e);
        }
    }

    /** The CA's private key, for storing it (e.g. in a Kubernetes Secret); never send it anywhere else. */
    public PrivateKey privateKey() {
        return key;
    }

    /**
     * Loads {@code ca.crt} and {@code ca.key} (PEM) from a directory. {@code ca.crt} may hold several
     * certificates (a bundle during a root rotation): the signing certificate is the one whose public key
     * matches {@code ca.key}; {@link #trustBundle(Path)} returns all of them.
     */
    public static CertificateAuthority load(Path dir) throws IOException {
        requireNonNull(dir, "dir");
        Path certFile = dir.resolve(CERT_FILE);
        Path keyFile = dir.resolve(KEY_FILE);
        List<X509Certificate> certs = readCertificates(certFile);
        PrivateKey key;
        try {
            key = Pem.readPrivateKey(Files.readString(keyFile));
        } catch (IOException e) {
            throw new IOException(keyFile + ": " + e.getMessage(), e);
        }
        for (X509Certificate cert : certs) {
            if (matches(cert, key)) {
                if (cert.getBasicConstraints() < 0) {
                    throw new IOException(certFile + ": certificate " + cert.getSubjectX500Principal().getName()
                            + " is not a CA (expected: basicConstraints CA:true)");
                }
                return new CertificateAuthority(cert, key);
            }
        }
        throw new IOException(certFile + ": no certificate matches " + keyFile
                + " (expected: the CA certificate of that private key)");
    }

    /**
     * Every trusted root of a CA directory: all certificates in {@code ca.crt}, plus those in
     * {@code trust-bundle.crt} when that file exists (roots being introduced or retired), without
     * duplicates, in file order.
     */
    public static List<X509Certificate> trustBundle(Path dir) throws IOException {
        requireNonNull(dir, "dir");
        var all = new java.util.LinkedHashMap<java.security.PublicKey, X509Certificate>();
        for (X509Certificate c : readCertificates(dir.resolve(CERT_FILE))) {
            all.putIfAbsent(c.getPublicKey(), c);
        }
        Path extra = dir.resolve(BUNDLE_FILE);
        if (Files.exists(extra)) {
            for (X509Certificate c : readCertificates(extra)) {
                all.putIfAbsent(c.getPublicKey(), c);
            }
        }
        return List.copyOf(all.values());
    }

    private static List<X509Certificate> readCertificates(Path file) throws IOException {
        try {
            return Pem.readCertificates(Files.readString(file));
        } catch (IOException e) {
            throw new IOException(file + ": " + e.getMessage(), e);
        }
    }

    /** Whether a private key belongs to a certificate: a test signature verifies with its public key. */
    private static boolean matches(X509Certificate cert, PrivateKey key) {
        try {
            byte[] probe = "tessera-ca-key-check".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
            var s = java.security.Signature.getInstance(SIG_ALG);
            s.initSign(key);
            s.update(probe);
            byte[] sig = s.sign();
            var v = java.security.Signature.getInstance(SIG_ALG);
            v.initVerify(cert.getPublicKey());
            v.update(probe);
            return v.verify(sig);
        } catch (GeneralSecurityException e) {
            return false; // a different key type: not this certificate's key
        }
    }

    /**
     * Writes {@code ca.crt} and {@code ca.key} to a directory. The key file is created with mode 0600
     * before any key byte is written and then moved into place, so it is never readable by others.
     */
    public void save(Path dir) throws IOException {
        Files.createDirectories(dir);
        Files.writeString(dir.resolve(CERT_FILE), Pem.write(certificate));
        Path keyFile = dir.resolve(KEY_FILE);
        Path tmp = dir.resolve(KEY_FILE + ".tmp");
        Files.deleteIfExists(tmp);
        Files.createFile(tmp, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        Files.writeString(tmp, Pem.write(key));
        Files.move(tmp, keyFile, java.nio.file.StandardCopyOption.REPLACE_EXISTING,
                java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    }

    /** The CA's own (signing) certificate. */
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
        if (ttl.isNegative() || ttl.isZero()) {
            throw new IllegalArgumentException("ttl: " + ttl + " (expected: a positive duration)");
        }
        try {
            var jcsr = new JcaPKCS10CertificationRequest(csr);
            var publicKey = jcsr.getPublicKey();
            if (!isP256(publicKey)) {
                throw new IllegalArgumentException("csr: key " + publicKey.getAlgorithm() + " (expected: EC P-256)");
            }
            if (!csr.isSignatureValid(new JcaContentVerifierProviderBuilder().build(publicKey))) {
                throw new IllegalArgumentException("csr: signature does not verify (expected: signed by the requested key)");
            }
            Instant now = Instant.now();
            // Never outlive the issuer: a leaf valid after its CA expires would fail verification anyway.
            Instant notAfter = now.plus(ttl);
            Instant caNotAfter = certificate.getNotAfter().toInstant();
            if (notAfter.isAfter(caNotAfter)) {
                notAfter = caNotAfter;
            }
            var builder = new JcaX509v3CertificateBuilder(certificate, serial(), Date.from(now.minusSeconds(60)),
                    Date.from(notAfter), new X500Name("O=tessera"), publicKey);
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

    /**
     * Signs a serving certificate (the controller's, on 15012): SANs are the SPIFFE id plus DNS names and
     * IP addresses, so clients can verify it as an ordinary TLS server by host name.
     */
    public X509Certificate signServer(java.security.PublicKey publicKey, SpiffeId id, List<String> dnsNames,
            List<java.net.InetAddress> ips, Duration ttl) {
        requireNonNull(publicKey, "publicKey");
        requireNonNull(id, "id");
        requireNonNull(ttl, "ttl");
        if (ttl.isNegative() || ttl.isZero()) {
            throw new IllegalArgumentException("ttl: " + ttl + " (expected: a positive duration)");
        }
        try {
            Instant now = Instant.now();
            Instant notAfter = now.plus(ttl);
            Instant caNotAfter = certificate.getNotAfter().toInstant();
            if (notAfter.isAfter(caNotAfter)) {
                notAfter = caNotAfter;
            }
            var builder = new JcaX509v3CertificateBuilder(certificate, serial(), Date.from(now.minusSeconds(60)),
                    Date.from(notAfter), new X500Name("O=tessera"), publicKey);
            var names = new java.util.ArrayList<GeneralName>();
            names.add(new GeneralName(GeneralName.uniformResourceIdentifier, id.toString()));
            dnsNames.forEach(d -> names.add(new GeneralName(GeneralName.dNSName, d)));
            ips.forEach(a -> names.add(new GeneralName(GeneralName.iPAddress, a.getHostAddress())));
            builder.addExtension(Extension.basicConstraints, true, new BasicConstraints(false));
            builder.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.digitalSignature));
            builder.addExtension(Extension.extendedKeyUsage, false, new ExtendedKeyUsage(KeyPurposeId.id_kp_serverAuth));
            builder.addExtension(Extension.subjectAlternativeName, false,
                    new GeneralNames(names.toArray(GeneralName[]::new)));
            builder.addExtension(Extension.authorityKeyIdentifier, false,
                    new JcaX509ExtensionUtils().createAuthorityKeyIdentifier(certificate));
            return sign(builder, key);
        } catch (GeneralSecurityException | IOException e) {
            throw new IllegalArgumentException("cannot sign serving certificate for " + id + ": " + e.getMessage(), e);
        }
    }

    /** Whether a public key is an EC key on the NIST P-256 curve (secp256r1). */
    public static boolean isP256(java.security.PublicKey key) {
        if (!(key instanceof java.security.interfaces.ECPublicKey ec)) {
            return false;
        }
        var p = ec.getParams();
        return p.getOrder().equals(P256.getOrder()) && p.getCurve().equals(P256.getCurve())
                && p.getGenerator().equals(P256.getGenerator());
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

        /** PEM of certificates, CSRs or private keys (as PKCS#8 {@code PRIVATE KEY}), in order. */
        public static String write(Object... objects) {
            var out = new StringWriter();
            try (var w = new JcaPEMWriter(out)) {
                for (Object o : objects) {
                    if (o instanceof PrivateKey key) {
                        // PKCS#8 keeps the curve: JcaPEMWriter's SEC1 form of a JDK EC key omits it, which
                        // made written keys unreadable (by this class and by openssl).
                        w.writeObject(new org.bouncycastle.openssl.jcajce.JcaPKCS8Generator(key, null));
                    } else {
                        w.writeObject(o);
                    }
                }
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
            return out.toString();
        }

        /** Every CERTIFICATE block of a PEM text, in order (other blocks are ignored); at least one. */
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

        /** The first private key of a PEM text (PKCS#8 or SEC1 EC). */
        public static PrivateKey readPrivateKey(String pem) throws IOException {
            try (var p = new PEMParser(new StringReader(pem))) {
                var conv = new JcaPEMKeyConverter();
                Object o;
                // Skip what may precede the key, e.g. the EC PARAMETERS block of `openssl ecparam -genkey`.
                while ((o = p.readObject()) != null) {
                    if (o instanceof PEMKeyPair kp) {
                        // SEC1 keys written by JcaPEMWriter carry no public key: convert the private part only
                        // (getKeyPair would fail on the missing public key).
                        return conv.getPrivateKey(kp.getPrivateKeyInfo());
                    }
                    if (o instanceof org.bouncycastle.asn1.pkcs.PrivateKeyInfo info) {
                        return conv.getPrivateKey(info);
                    }
                }
                throw new IOException("key: none found (expected: an EC PRIVATE KEY or PRIVATE KEY block)");
            }
        }
    }
}
