package dev.tessera.controller.local;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tessera.api.identity.CertificateAuthority;
import dev.tessera.controller.identity.IssuingCa;
import dev.tessera.controller.identity.TrustRotation;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LocalRotationRequestsTest {

    @TempDir
    Path caDir;

    @Test
    void aRequestInTheCaDirectoryBecomesTheClustersRootWhenTheRotationIsDone() throws Exception {
        CertificateAuthority.generate("cluster.local").save(caDir);
        IssuingCa old = LocalCa.load(caDir, "cluster.local");
        var requests = new LocalRotationRequests(caDir, "cluster.local");
        assertThat(requests.poll()).isEmpty();

        CertificateAuthority next = CertificateAuthority.generate("cluster.local");
        next.save(caDir.resolve(LocalRotationRequests.DIR));
        Files.writeString(caDir.resolve(LocalRotationRequests.DIR).resolve(LocalRotationRequests.OVERLAP_FILE), "PT7S");
        var request = requests.poll().orElseThrow();
        assertThat(request.overlap()).isEqualTo(Duration.ofSeconds(7));
        assertThat(request.next().trustBundle()).containsExactly(next.certificate());

        var trust = new TrustRotation(old);
        trust.begin(request.next(), request.overlap());
        trust.advance(new TrustRotation.Facts(g -> true, 0, Instant.EPOCH));
        trust.advance(new TrustRotation.Facts(g -> true, 0, Instant.EPOCH.plusSeconds(7)));
        requests.completed(trust.status());

        assertThat(caDir.resolve(LocalRotationRequests.DIR)).doesNotExist();
        assertThat(requests.poll()).isEmpty();
        IssuingCa reloaded = LocalCa.load(caDir, "cluster.local");
        assertThat(reloaded.trustBundle()).as("a restart keeps the new root").containsExactly(next.certificate());
        assertThat(reloaded.issuingCertificate()).as("and the same issuer").isEqualTo(request.next().issuingCertificate());
    }

    @Test
    void anUnusableRequestIsIgnoredNotFatal() throws Exception {
        CertificateAuthority.generate("cluster.local").save(caDir);
        Path dir = Files.createDirectories(caDir.resolve(LocalRotationRequests.DIR));
        Files.writeString(dir.resolve("ca.crt"), "not a certificate");
        Files.writeString(dir.resolve("ca.key"), "not a key");
        assertThat(new LocalRotationRequests(caDir, "cluster.local").poll()).isEmpty();
    }
}
