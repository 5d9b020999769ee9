package dev.tessera.agent.identity;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tessera.common.identity.CertificateAuthority;
import dev.tessera.common.identity.SpiffeId;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ExecutionException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LocalCaSignerTest {

    static final SpiffeId ID = new SpiffeId("cluster.local", "demo", "client");

    @Test
    void loadsCaDirectoryWithSeveralRootsAndSigns(@TempDir Path dir) throws Exception {
        var ca = CertificateAuthority.generate("cluster.local");
        var next = CertificateAuthority.generate("cluster.local");
        ca.save(dir);
        Files.writeString(dir.resolve("trust-bundle.crt"), CertificateAuthority.Pem.write(next.certificate()));

        LocalCaSigner signer = LocalCaSigner.load(dir, Duration.ofHours(2));

        assertThat(signer.trustBundle()).containsExactly(ca.certificate(), next.certificate());
        assertThat(signer.ttl()).isEqualTo(Duration.ofHours(2));
        var kp = CertificateAuthority.newKeyPair();
        var chain = signer.sign(CertificateAuthority.csr(kp, ID), ID).get();
        assertThat(chain).hasSize(1);
        chain.get(0).verify(ca.certificate().getPublicKey());
        assertThat(LocalCaSigner.load(dir).ttl()).isEqualTo(CertificateAuthority.DEFAULT_TTL);
    }

    @Test
    void rejectsBadConfigurationAndFailsTheFutureOnBadCsr() {
        var ca = CertificateAuthority.generate("cluster.local");
        var signer = new LocalCaSigner(ca, List.of(ca.certificate()), Duration.ofHours(1));
        assertThatThrownBy(() -> new LocalCaSigner(ca, List.of(ca.certificate()), Duration.ZERO))
                .hasMessage("ttl: PT0S (expected: a positive duration)");
        var other = CertificateAuthority.generate("cluster.local");
        assertThatThrownBy(() -> new LocalCaSigner(ca, List.of(other.certificate()), Duration.ofHours(1)))
                .hasMessageContaining("trustBundle: does not contain the CA certificate");
        // in-process signing answers at once
        assertThat(signer.sign(CertificateAuthority.csr(CertificateAuthority.newKeyPair(), ID), ID)).isCompleted();

        var p384 = assertThatSignFails(signer);
        assertThat(p384).hasMessageContaining("csr: key EC (expected: EC P-256)");
    }

    private static Throwable assertThatSignFails(LocalCaSigner signer) {
        try {
            var g = java.security.KeyPairGenerator.getInstance("EC");
            g.initialize(new java.security.spec.ECGenParameterSpec("secp384r1"));
            var f = signer.sign(CertificateAuthority.csr(g.generateKeyPair(), ID), ID);
            assertThat(f).isCompletedExceptionally();
            f.get();
            throw new AssertionError("expected a failed future");
        } catch (ExecutionException e) {
            return e.getCause();
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }
}
