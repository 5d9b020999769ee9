package dev.tessera.controller;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.tessera.api.model.Service.Endpoint;
import dev.tessera.api.model.Service.Port;
import dev.tessera.api.model.Service;
import dev.tessera.api.policy.Translation;
import dev.tessera.api.push.MeshConfig;
import dev.tessera.controller.kube.PolicyResources;
import dev.tessera.controller.watch.MeshContent;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSliceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import java.net.InetAddress;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The Kubernetes controller (one replica, no election) against the CRUD mock API server. */
@EnableKubernetesMockClient(crud = true)
class KubernetesControllerTest {

    KubernetesMockServer server;
    KubernetesClient client;
    private KubernetesController controller;

    @BeforeEach
    void start() throws Exception {
        MockCluster.apply(client, MockCluster.mesh().resolve("cluster.yaml"));
        MockCluster.apply(client, MockCluster.mesh().resolve("k8s-only/web-slice.yaml"));
        controller = KubernetesController.start(client, options());
    }

    static KubernetesController.Options options() {
        return new KubernetesController.Options("tessera-system", "cluster.local", "tessera-ca", "tessera-controller",
                Set.of(), false, "test", Duration.ofHours(24), Duration.ofSeconds(10), null);
    }

    @AfterEach
    void stop() {
        controller.close();
    }

    private MeshConfig state() {
        return controller.source().current();
    }

    private GenericKubernetesResource policy(String kind, String name) {
        return client.genericKubernetesResources(PolicyResources.forKind(kind)).inNamespace("shop").withName(name).get();
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> accepted(GenericKubernetesResource o) {
        Object status = o.getAdditionalProperties().get("status");
        if (!(status instanceof Map<?, ?> s) || !(s.get("conditions") instanceof List<?> l) || l.isEmpty()) {
            return Map.of();
        }
        return (Map<String, Object>) l.get(0);
    }

    @Test
    void servicesWithTheirEndpointsAndPoliciesAreDistributed() throws Exception {
        await().atMost(Duration.ofSeconds(10)).until(() -> state().mesh().services().size() == 2
                && state().policies().all().size() == 3);
        Service web = state().mesh().service("shop", "web").orElseThrow();
        assertThat(web.vips()).containsExactly(InetAddress.getByName("198.19.0.10"));
        assertThat(web.ports()).containsExactly(new Port("http", 80, 8080)); // named targetPort via the slice
        assertThat(web.endpoints()).containsExactly(
                new Endpoint(InetAddress.getByName("198.18.1.10"), true, "shop/web-1"),
                new Endpoint(InetAddress.getByName("198.18.2.10"), true, "shop/web-2"));
        assertThat(state().mesh().serviceByVip(InetAddress.getByName("198.19.0.11")).orElseThrow().name()).isEqualTo("db");

        // An endpoint turning unready is published as such.
        client.discovery().v1().endpointSlices().inNamespace("shop").withName("web-x1").edit(s -> new EndpointSliceBuilder(s)
                .editEndpoint(1).editConditions().withReady(false).endConditions().endEndpoint().build());
        await().atMost(Duration.ofSeconds(10)).until(() -> state().mesh().service("shop", "web").orElseThrow()
                .readyEndpoints().size() == 1);
        // The slice deleted: the Service stays, without endpoints.
        client.discovery().v1().endpointSlices().inNamespace("shop").withName("web-x1").delete();
        await().atMost(Duration.ofSeconds(10)).until(() -> state().mesh().service("shop", "web").orElseThrow()
                .endpoints().isEmpty());
        client.services().inNamespace("shop").withName("db").delete();
        await().atMost(Duration.ofSeconds(10)).until(() -> state().mesh().service("shop", "db").isEmpty());
    }

    @Test
    void anInvalidPolicyIsReportedInItsStatusAndChangesNothingElse() {
        await().atMost(Duration.ofSeconds(10)).until(() -> accepted(policy("AuthorizationPolicy", "broken")).size() > 0
                && accepted(policy("AuthorizationPolicy", "db-from-web")).size() > 0
                && accepted(policy("PeerAuthentication", "strict")).size() > 0);
        Map<String, Object> broken = accepted(policy("AuthorizationPolicy", "broken"));
        assertThat(broken).containsEntry("type", "Accepted").containsEntry("status", "False")
                .containsEntry("reason", "Invalid");
        assertThat(broken.get("message").toString()).contains("spec.action");
        Map<String, Object> valid = accepted(policy("AuthorizationPolicy", "db-from-web"));
        assertThat(valid).containsEntry("status", "True").containsEntry("reason", "Accepted");
        assertThat(((Number) valid.get("observedGeneration")).longValue())
                .isEqualTo(policy("AuthorizationPolicy", "db-from-web").getMetadata().getGeneration());
        assertThat(controller.invalidPolicies()).isEqualTo(1);

        // A second invalid policy: it travels with its errors; everything else is unchanged.
        MeshContent before = MeshContent.of(state());
        long version = state().version();
        MockCluster.apply(client, """
                apiVersion: security.tessera.dev/v1alpha1
                kind: AuthorizationPolicy
                metadata: {name: typo, namespace: shop}
                spec:
                  selector: {matchLabels: {app: db}}
                  rules: [{from: [{source: {principalz: ["x"]}}]}]
                """);
        await().atMost(Duration.ofSeconds(10)).until(() -> state().policies().authorizationPolicies().size() == 3);
        await().atMost(Duration.ofSeconds(10)).until(() -> "False".equals(accepted(policy("AuthorizationPolicy", "typo")).get("status")));
        MeshContent after = MeshContent.of(state());
        assertThat(state().version()).isGreaterThan(version);
        assertThat(after.nodes()).isEqualTo(before.nodes());
        assertThat(after.workloads()).isEqualTo(before.workloads());
        assertThat(after.services()).isEqualTo(before.services());
        assertThat(after.peerAuthentications()).isEqualTo(before.peerAuthentications());
        assertThat(after.authorizationPolicies()).containsAll(before.authorizationPolicies());
        Translation<?> typo = after.authorizationPolicies().stream().filter(t -> t.name().equals("typo")).findFirst().orElseThrow();
        assertThat(typo.valid()).isFalse();
        assertThat(typo.errors()).anySatisfy(e -> assertThat(e).contains("principalz"));
        assertThat(controller.invalidPolicies()).isEqualTo(2);
        // Meshed workloads still reach their nodes.
        assertThat(controller.source().snapshotFor("node2").workloadKeys()).containsExactly("shop/db-1", "shop/web-2");
    }

    @Test
    void theCaIsGeneratedAndTheTrustBundlePublished() {
        assertThat(client.secrets().inNamespace("tessera-system").withName("tessera-ca").get()).isNotNull();
        var cm = client.configMaps().inNamespace("tessera-system").withName("tessera-ca-root-cert").get();
        assertThat(cm.getData().get("root-cert.pem")).isEqualTo(
                dev.tessera.api.identity.CertificateAuthority.Pem.write(controller.ca().trustBundle().toArray()));
    }
}
