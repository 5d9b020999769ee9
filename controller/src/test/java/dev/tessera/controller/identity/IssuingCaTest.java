package dev.tessera.controller.identity;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tessera.api.identity.CertificateAuthority.Pem;
import dev.tessera.api.identity.CertificateAuthority;
import dev.tessera.api.identity.SpiffeId;
import java.security.cert.CertPathValidator;
import java.security.cert.CertificateFactory;
import java.security.cert.PKIXParameters;
import java.security.cert.TrustAnchor;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

class IssuingCaTest {

    private static final SpiffeId ID = new SpiffeId("cluster.local", "shop", "web");

    /** Verifies a chain (leaf first) against roots with the JDK's PKIX validator. */
    static void assertChainsTo(List<X509Certificate> chain, List<X509Certificate> roots) throws Exception {
        var path = CertificateFactory.getInstance("X.509").generateCertPath(chain);
        Set<TrustAnchor> anchors = roots.stream().map(r -> new TrustAnchor(r, null)).collect(Collectors.toSet());
        var params = new PKIXParameters(anchors);
        params.setRevocationEnabled(false);
        CertPathValidator.getInstance("PKIX").validate(path, params);
    }

    static List<String> uriSans(X509Certificate cert) throws Exception {
        return cert.getSubjectAlternativeNames().stream().filter(s -> (Integer) s.get(0) == 6)
                .map(s -> (String) s.get(1)).toList();
    }

    @Test
    void generatedCaIssuesLeafUnderIntermediateThatVerifiesToRoot() throws Exception {
        IssuingCa ca = IssuingCa.generate("cluster.local");
        var kp = CertificateAuthority.newKeyPair();
        List<X509Certificate> chain = ca.issue(CertificateAuthority.csr(kp, ID), ID, Duration.ofHours(1));

        assertThat(chain).hasSize(2);
        assertThat(chain.get(1)).isEqualTo(ca.issuingCertificate());
        assertThat(chain.get(1).getBasicConstraints()).isEqualTo(0);
        assertThat(ca.trustBundle()).hasSize(1).doesNotContain(ca.issuingCertificate());
        assertThat(uriSans(chain.get(0))).containsExactly("spiffe://cluster.local/ns/shop/sa/web");
        assertThat(chain.get(0).getPublicKey()).isEqualTo(kp.getPublic());
        assertChainsTo(chain, ca.trustBundle());
        // Not trusted by an unrelated root.
        assertThatThrownBy(() -> assertChainsTo(chain, IssuingCa.generate("cluster.local").trustBundle()))
                .isInstanceOf(java.security.cert.CertPathValidatorException.class);
    }

    @Test
    void secretFormRoundTripsAndKeepsSigning() throws Exception {
        IssuingCa ca = IssuingCa.generate("cluster.local");
        var d = ca.toSecretData();
        IssuingCa back = IssuingCa.fromPem(d.get("tls.crt"), d.get("tls.key"), d.get("ca.crt"));

        assertThat(back.issuingCertificate()).isEqualTo(ca.issuingCertificate());
        assertThat(back.trustBundle()).isEqualTo(ca.trustBundle());
        var chain = back.issue(CertificateAuthority.csr(CertificateAuthority.newKeyPair(), ID), ID, Duration.ofHours(1));
        assertChainsTo(chain, ca.trustBundle());
    }

    @Test
    void certManagerStyleChainWithRootAndSeveralTrustedRoots() throws Exception {
        CertificateAuthority root = CertificateAuthority.generate("cluster.local");
        CertificateAuthority inter = root.newIntermediate("cluster.local", Duration.ofDays(30));
        CertificateAuthority oldRoot = CertificateAuthority.generate("cluster.local");
        // cert-manager puts the issuing cert then its issuer in tls.crt; ca.crt may list several roots.
        IssuingCa ca = IssuingCa.fromPem(Pem.write(inter.certificate(), root.certificate()), Pem.write(inter.privateKey()),
                Pem.write(oldRoot.certificate(), root.certificate()));

        assertThat(ca.intermediates()).containsExactly(inter.certificate());
        assertThat(ca.trustBundle()).containsExactly(oldRoot.certificate(), root.certificate());
        var chain = ca.issue(CertificateAuthority.csr(CertificateAuthority.newKeyPair(), ID), ID, Duration.ofHours(1));
        assertThat(chain).containsExactly(chain.get(0), inter.certificate());
        assertChainsTo(chain, List.of(root.certificate()));
    }

    @Test
    void rootAsIssuerSignsDirectly() throws Exception {
        CertificateAuthority root = CertificateAuthority.generate("cluster.local");
        IssuingCa ca = IssuingCa.fromPem(Pem.write(root.certificate()), Pem.write(root.privateKey()),
                Pem.write(root.certificate()));
        var chain = ca.issue(CertificateAuthority.csr(CertificateAuthority.newKeyPair(), ID), ID, Duration.ofHours(1));
        assertThat(chain).hasSize(1);
        assertChainsTo(chain, ca.trustBundle());
    }

    @Test
    void badSecretValuesNameTheKey() {
        CertificateAuthority root = CertificateAuthority.generate("cluster.local");
        CertificateAuthority inter = root.newIntermediate("cluster.local", Duration.ofDays(30));
        CertificateAuthority other = CertificateAuthority.generate("cluster.local");
        String crt = Pem.write(inter.certificate());
        String key = Pem.write(inter.privateKey());
        String roots = Pem.write(root.certificate());

        assertThatThrownBy(() -> IssuingCa.fromPem(null, key, roots)).hasMessageStartingWith("tls.crt: missing");
        assertThatThrownBy(() -> IssuingCa.fromPem(crt, "", roots)).hasMessageStartingWith("tls.key: missing");
        assertThatThrownBy(() -> IssuingCa.fromPem(crt, key, " ")).hasMessageStartingWith("ca.crt: missing");
        assertThatThrownBy(() -> IssuingCa.fromPem(crt, Pem.write(other.privateKey()), roots))
                .hasMessageContaining("tls.crt/tls.key").hasMessageContaining("does not match");
        assertThatThrownBy(() -> IssuingCa.fromPem(crt, key, Pem.write(other.certificate())))
                .hasMessageContaining("does not chain to any root of ca.crt");
        assertThatThrownBy(() -> IssuingCa.fromPem("garbage", key, roots)).hasMessageStartingWith("tls.crt:");
    }
}
