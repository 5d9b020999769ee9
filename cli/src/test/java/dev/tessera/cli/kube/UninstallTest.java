package dev.tessera.cli.kube;

import static dev.tessera.cli.kube.MockCluster.cli;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Namespace;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.api.model.apps.DaemonSet;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** {@code tessera uninstall}: what install created goes, in order, once; enrolled namespaces stop it. */
class UninstallTest {

    @RegisterExtension
    final MockCluster mock = new MockCluster();

    @BeforeEach
    void installed() {
        mock.installed();
    }

    private List<HasMetadata> present() {
        List<HasMetadata> out = new ArrayList<>();
        for (HasMetadata o : ClusterPreflight.installObjects(MockCluster.NS)) {
            if (mock.client.resource(o).get() != null) {
                out.add(o);
            }
        }
        return out;
    }

    @Test
    void deletesEverythingButTheCrdsAgentsFirstAndASecondRunFindsNothing() throws Exception {
        assertThat(present()).hasSizeGreaterThan(8);

        var run = cli("uninstall", "--kubeconfig", mock.kubeconfig, "-o", "json");

        assertThat(run.code()).as(run.all()).isZero();
        assertThat(present()).allMatch(o -> o instanceof CustomResourceDefinition).hasSize(2);
        JsonNode steps = new ObjectMapper().readTree(run.out()).path("steps");
        assertThat(steps.get(0).path("kind").asText()).isEqualTo("DaemonSet");
        assertThat(steps.get(0).path("outcome").asText()).isEqualTo("DELETED");
        List<String> kinds = new ArrayList<>();
        steps.forEach(s -> kinds.add(s.path("kind").asText()));
        assertThat(kinds.indexOf("Deployment")).isLessThan(kinds.indexOf("ClusterRole"));
        assertThat(kinds.indexOf("ClusterRoleBinding")).isLessThan(kinds.indexOf("ClusterRole"));
        assertThat(kinds.indexOf("Namespace")).isGreaterThan(kinds.indexOf("ServiceAccount"));
        assertThat(kinds.subList(kinds.size() - 2, kinds.size())).containsOnly("CustomResourceDefinition");
        steps.forEach(s -> assertThat(s.path("outcome").asText()).as(s.toString())
                .isEqualTo(s.path("kind").asText().equals("CustomResourceDefinition") ? "KEPT" : "DELETED"));

        var again = cli("uninstall", "--kubeconfig", mock.kubeconfig);

        assertThat(again.code()).as(again.all()).isZero();
        assertThat(again.out()).contains("ABSENT        DaemonSet tessera-system/tessera-node-agent")
                .contains("KEPT          CustomResourceDefinition authorizationpolicies.security.tessera.dev")
                .doesNotContain("DELETED");
    }

    @Test
    void withCrdsTheCrdsGoToo() {
        var run = cli("uninstall", "--kubeconfig", mock.kubeconfig, "--crds");

        assertThat(run.code()).as(run.all()).isZero();
        assertThat(present()).isEmpty();
        assertThat(run.out()).contains("DELETED       CustomResourceDefinition peerauthentications.security.tessera.dev");
    }

    @Test
    void refusesWhileANamespaceIsEnrolledAndDeletesNothing() {
        mock.namespace("shop", "ambient").namespace("plain", null);

        var run = cli("uninstall", "--kubeconfig", mock.kubeconfig);

        assertThat(run.code()).isEqualTo(1);
        assertThat(run.err()).contains("namespaces still enrolled in the mesh: [shop] (expected: none)")
                .contains("kubectl label namespace NAME tessera.dev/dataplane-mode-");
        assertThat(mock.client.apps().daemonSets().inNamespace(MockCluster.NS).withName(KubeCluster.AGENT).get())
                .isNotNull();

        var forced = cli("uninstall", "--kubeconfig", mock.kubeconfig, "--force");
        assertThat(forced.code()).as(forced.all()).isZero();
        assertThat(mock.client.apps().daemonSets().inNamespace(MockCluster.NS).withName(KubeCluster.AGENT).get())
                .isNull();
    }

    @Test
    void anObjectStillFinalizingIsReportedAndNotDeletedAgain() {
        // a finalizer keeps the controller's Deployment (as a Terminating namespace stays) after its deletion
        var d = mock.client.apps().deployments().inNamespace(MockCluster.NS).withName(KubeCluster.CONTROLLER).get();
        d.getMetadata().setFinalizers(List.of("example.com/hold"));
        mock.client.apps().deployments().inNamespace(MockCluster.NS).resource(d).update();
        mock.client.apps().deployments().inNamespace(MockCluster.NS).withName(KubeCluster.CONTROLLER).delete();
        assertThat(mock.client.apps().deployments().inNamespace(MockCluster.NS).withName(KubeCluster.CONTROLLER).get()
                .getMetadata().getDeletionTimestamp()).isNotNull();

        var run = cli("uninstall", "--kubeconfig", mock.kubeconfig);

        assertThat(run.code()).as(run.all()).isZero();
        assertThat(run.out()).contains("DELETING      Deployment tessera-system/tessera-controller")
                .contains("DELETED       DaemonSet tessera-system/tessera-node-agent");
    }

    @Test
    void aDryRunListsAndKeepsEverything() {
        var run = cli("uninstall", "--kubeconfig", mock.kubeconfig, "--dry-run");

        assertThat(run.code()).as(run.all()).isZero();
        assertThat(run.out()).contains("WOULD_DELETE  Deployment tessera-system/tessera-controller");
        assertThat(present()).hasSize(ClusterPreflight.installObjects(MockCluster.NS).size());
        assertThat(mock.client.apps().deployments().inNamespace(MockCluster.NS).withName(KubeCluster.CONTROLLER).get())
                .isInstanceOf(Deployment.class);
        assertThat(mock.client.namespaces().withName(MockCluster.NS).get()).isInstanceOf(Namespace.class);
        assertThat(mock.client.apps().daemonSets().inNamespace(MockCluster.NS).withName(KubeCluster.AGENT).get())
                .isInstanceOf(DaemonSet.class);
    }
}
