package dev.tessera.controller.identity;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

/** The CA Secret watch on its own: only the leader writes a requested new root, once. */
@EnableKubernetesMockClient(crud = true)
class CaSecretRotationsTest {

    KubernetesClient client;

    private Secret secret() {
        return client.secrets().inNamespace("tessera-system").withName("tessera-ca").get();
    }

    @Test
    void onlyTheLeaderWritesARequestedRootAndOnlyOnce() {
        IssuingCa ca = new CaStore(client, "tessera-system", "tessera-ca", "cluster.local").loadOrCreate().ca();
        var leader = new AtomicBoolean(false);
        try (var rotations = new CaSecretRotations(client, "tessera-system", "tessera-ca", "cluster.local",
                Duration.ZERO, () -> ca, leader::get).start()) {
            Secret annotated = client.secrets().inNamespace("tessera-system").withName("tessera-ca").edit(s -> new SecretBuilder(s)
                    .editMetadata().addToAnnotations(CaSecretRotations.ROTATE_ANNOTATION, "x").endMetadata().build());
            String version = annotated.getMetadata().getResourceVersion();
            await().atMost(Duration.ofSeconds(10)).until(() -> {
                assertThat(rotations.poll()).as("the Secret still holds the signing CA").isEmpty();
                return version.equals(rotations.evaluatedVersion());
            });
            for (int i = 0; i < 3; i++) {
                assertThat(rotations.poll()).isEmpty();
            }
            assertThat(secret().getMetadata().getResourceVersion()).as("a replica that is not the leader writes nothing")
                    .isEqualTo(version);
            assertThat(rotations.rejected()).isNull();

            leader.set(true);
            assertThat(rotations.poll()).isEmpty(); // writes; the rotation comes from the watch
            Secret written = secret();
            assertThat(written.getMetadata().getAnnotations()).doesNotContainKey(CaSecretRotations.ROTATE_ANNOTATION);
            assertThat(written.getData()).isNotEqualTo(annotated.getData());
            await().atMost(Duration.ofSeconds(10)).until(() -> rotations.poll().isPresent());
            var request = rotations.poll().orElseThrow();
            assertThat(request.next().trustBundle()).doesNotContainAnyElementsOf(ca.trustBundle());
            assertThat(request.overlap()).isZero();
            assertThat(secret().getMetadata().getResourceVersion()).as("written once")
                    .isEqualTo(written.getMetadata().getResourceVersion());
        }
    }
}
