package dev.tessera.cli.kube;

import static dev.tessera.cli.kube.MockCluster.cli;
import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.mockwebserver.internal.WebSocketMessage;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * {@code tessera config NODE --kube}: the admin API (127.0.0.1:15000 in the agent's network namespace) through a
 * port-forward; the mock server speaks the port-forward WebSocket protocol (channel byte, then the port on each
 * channel, then data).
 */
class KubeConfigTest {

    @RegisterExtension
    final MockCluster mock = new MockCluster();

    @BeforeEach
    void cluster() {
        mock.agentPod("agent-1", "node1", true).agentPod("agent-2", "node2", true);
    }

    /** A port-forward frame: the channel (0 data, 1 error) then the payload. */
    private static byte[] frame(int channel, byte[] payload) {
        var b = new ByteArrayOutputStream();
        b.write(channel);
        b.writeBytes(payload);
        return b.toByteArray();
    }

    /**
     * The agent pod's port-forward answers {@code http} to exactly {@code GET path} (the mock matches the data
     * frame it receives, channel byte included, and closes the socket on anything else).
     */
    private void adminAnswers(String pod, String path, String http) {
        byte[] port = {(byte) (15000 & 0xff), (byte) (15000 >> 8)};
        String request = "\u0000GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1:15000\r\nConnection: close\r\n\r\n";
        mock.server.expect().get()
                .withPath("/api/v1/namespaces/tessera-system/pods/" + pod + "/portforward?ports=15000")
                // on open, the port on the data and on the error channel, as the kubelet sends them
                .andUpgradeToWebSocket().open(new WebSocketMessage(frame(0, port)), new WebSocketMessage(frame(1, port)))
                .expect(request).andEmit(new WebSocketMessage(frame(0, http.getBytes(StandardCharsets.UTF_8)))).always()
                .done().once();
    }

    private static String http(int status, String body) {
        return "HTTP/1.1 " + status + " X\r\ncontent-type: application/json\r\ncontent-length: "
                + body.getBytes(StandardCharsets.UTF_8).length + "\r\n\r\n" + body;
    }

    @Test
    void printsTheDumpOfTheAgentOnThatNode() {
        adminAnswers("agent-2", "/config_dump", http(200, "{\"node\":\"node2\",\"version\":9}"));

        var run = cli("config", "node2", "--kubeconfig", mock.kubeconfig);

        assertThat(run.code()).as(run.all()).isZero();
        assertThat(run.out()).isEqualTo("{\"node\":\"node2\",\"version\":9}");
    }

    @Test
    void yamlIsTheSameDocument() {
        adminAnswers("agent-1", "/config_dump", http(200, "{\"node\":\"node1\",\"workloads\":[\"shop/web\"]}"));

        var run = cli("config", "node1", "--kubeconfig", mock.kubeconfig, "-o", "yaml");

        assertThat(run.code()).as(run.all()).isZero();
        assertThat(run.out()).isEqualTo("node: node1\nworkloads:\n- shop/web\n");
    }

    @Test
    void anAdminErrorIsReportedWithTheNodeAndThePod() {
        adminAnswers("agent-1", "/nope", http(404, "no such path: /nope"));

        var run = cli("config", "node1", "--kubeconfig", mock.kubeconfig, "--path", "/nope");

        assertThat(run.code()).isEqualTo(1);
        assertThat(run.err()).contains("node node1 (pod agent-1): admin /nope answered HTTP 404: no such path: /nope");
    }

    @Test
    void aNodeWithoutAnAgentIsAUsageErrorListingTheNodesThatHaveOne() {
        var run = cli("config", "node9", "--kubeconfig", mock.kubeconfig);

        assertThat(run.code()).isEqualTo(2);
        assertThat(run.err()).contains("node: 'node9' (expected a node with an agent pod in namespace tessera-system:"
                + " [node1, node2])");
    }

    @Test
    void aForwardThatClosesWithoutAnAnswerSaysSo() {
        byte[] port = {(byte) (15000 & 0xff), (byte) (15000 >> 8)};
        mock.server.expect().get().withPath("/api/v1/namespaces/tessera-system/pods/agent-1/portforward?ports=15000")
                .andUpgradeToWebSocket().open(new WebSocketMessage(frame(0, port)), new WebSocketMessage(frame(1, port)))
                .done().once();

        var run = cli("config", "node1", "--kubeconfig", mock.kubeconfig, "--timeout", "3s");

        assertThat(run.code()).isEqualTo(1);
        assertThat(run.err()).contains("port-forward to tessera-system/agent-1:15000: connection closed without an answer")
                .contains("is the agent listening on 127.0.0.1:15000?");
    }
}
