package dev.tessera.cli.local;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tessera.api.netns.NetworkAttachments;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class NamesTest {

    @TempDir
    Path dir;

    private static final String YAML = """
            apiVersion: v1
            kind: Node
            metadata: {name: node1}
            ---
            apiVersion: v1
            kind: Node
            metadata: {name: node2}
            ---
            apiVersion: v1
            kind: Namespace
            metadata:
              name: demo
              labels: {tessera.dev/dataplane-mode: ambient}
            ---
            apiVersion: v1
            kind: Pod
            metadata: {name: a, namespace: demo}
            spec: {nodeName: node2, serviceAccountName: sa}
            ---
            apiVersion: v1
            kind: Pod
            metadata: {name: b, namespace: demo, labels: {tessera.dev/dataplane-mode: none}}
            spec: {nodeName: node2}
            status: {podIP: 198.18.2.2}
            ---
            apiVersion: v1
            kind: Service
            metadata: {name: ignored, namespace: demo}
            """;

    @Test
    void plansAddressesFromTheManifests() throws Exception {
        Files.writeString(dir.resolve("c.yaml"), YAML);
        NetworkAttachments n = Names.plan(dir, "tsc-u");
        assertThat(n.node("node2").orElseThrow().ip()).isEqualTo("198.18.0.2");
        assertThat(n.node("node2").orElseThrow().podCidr()).isEqualTo("198.18.2.0/24");
        assertThat(n.pod("demo", "b").orElseThrow().ip()).isEqualTo("198.18.2.2");
        assertThat(n.pod("demo", "a").orElseThrow().ip()).isEqualTo("198.18.2.3"); // .2 is taken by b's status.podIP
        assertThat(n.pod("demo", "a").orElseThrow().netns()).isEqualTo("/var/run/netns/tsc-u-p-demo.a");
        assertThat(Names.podNetns("c", "a-b", "c")).isNotEqualTo(Names.podNetns("c", "a", "b-c"));
    }

    @Test
    void badInputNamesTheField() throws Exception {
        Files.writeString(dir.resolve("c.yaml"), YAML.replace("nodeName: node2, serviceAccountName", "nodeName: node9, serviceAccountName"));
        assertThatThrownBy(() -> Names.plan(dir, "tsc-u")).hasMessageContaining("spec.nodeName: 'node9'");
        Files.writeString(dir.resolve("c.yaml"), YAML.replace("podIP: 198.18.2.2", "podIP: 198.18.1.2"));
        assertThatThrownBy(() -> Names.plan(dir, "tsc-u")).hasMessageContaining("status.podIP: '198.18.1.2'");
        assertThatThrownBy(() -> Names.plan(dir.resolve("missing"), "tsc-u")).hasMessageContaining("missing");
        assertThatThrownBy(() -> Names.checkCluster("Bad_Name")).hasMessageContaining("cluster name: 'Bad_Name'");
    }

    @Test
    void longNamesStayShortAndDistinct() {
        String a = Names.podNetns("cluster", "a-very-long-namespace-name", "and-a-very-long-pod-name-1");
        String b = Names.podNetns("cluster", "a-very-long-namespace-name", "and-a-very-long-pod-name-2");
        assertThat(a).hasSizeLessThanOrEqualTo(Names.MAX_NETNS).isNotEqualTo(b);
        assertThat(Names.nodeNetns("tessera", "node1")).isEqualTo("tessera-n-node1");
    }

    @Test
    void httpResponsesAreParsedPlainOrChunked() throws Exception {
        assertThat(NodeHttp.parse("HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok".getBytes()))
                .isEqualTo(new NodeHttp.Response(200, "ok"));
        assertThat(NodeHttp.parse("HTTP/1.1 503 x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nnot\r\n6\r\n ready\r\n0\r\n\r\n".getBytes()))
                .isEqualTo(new NodeHttp.Response(503, "not ready"));
    }
}
