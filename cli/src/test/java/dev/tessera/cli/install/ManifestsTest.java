package dev.tessera.cli.install;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Namespace;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.api.model.apps.DaemonSet;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Every shipped manifest parses with fabric8 and is accepted by the mock API server (CRUD mode). */
@EnableKubernetesMockClient(crud = true)
class ManifestsTest {

    KubernetesClient client;

    @Test
    void theJarCarriesExactlyTheFilesOfDaemonset() throws Exception {
        Path daemonset = Path.of("..", "daemonset");
        assertThat(Manifests.files()).contains("crds/authorizationpolicies.security.tessera.dev.yaml",
                "crds/peerauthentications.security.tessera.dev.yaml", "base/namespace.yaml",
                "base/agent-daemonset.yaml", "base/controller-deployment.yaml", "base/controller-rbac.yaml",
                "base/controller-pdb.yaml");
        // Prometheus Operator objects are opt-in (daemonset/observability/), as in the chart
        assertThat(Manifests.files()).noneMatch(f -> f.startsWith("observability/"));
        for (String f : Manifests.files()) {
            assertThat(Manifests.read(f)).as(f).isEqualTo(Files.readString(daemonset.resolve(f)));
        }
    }

    @Test
    void everyObjectParsesIntoTheTypedModel() {
        List<HasMetadata> objects = Manifests.load();
        assertThat(objects).extracting(HasMetadata::getKind).contains("CustomResourceDefinition", "Namespace",
                "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Deployment", "Service", "DaemonSet",
                "PodDisruptionBudget");
        for (HasMetadata o : objects) {
            assertThat(o.getMetadata().getName()).as(o.getKind()).isNotBlank();
            // every kind is in fabric8's model: nothing needs the Prometheus Operator's CRDs
            assertThat(o).as(o.getKind()).isNotInstanceOf(GenericKubernetesResource.class);
        }
        assertThat(objects).filteredOn(o -> o instanceof CustomResourceDefinition).hasSize(2);
        assertThat(objects).filteredOn(o -> o instanceof Namespace).hasSize(1);
        assertThat(objects).filteredOn(o -> o instanceof Deployment).hasSize(1);
        assertThat(objects).filteredOn(o -> o instanceof DaemonSet).hasSize(1);
        // a Namespace comes before anything that lives in it (kubectl apply -f - applies in order)
        int ns = indexOf(objects, "Namespace");
        for (int i = 0; i < objects.size(); i++) {
            if (objects.get(i).getMetadata().getNamespace() != null) {
                assertThat(i).as(objects.get(i).getKind()).isGreaterThan(ns);
            }
        }
    }

    @Test
    void everyObjectIsCreatedOnTheApiServer() {
        createAll(Manifests.load());
        assertThat(client.apps().daemonSets().inNamespace("tessera-system").withName("tessera-node-agent").get())
                .isNotNull();
        assertThat(client.apps().deployments().inNamespace("tessera-system").withName("tessera-controller").get()
                .getSpec().getReplicas()).isEqualTo(2);
        assertThat(client.apiextensions().v1().customResourceDefinitions().list().getItems()).hasSize(2);
        assertThat(client.resources(io.fabric8.kubernetes.api.model.policy.v1.PodDisruptionBudget.class).inNamespace("tessera-system").withName("tessera-controller")
                .get()).isNotNull();
    }

    @Test
    void renderedWithOtherOptionsIsCreatedToo() {
        createAll(ManifestRenderer.render(new InstallOptions("mesh", "example.org", "reg.example.com:5000/t/agent:1",
                "reg.example.com:5000/t/controller:1", 3, List.of("10.0.0.0/8"))));
        assertThat(client.apps().daemonSets().inNamespace("mesh").withName("tessera-node-agent").get()).isNotNull();
        assertThat(client.namespaces().withName("mesh").get()).isNotNull();
        assertThat(client.namespaces().withName("tessera-system").get()).isNull();
    }

    private void createAll(List<HasMetadata> objects) {
        for (HasMetadata o : objects) {
            HasMetadata created = client.resource(o).create();
            assertThat(created.getMetadata().getUid()).as(o.getKind() + " " + o.getMetadata().getName()).isNotBlank();
        }
    }

    private static int indexOf(List<HasMetadata> objects, String kind) {
        for (int i = 0; i < objects.size(); i++) {
            if (objects.get(i).getKind().equals(kind)) {
                return i;
            }
        }
        return -1;
    }
}
