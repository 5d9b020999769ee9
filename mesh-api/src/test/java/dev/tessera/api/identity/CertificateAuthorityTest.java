package dev.tessera.api.identity;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.KeyPairGenerator;
import java.security.cert.CertPathValidator;
import java.security.cert.CertificateFactory;
import java.security.cert.PKIXParameters;
import java.security.cert.TrustAnchor;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Set;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.bouncycastle.pkcs.jcajce.JcaPKCS10CertificationRequestBuilder;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CertificateAuthorityTest {

    static final SpiffeId ID = new SpiffeId("cluster.local", "demo", "client");

    @Test
    void signsCsrWithExactlyTheSpiffeIdAndAChainThatVerifies() throws Exception {
        var ca = CertificateAuthority.generate("cluster.local");
        var kp = CertificateAuthority.newKeyPair();

        X509Certificate leaf = ca.sign(CertificateAuthority.csr(kp, ID), ID, Duration.ofHours(1));

        assertThat(leaf.getPublicKey()).isEqualTo(kp.getPublic());
        assertThat(leaf.getSubjectAlternativeNames()).containsExactly(List.of(6, "spiffe://cluster.local/ns/demo/sa/client"));
        assertThat(leaf.getBasicConstraints()).isEqualTo(-1);
        assertThat(leaf.getExtendedKeyUsage()).containsExactlyInAnyOrder("1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2");
        assertThat(Duration.between(Instant.now(), leaf.getNotAfter().toInstant()))
                .isBetween(Duration.ofMinutes(59), Duration.ofHours(1));
        var path = CertificateFactory.getInstance("X.509").generateCertPath(List.of(leaf));
        var params = new PKIXParameters(Set.of(new TrustAnchor(ca.certificate(), null)));
        params.setRevocationEnabled(false);
        CertPathValidator.getInstance("PKIX").validate(path, params); // throws if it does not chain
        assertThat(CertificateAuthority.isP256(kp.getPublic())).isTrue();
    }

    @Test
    void signsOnlyTheGivenIdWhateverTheCsrAsks() throws Exception {
        var ca = CertificateAuthority.generate("cluster.local");
        var kp = CertificateAuthority.newKeyPair();
        var other = new SpiffeId("cluster.local", "kube-system", "admin");

        X509Certificate leaf = ca.sign(CertificateAuthority.csr(kp, other), ID, Duration.ofHours(1));

        assertThat(leaf.getSubjectAlternativeNames()).containsExactly(List.of(6, ID.toString()));
    }

    @Test
    void rejectsBadTtlForeignKeysAndForgedCsrs() throws Exception {
        var ca = CertificateAuthority.generate("cluster.local");
        var kp = CertificateAuthority.newKeyPair();
        var csr = CertificateAuthority.csr(kp, ID);
        assertThatThrownBy(() -> ca.sign(csr, ID, Duration.ZERO)).hasMessage("ttl: PT0S (expected: a positive duration)");

        var g = KeyPairGenerator.getInstance("EC");
        g.initialize(new ECGenParameterSpec("secp384r1"));
        assertThatThrownBy(() -> ca.sign(CertificateAuthority.csr(g.generateKeyPair(), ID), ID, Duration.ofHours(1)))
                .hasMessage("csr: key EC (expected: EC P-256)");

        // a CSR for one public key signed by another private key: no proof of possession
        var thief = CertificateAuthority.newKeyPair();
        var forged = new JcaPKCS10CertificationRequestBuilder(new X500Name("O=tessera"), kp.getPublic())
                .build(new JcaContentSignerBuilder("SHA256withECDSA").build(thief.getPrivate()));
        assertThatThrownBy(() -> ca.sign(forged, ID, Duration.ofHours(1)))
                .hasMessage("csr: signature does not verify (expected: signed by the requested key)");
    }

    @Test
    void leafNeverOutlivesTheCa() {
        var ca = CertificateAuthority.generate("cluster.local");
        var kp = CertificateAuthority.newKeyPair();

        X509Certificate leaf = ca.sign(CertificateAuthority.csr(kp, ID), ID, Duration.ofDays(36500));

        assertThat(leaf.getNotAfter()).isEqualTo(ca.certificate().getNotAfter());
    }

    @Test
    void savesWithPrivateKeyModeAndLoadsBack(@TempDir Path dir) throws Exception {
        var ca = CertificateAuthority.generate("cluster.local");
        ca.save(dir);

        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(dir.resolve("ca.key")))).isEqualTo("rw-------");
        var loaded = CertificateAuthority.load(dir);
        assertThat(loaded.certificate()).isEqualTo(ca.certificate());
        var kp = CertificateAuthority.newKeyPair();
        loaded.sign(CertificateAuthority.csr(kp, ID), ID, Duration.ofMinutes(5)).verify(ca.certificate().getPublicKey());
        ca.save(dir); // overwriting keeps working
        assertThat(CertificateAuthority.trustBundle(dir)).containsExactly(ca.certificate());
    }

    @Test
    void loadsBundlePickingTheCertificateOfTheKey(@TempDir Path dir) throws Exception {
        var old = CertificateAuthority.generate("cluster.local");
        var current = CertificateAuthority.generate("cluster.local");
        var next = CertificateAuthority.generate("cluster.local");
        current.save(dir);
        Files.writeString(dir.resolve("ca.crt"), CertificateAuthority.Pem.write(old.certificate(), current.certificate()));
        Files.writeString(dir.resolve("trust-bundle.crt"), CertificateAuthority.Pem.write(next.certificate(), old.certificate()));

        assertThat(CertificateAuthority.load(dir).certificate()).isEqualTo(current.certificate());
        assertThat(CertificateAuthority.trustBundle(dir))
                .containsExactly(old.certificate(), current.certificate(), next.certificate());

        Files.writeString(dir.resolve("ca.crt"), CertificateAuthority.Pem.write(old.certificate()));
        assertThatThrownBy(() -> CertificateAuthority.load(dir))
                .hasMessage(dir.resolve("ca.crt") + ": no certificate matches " + dir.resolve("ca.key")
                        + " (expected: the CA certificate of that private key)");
    }

    @Test
    void readsOpensslStyleKeyWithParameters() throws Exception {
        var kp = CertificateAuthority.newKeyPair();
        var d = ((java.security.interfaces.ECPrivateKey) kp.getPrivate()).getS();
        // what `openssl ecparam -name prime256v1 -genkey` prints: parameters, then a SEC1 key with the curve
        var sec1 = new org.bouncycastle.asn1.sec.ECPrivateKey(256, d,
                org.bouncycastle.asn1.sec.SECObjectIdentifiers.secp256r1);
        String pem = "-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n"
                + "-----BEGIN EC PRIVATE KEY-----\n"
                + java.util.Base64.getMimeEncoder().encodeToString(sec1.getEncoded()) + "\n-----END EC PRIVATE KEY-----\n";

        var read = (java.security.interfaces.ECPrivateKey) CertificateAuthority.Pem.readPrivateKey(pem);
        assertThat(read.getS()).isEqualTo(d);
        assertThat(CertificateAuthority.Pem.write(kp.getPrivate())).startsWith("-----BEGIN PRIVATE KEY-----");
        assertThat(CertificateAuthority.Pem.readPrivateKey(CertificateAuthority.Pem.write(kp.getPrivate())).getEncoded())
                .isEqualTo(kp.getPrivate().getEncoded());
        assertThatThrownBy(() -> CertificateAuthority.Pem.readPrivateKey("nothing"))
                .hasMessage("key: none found (expected: an EC PRIVATE KEY or PRIVATE KEY block)");
        assertThatThrownBy(() -> CertificateAuthority.Pem.readCertificates(""))
                .hasMessage("certificate: none found (expected: at least one CERTIFICATE block)");
    }

    @Test
    void spiffeIdRoundTripsAndRejectsBadForms() {
        assertThat(SpiffeId.parse("spiffe://cluster.local/ns/demo/sa/client")).isEqualTo(ID);
        assertThat(ID.toUri().getScheme()).isEqualTo("spiffe");
        assertThat(ID.serverName()).isEqualTo("client.demo.cluster.local.spiffe.tessera");
        assertThatThrownBy(() -> SpiffeId.parse("spiffe://cluster.local/ns/demo"))
                .hasMessage("spiffe id: 'spiffe://cluster.local/ns/demo' (expected: spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>)");
        assertThatThrownBy(() -> new SpiffeId("cluster.local", "Demo", "x"))
                .hasMessageStartingWith("namespace: 'Demo' (expected: a lowercase DNS name");
    }

    @Test
    void intermediateIsAPathLengthZeroCaThatNeverOutlivesItsRoot() throws Exception {
        var root = CertificateAuthority.generate("cluster.local");
        var inter = root.newIntermediate("cluster.local", Duration.ofDays(100_000));

        assertThat(inter.certificate().getBasicConstraints()).isEqualTo(0);
        assertThat(inter.certificate().getIssuerX500Principal()).isEqualTo(root.certificate().getSubjectX500Principal());
        assertThat(inter.certificate().getNotAfter()).isEqualTo(root.certificate().getNotAfter());
        inter.certificate().verify(root.certificate().getPublicKey());
        assertThatThrownBy(() -> root.newIntermediate("cluster.local", Duration.ZERO))
                .hasMessage("validity: PT0S (expected: a positive duration)");
    }

    @Test
    void ofChecksKeyAndCaFlag() throws Exception {
        var root = CertificateAuthority.generate("cluster.local");
        var other = CertificateAuthority.generate("cluster.local");
        assertThat(CertificateAuthority.of(root.certificate(), root.privateKey()).certificate()).isEqualTo(root.certificate());
        assertThatThrownBy(() -> CertificateAuthority.of(root.certificate(), other.privateKey()))
                .hasMessageStartingWith("key: does not match certificate");
        var kp = CertificateAuthority.newKeyPair();
        X509Certificate leaf = root.sign(CertificateAuthority.csr(kp, ID), ID, Duration.ofHours(1));
        assertThatThrownBy(() -> CertificateAuthority.of(leaf, kp.getPrivate()))
                .hasMessageContaining("is not a CA (expected: basicConstraints CA:true)");
    }
}
