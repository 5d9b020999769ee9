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

/**
 * {@code tessera check --kube}: objects from the mock server's CRUD store, agents' and controllers' metrics
 * through canned pod-proxy answers.
 */
class KubeCheckTest {

    @RegisterExtension
    final MockCluster mock = new MockCluster();

    /** Two nodes, two controller replicas, everything ready and at 0.1.0, config version 7 everywhere. */
    @BeforeEach
    void healthyCluster() {
        mock.kubernetesVersion("1", "31").installed().workloadStatus(2, 2, 2)
                .controllerPod("tessera-controller-a").controllerPod("tessera-controller-b")
                .agentPod("tessera-node-agent-x", "node1", true).agentPod("tessera-node-agent-y", "node2", true)
                .metrics("tessera-controller-a", Ports.CONTROLLER_METRICS, controllerMetrics("0.1.0", 7,
                        List.of("node1=7", "node2=7")));
    }

    /** The second replica (not leading) answers, and both agents (node1's at {@code version}). */
    private void agentsAnswer(String version) {
        mock.metrics("tessera-controller-b", Ports.CONTROLLER_METRICS, controllerMetrics("0.1.0", 7, List.of())
                        .replace("tessera_controller_is_leader 1", "tessera_controller_is_leader 0"));
        agentsOnlyAnswer(version);
    }

    private void agentsOnlyAnswer(String version) {
        mock.metrics("tessera-node-agent-x", Ports.METRICS, agentMetrics(version, 3, 7))
                .metrics("tessera-node-agent-y", Ports.METRICS, agentMetrics("0.1.0", 2, 7));
    }

    @Test
    void aHealthyInstallationPassesEveryCheck() throws Exception {
        agentsAnswer("0.1.0");

        var run = cli("check", "--kubeconfig", mock.kubeconfig, "-o", "json");

        assertThat(run.code()).as(run.all()).isZero();
        JsonNode doc = new ObjectMapper().readTree(run.out());
        assertThat(doc.path("passed").asBoolean()).isTrue();
        assertThat(run.out()).contains("2/2 replicas ready", "2/2 agents ready", "1 replica(s) lead",
                "1 root(s), no rotation under way",
                "3 expected, 3 captured, 3 certified", "certificate spiffe://cluster.local/ns/shop/sa/web")
                .contains("\"category\" : \"node node2\"");
        for (JsonNode c : doc.path("checks")) {
            assertThat(c.path("status").asText()).as(c.toString()).isEqualTo("OK");
        }
    }

    @Test
    void anAgentThatIsNotReadyFailsNamingItsNodeAndPod() {
        mock.client.pods().inNamespace(MockCluster.NS).withName("tessera-node-agent-y").delete();
        mock.agentPod("tessera-node-agent-y", "node2", false).workloadStatus(2, 2, 1);
        agentsAnswer("0.1.0");

        var run = cli("check", "--kubeconfig", mock.kubeconfig);

        assertThat(run.code()).as(run.all()).isEqualTo(1);
        assertThat(run.out()).contains("[FAIL] DaemonSet tessera-node-agent: 1/2 agents ready (expected: one ready agent on every node)")
                .contains("node node2\n----------\n[FAIL] agent ready: pod tessera-node-agent-y: phase Running, Ready=False"
                        + " (ContainersNotReady: containers with unready status: [agent]) (expected: Ready=True)")
                .contains("node node1\n----------\n[ok]   agent ready: pod tessera-node-agent-x")
                .contains("Status check results are [FAIL]");
    }

    @Test
    void aMissingCrdFails() {
        agentsAnswer("0.1.0");
        mock.client.apiextensions().v1().customResourceDefinitions()
                .withName("peerauthentications.security.tessera.dev").delete();

        var run = cli("check", "--kubeconfig", mock.kubeconfig);

        assertThat(run.code()).as(run.all()).isEqualTo(1);
        assertThat(run.out()).contains("[FAIL] CRD peerauthentications.security.tessera.dev: missing (expected: installed"
                + " with Tessera)").contains("[ok]   CRD authorizationpolicies.security.tessera.dev: installed");
    }

    @Test
    void anUnreachableControllerFailsWithWhatTheApiServerAnswered() {
        mock.proxyError("tessera-controller-b", Ports.CONTROLLER_METRICS, 503,
                "error trying to reach service: dial tcp 10.244.1.7:15014: connect: connection refused");
        agentsOnlyAnswer("0.1.0");

        var run = cli("check", "--kubeconfig", mock.kubeconfig);

        assertThat(run.code()).as(run.all()).isEqualTo(1);
        assertThat(run.out()).contains("[FAIL] pod tessera-controller-b: unreachable: GET /api/v1/namespaces/tessera-system"
                + "/pods/tessera-controller-b:15014/proxy/metrics answered HTTP 503: error trying to reach service")
                .contains("the controller must answer on :15014")
                .contains("[ok]   pod tessera-controller-a");
    }

    @Test
    void aCoverageGapOnOneNodeFails() {
        mock.metrics("tessera-controller-b", Ports.CONTROLLER_METRICS, controllerMetrics("0.1.0", 7, List.of()))
                .metrics("tessera-node-agent-x", Ports.METRICS, agentMetrics("0.1.0", 3, 7)
                        .replace("tessera_mesh_pods{state=\"captured\"} 3", "tessera_mesh_pods{state=\"captured\"} 2")
                        .replace("tessera_mesh_coverage_gap 0", "tessera_mesh_coverage_gap 1"))
                .metrics("tessera-node-agent-y", Ports.METRICS, agentMetrics("0.1.0", 2, 7));

        var run = cli("check", "--kubeconfig", mock.kubeconfig);

        assertThat(run.code()).as(run.all()).isEqualTo(1);
        assertThat(run.out()).contains("[FAIL] mesh coverage: 3 expected, 2 captured, 3 certified (gap 1)");
    }

    @Test
    void anAgentNewerThanTheControllerFailsTheSkewCheck() {
        agentsAnswer("0.2.0");

        var run = cli("check", "--kubeconfig", mock.kubeconfig, "-o", "yaml");

        assertThat(run.code()).as(run.all()).isEqualTo(1);
        assertThat(run.out()).contains("newer than controller 0.1.0: agent node1 0.2.0 (expected: agents <= controller)")
                .contains("upgrade the controller first");
    }

    @Test
    void anotherNamespaceWithoutTesseraFailsSayingSo() {
        agentsAnswer("0.1.0");

        var run = cli("check", "--kubeconfig", mock.kubeconfig, "--namespace", "elsewhere");

        assertThat(run.code()).isEqualTo(1);
        assertThat(run.out()).contains("[FAIL] Deployment tessera-controller: not found in namespace elsewhere")
                .contains("[FAIL] DaemonSet tessera-node-agent: not found in namespace elsewhere");
    }

    @Test
    void aRootRotationUnderWayWarnsWithItsPhaseAndWhatItWaitsFor() throws Exception {
        // the replica that is not the leader reports it (a rotation on any replica counts)
        mock.metrics("tessera-controller-b", Ports.CONTROLLER_METRICS, controllerMetrics("0.1.0", 7, List.of())
                .replace("tessera_controller_is_leader 1", "tessera_controller_is_leader 0")
                .replace("tessera_trust_roots 1", "tessera_trust_roots 2")
                .replace("{phase=\"STABLE\"} 1", "{phase=\"STABLE\"} 0")
                .replace("{phase=\"RENEWING\"} 0", "{phase=\"RENEWING\"} 1")
                .replace("tessera_controller_certificates_under_old_issuers 0",
                        "tessera_controller_certificates_under_old_issuers 4"));
        agentsOnlyAnswer("0.1.0");

        var run = cli("check", "--kubeconfig", mock.kubeconfig, "-o", "json");

        assertThat(run.code()).as("a rotation under way is a warning, not a failure: " + run.all()).isZero();
        JsonNode ca = check(run.out(), "root CA");
        assertThat(ca.path("status").asText()).isEqualTo("WARN");
        assertThat(ca.path("detail").asText()).isEqualTo("root rotation under way: phase RENEWING, 2 roots trusted,"
                + " 0 agent(s) without the current bundle, 4 certificate(s) under old issuers");
    }

    @Test
    void aRejectedCaSecretFailsNamingWhereToLook() throws Exception {
        mock.metrics("tessera-controller-b", Ports.CONTROLLER_METRICS, controllerMetrics("0.1.0", 7, List.of())
                .replace("tessera_controller_is_leader 1", "tessera_controller_is_leader 0")
                .replace("tessera_controller_ca_rejected 0", "tessera_controller_ca_rejected 1"));
        agentsOnlyAnswer("0.1.0");

        var run = cli("check", "--kubeconfig", mock.kubeconfig, "-o", "json");

        assertThat(run.code()).as(run.all()).isEqualTo(1);
        JsonNode secret = check(run.out(), "CA Secret");
        assertThat(secret.path("status").asText()).isEqualTo("FAIL");
        assertThat(secret.path("hint").asText()).contains("logs tessera-controller-b", "grep 'CA Secret'");
        assertThat(check(run.out(), "root CA").path("status").asText()).isEqualTo("OK");
    }

    private static JsonNode check(String json, String name) throws Exception {
        for (JsonNode c : new ObjectMapper().readTree(json).path("checks")) {
            if (c.path("name").asText().equals(name)) {
                return c;
            }
        }
        throw new AssertionError("no check " + name + " in " + json);
    }
}
