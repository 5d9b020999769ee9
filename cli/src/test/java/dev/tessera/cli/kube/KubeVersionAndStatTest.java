package dev.tessera.cli.kube;

import static dev.tessera.cli.kube.MockCluster.agentMetrics;
import static dev.tessera.cli.kube.MockCluster.cli;
import static dev.tessera.cli.kube.MockCluster.controllerMetrics;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tessera.api.config.BuildInfo;
import dev.tessera.api.config.Ports;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** {@code tessera version --kube} and {@code tessera stat --kube} on the mock API server. */
class KubeVersionAndStatTest {

    @RegisterExtension
    final MockCluster mock = new MockCluster();

    @BeforeEach
    void cluster() {
        mock.installed().controllerPod("tessera-controller-a").agentPod("agent-1", "node1", true)
                .agentPod("agent-2", "node2", true)
                .metrics("tessera-controller-a", Ports.CONTROLLER_METRICS, controllerMetrics("0.1.0", 3, List.of()));
    }

    @Test
    void versionShowsTheClientTheControllerAndEveryAgentInTheLocalShape() throws Exception {
        mock.metrics("agent-1", Ports.METRICS, agentMetrics("0.1.0", 0, 3))
                .metrics("agent-2", Ports.METRICS, agentMetrics("0.0.9", 0, 3));

        var run = cli("version", "--kubeconfig", mock.kubeconfig, "-o", "json");

        assertThat(run.code()).as(run.all()).isZero();
        JsonNode doc = new ObjectMapper().readTree(run.out());
        assertThat(doc.path("client").path("version").asText()).isEqualTo(BuildInfo.VERSION);
        assertThat(doc.path("cluster").path("name").asText()).contains("context mock", "namespace tessera-system");
        assertThat(doc.path("cluster").path("controller").path("version").asText()).isEqualTo("0.1.0");
        assertThat(doc.path("cluster").path("agents")).hasSize(2);
        assertThat(doc.path("cluster").path("agents").get(1).path("node").asText()).isEqualTo("node2");
        assertThat(doc.path("cluster").path("agents").get(1).path("version").asText()).isEqualTo("0.0.9");
    }

    @Test
    void versionFailsWhenAnAgentDoesNotAnswerAndSaysWhich() {
        mock.metrics("agent-1", Ports.METRICS, agentMetrics("0.1.0", 0, 3))
                .proxyError("agent-2", Ports.METRICS, 502, "dial tcp 198.18.0.2:15020: connect: connection refused");

        var run = cli("version", "--kube", "--kubeconfig", mock.kubeconfig);

        assertThat(run.code()).as(run.all()).isEqualTo(1);
        assertThat(run.out()).containsPattern("agent node1 +0.1.0")
                .contains("agent node2            unreachable: GET /api/v1/namespaces/tessera-system/pods/agent-2:15020"
                        + "/proxy/metrics answered HTTP 502: dial tcp 198.18.0.2:15020: connect: connection refused");
    }

    private static String traffic(long opened, long closed, long received) {
        return """
                istio_tcp_connections_opened_total{reporter="source",source_workload="web",source_workload_namespace="shop",connection_security_policy="mutual_tls"} %d
                istio_tcp_connections_closed_total{reporter="source",source_workload="web",source_workload_namespace="shop",response_flags="-"} %d
                istio_tcp_received_bytes_total{reporter="source",source_workload="web",source_workload_namespace="shop"} %d
                """.formatted(opened, closed, received);
    }

    @Test
    void statComputesRatesFromTwoScrapesOfEveryAgentPod() throws Exception {
        // first scrape, then every later one (answers registered first are served first)
        mock.metricsOnce("agent-1", Ports.METRICS, traffic(10, 8, 1000)).metrics("agent-1", Ports.METRICS, traffic(30, 28, 5000))
                .metrics("agent-2", Ports.METRICS, agentMetrics("0.1.0", 0, 3));

        var run = cli("stat", "--kubeconfig", mock.kubeconfig, "--window", "100ms", "-o", "json");

        assertThat(run.code()).as(run.all()).isZero();
        JsonNode doc = new ObjectMapper().readTree(run.out());
        double seconds = doc.path("windowSeconds").asDouble();
        JsonNode row = doc.path("workloads").get(0);
        assertThat(row.path("workload").asText()).isEqualTo("shop/web");
        assertThat(row.path("direction").asText()).isEqualTo("outbound");
        assertThat(row.path("connectionsPerSecond").asDouble() * seconds).isCloseTo(20, org.assertj.core.data.Offset.offset(1e-6));
        assertThat(row.path("successRate").asDouble()).isEqualTo(1.0);
        assertThat(row.path("active").asLong()).isEqualTo(2);
        assertThat(row.path("mtls").asDouble()).isEqualTo(1.0);
    }

    @Test
    void statFailsNamingTheAgentThatDoesNotAnswer() {
        mock.metrics("agent-1", Ports.METRICS, traffic(1, 1, 1))
                .proxyError("agent-2", Ports.METRICS, 503, "pod not running");

        var run = cli("stat", "--kubeconfig", mock.kubeconfig, "--window", "100ms");

        assertThat(run.code()).isEqualTo(1);
        assertThat(run.err()).contains("error: agent agent-2 on node node2: GET /api/v1/namespaces/tessera-system/pods/"
                + "agent-2:15020/proxy/metrics answered HTTP 503: pod not running");
    }
}
