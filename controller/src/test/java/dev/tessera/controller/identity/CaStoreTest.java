package dev.tessera.controller.identity;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tessera.api.identity.CertificateAuthority.Pem;
import dev.tessera.api.identity.CertificateAuthority;
import dev.tessera.api.identity.SpiffeId;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

@EnableKubernetesMockClient(crud = true)
class CaStoreTest {

    static KubernetesMockServer server;
    static KubernetesClient client;

    private static String b64(String s) {
        return Base64.getEncoder().encodeToString(s.getBytes(StandardCharsets.UTF_8));
    }

    @Test
    void generatesAndStoresOnFirstStartThenReloadsTheSameCa() throws Exception {
        var first = new CaStore(client, "tessera-system", "gen-ca", "cluster.local").loadOrCreate();
        assertThat(first.origin()).isEqualTo(CaStore.Origin.GENERATED);

        Secret stored = client.secrets().inNamespace("tessera-system").withName("gen-ca").get();
        assertThat(stored).isNotNull();
        assertThat(stored.getType()).isEqualTo("kubernetes.io/tls");
        assertThat(stored.getMetadata().getLabels()).containsEntry(CaStore.GENERATED_LABEL, "true");
        assertThat(stored.getData()).containsOnlyKeys("tls.crt", "tls.key", "ca.crt");

        // A restart (a new store on the same Secret) gets the same CA back.
        var second = new CaStore(client, "tessera-system", "gen-ca", "cluster.local").loadOrCreate();
        assertThat(second.origin()).isEqualTo(CaStore.Origin.LOADED);
        assertThat(second.ca().issuingCertificate()).isEqualTo(first.ca().issuingCertificate());
        assertThat(second.ca().trustBundle()).isEqualTo(first.ca().trustBundle());
        SpiffeId id = new SpiffeId("cluster.local", "a", "b");
        var chain = second.ca().issue(CertificateAuthority.csr(CertificateAuthority.newKeyPair(), id), id, Duration.ofHours(1));
        IssuingCaTest.assertChainsTo(chain, first.ca().trustBundle());
    }

    @Test
    void usesAUserProvidedCertManagerSecret() throws Exception {
        CertificateAuthority root = CertificateAuthority.generate("cluster.local");
        CertificateAuthority inter = root.newIntermediate("cluster.local", Duration.ofDays(90));
        client.secrets().inNamespace("tessera-system").resource(new SecretBuilder()
                .withNewMetadata().withName("user-ca").endMetadata().withType("kubernetes.io/tls")
                .withData(Map.of(
                        "tls.crt", b64(Pem.write(inter.certificate(), root.certificate())),
                        "tls.key", b64(Pem.write(inter.privateKey())),
                        "ca.crt", b64(Pem.write(root.certificate()))))
                .build()).create();

        var loaded = new CaStore(client, "tessera-system", "user-ca", "cluster.local").loadOrCreate();

        assertThat(loaded.origin()).isEqualTo(CaStore.Origin.LOADED);
        assertThat(loaded.ca().issuingCertificate()).isEqualTo(inter.certificate());
        assertThat(loaded.ca().trustBundle()).containsExactly(root.certificate());
        SpiffeId id = new SpiffeId("cluster.local", "a", "b");
        var chain = loaded.ca().issue(CertificateAuthority.csr(CertificateAuthority.newKeyPair(), id), id, Duration.ofHours(1));
        IssuingCaTest.assertChainsTo(chain, List.of(root.certificate()));
        // Nothing was overwritten.
        assertThat(client.secrets().inNamespace("tessera-system").withName("user-ca").get().getMetadata().getLabels())
                .isNullOrEmpty();
    }

    @Test
    void anInvalidUserSecretIsReportedWithSecretAndKeyNotReplaced() {
        client.secrets().inNamespace("tessera-system").resource(new SecretBuilder()
                .withNewMetadata().withName("broken-ca").endMetadata()
                .withData(Map.of("tls.crt", b64(Pem.write(CertificateAuthority.generate("x").certificate())),
                        "ca.crt", b64(Pem.write(CertificateAuthority.generate("x").certificate()))))
                .build()).create();

        assertThatThrownBy(() -> new CaStore(client, "tessera-system", "broken-ca", "cluster.local").loadOrCreate())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("Secret tessera-system/broken-ca: tls.key: missing");
    }

    @Test
    void losingTheCreateRaceUsesTheWinnersCa() {
        // Another replica's CA is already stored when our create arrives: the API server answers 409.
        IssuingCa winner = IssuingCa.generate("cluster.local");
        var data = new java.util.HashMap<String, String>();
        winner.toSecretData().forEach((k, v) -> data.put(k, b64(v)));
        Secret winnerSecret = new SecretBuilder().withNewMetadata().withNamespace("tessera-system").withName("race-ca")
                .endMetadata().withData(data).build();
        client.secrets().inNamespace("tessera-system").resource(winnerSecret).create();
        // Our first read happened before the other replica's create: it saw nothing (canned 404, once);
        // our create then conflicts with the stored Secret (409 from the CRUD store).
        server.expect().get().withPath("/api/v1/namespaces/tessera-system/secrets/race-ca").andReturn(404,
                new io.fabric8.kubernetes.api.model.StatusBuilder().withCode(404).withReason("NotFound").build()).once();

        var loaded = new CaStore(client, "tessera-system", "race-ca", "cluster.local").loadOrCreate();

        assertThat(loaded.origin()).isEqualTo(CaStore.Origin.LOADED);
        assertThat(loaded.ca().issuingCertificate()).isEqualTo(winner.issuingCertificate());
    }
}
