package dev.tessera.cli.kube;

import static dev.tessera.cli.kube.MockCluster.agentMetrics;
import static dev.tessera.cli.kube.MockCluster.cli;
import static dev.tessera.cli.kube.MockCluster.controllerMetrics;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tessera.api.config.Ports;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** {@code tessera proxy-status}: each agent's ACK as its controller replica exports it, on the mock API server. */
class KubeProxyStatusTest {

    @RegisterExtension
    final MockCluster mock = new MockCluster();

    /** Three nodes; node1 and node2 are served by replica a, node3 by replica b. */
    @BeforeEach
    void cluster() {
        mock.installed().controllerPod("tessera-controller-a").controllerPod("tessera-controller-b")
                .agentPod("agent-1", "node1", true).agentPod("agent-2", "node2", true).agentPod("agent-3", "node3", true)
                .metrics("agent-1", Ports.METRICS, agentMetrics("0.1.0", 1, 9))
                .metrics("agent-2", Ports.METRICS, agentMetrics("0.1.0", 1, 9))
                .metrics("agent-3", Ports.METRICS, agentMetrics("0.1.0", 1, 9));
    }

    private static JsonNode row(JsonNode doc, String node) {
        for (JsonNode r : doc.path("rows")) {
            if (r.path("node").asText().equals(node)) {
                return r;
            }
        }
        throw new AssertionError("no row for " + node + " in " + doc.toPrettyString());
    }

    @Test
    void everyAgentThatAcknowledgedTheLatestVersionIsSynced() throws Exception {
        mock.metrics("tessera-controller-a", Ports.CONTROLLER_METRICS, controllerMetrics("0.1.0", 9, List.of("node1=9", "node2=9")))
                .metrics("tessera-controller-b", Ports.CONTROLLER_METRICS, controllerMetrics("0.1.0", 9, List.of("node3=9")));

        var run = cli("proxy-status", "--kubeconfig", mock.kubeconfig, "-o", "json");

        assertThat(run.code()).as(run.all()).isZero();
        JsonNode doc = new ObjectMapper().readTree(run.out());
        assertThat(doc.path("rows")).hasSize(3);
        assertThat(row(doc, "node3").path("controller").asText()).isEqualTo("tessera-controller-b");
        assertThat(row(doc, "node1").path("acked").asLong()).isEqualTo(9);
        assertThat(row(doc, "node1").path("latest").asLong()).isEqualTo(9);
        assertThat(row(doc, "node1").path("applied").asLong()).isEqualTo(9);
        assertThat(row(doc, "node1").path("sync").asText()).isEqualTo("SYNCED");
        assertThat(doc.path("unreachable").isEmpty()).isTrue();
    }

    @Test
    void anAgentBehindIsStaleAndOneNoReplicaServesIsNotConnected() {
        mock.metrics("tessera-controller-a", Ports.CONTROLLER_METRICS, controllerMetrics("0.1.0", 9, List.of("node1=9", "node2=5")))
                .metrics("tessera-controller-b", Ports.CONTROLLER_METRICS, controllerMetrics("0.1.0", 9, List.of()));

        var run = cli("proxy-status", "--kubeconfig", mock.kubeconfig);

        assertThat(run.code()).as(run.all()).isEqualTo(1);
        assertThat(run.out()).containsPattern("node1 +agent-1 +tessera-controller-a +9 +9 +9 +2 +SYNCED")
                .containsPattern("node2 +agent-2 +tessera-controller-a +5 +9 +9 +2 +STALE")
                .containsPattern("node3 +agent-3 +- +- +- +9 +- +NOT_CONNECTED");
    }

    @Test
    void anUnreachableControllerIsNamedAndItsAgentsAreNotConnected() throws Exception {
        mock.metrics("tessera-controller-a", Ports.CONTROLLER_METRICS, controllerMetrics("0.1.0", 9, List.of("node1=9", "node2=9")))
                .proxyError("tessera-controller-b", Ports.CONTROLLER_METRICS, 503, "no endpoints available");

        var run = cli("proxy-status", "--kubeconfig", mock.kubeconfig, "-o", "yaml");

        assertThat(run.code()).as(run.all()).isEqualTo(1);
        JsonNode doc = new ObjectMapper(new com.fasterxml.jackson.dataformat.yaml.YAMLFactory()).readTree(run.out());
        assertThat(doc.path("unreachable").path("tessera-controller-b").asText()).isEqualTo("GET /api/v1/namespaces/"
                + "tessera-system/pods/tessera-controller-b:15014/proxy/metrics answered HTTP 503: no endpoints available");
        assertThat(row(doc, "node3").path("sync").asText()).isEqualTo("NOT_CONNECTED");
        assertThat(row(doc, "node2").path("sync").asText()).isEqualTo("SYNCED");
    }

    @Test
    void withoutControllerPodsItSaysWhatItExpected() {
        mock.client.pods().inNamespace(MockCluster.NS).withName("tessera-controller-a").delete();
        mock.client.pods().inNamespace(MockCluster.NS).withName("tessera-controller-b").delete();

        var run = cli("proxy-status", "--kubeconfig", mock.kubeconfig);

        assertThat(run.code()).isEqualTo(1);
        assertThat(run.out()).contains("unreachable: controller: no controller pod in namespace tessera-system"
                + " (expected: the Deployment tessera-controller's pods)");
    }
}
