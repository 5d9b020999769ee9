package dev.tessera.tests;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.tessera.api.json.Json;
import dev.tessera.tests.harness.ClusterSpec;
import dev.tessera.tests.harness.Exchange;
import dev.tessera.tests.harness.NetnsSupport;
import dev.tessera.tests.harness.PodServer;
import dev.tessera.tests.harness.TestCluster;
import java.io.IOException;
import java.nio.file.Files;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Agents started with {@code --log-format=json}: every line they log is one JSON object, and a meshed
 * connection's access record carries ztunnel's access-log keys, so a pipeline built for ztunnel parses it.
 */
@Timeout(180)
class JsonLogsNetnsIT {

    private static final String MESH = "mesh";
    private static final ClusterSpec SPEC = ClusterSpec.builder()
            .nodes("node1", "node2")
            .meshedNamespace(MESH)
            .pod(MESH, "client", "node1", "client")
            .pod(MESH, "server", "node2", "server")
            .build();

    private static TestCluster c;
    private static String serverIp;

    @BeforeAll
    static void up() throws IOException {
        NetnsSupport.requireRoot();
        c = TestCluster.create("tsc-jl", SPEC, true, List.of("--log-format=json"));
        serverIp = c.podIp(MESH, "server");
        c.server(MESH, "server", 7000, PodServer.lineEcho("server"));
    }

    @AfterAll
    static void down() throws IOException {
        if (c != null) {
            c.close();
        }
    }

    @Test
    void everyLineIsJsonAndTheAccessRecordHasZtunnelsKeys() throws Exception {
        assertThat(c.inPod(MESH, "client", () -> Exchange.lineRoundTrip(serverIp, 7000, "hello", 3000)))
                .isEqualTo("server hello");
        await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> assertThat(Files.readString(c.cluster()
                .agentLog("node1"))).contains("\"scope\":\"tessera.access\""));

        List<String> lines = Files.readAllLines(c.cluster().agentLog("node1")).stream()
                .filter(l -> !l.startsWith("#")) // the launcher's own notes
                .toList();
        assertThat(lines).isNotEmpty().allSatisfy(l -> assertThat(Json.parseObject(l))
                .containsKeys("level", "time", "scope", "message"));
        Map<String, Object> access = lines.stream().map(Json::parseObject)
                .filter(m -> "tessera.access".equals(m.get("scope")) && (serverIp + ":7000").equals(m.get("dst.addr")))
                .findFirst().orElseThrow();
        System.out.println("JSON access record: " + Json.write(access));
        assertThat(access).containsEntry("message", "connection complete").containsEntry("direction", "outbound")
                .containsEntry("src.workload", "client").containsEntry("src.namespace", MESH)
                .containsEntry("src.identity", "spiffe://cluster.local/ns/mesh/sa/client")
                .containsEntry("dst.workload", "server").containsEntry("dst.namespace", MESH)
                .containsEntry("dst.identity", "spiffe://cluster.local/ns/mesh/sa/server")
                .containsKeys("src.addr", "dst.hbone_addr", "bytes_sent", "bytes_recv", "duration");
        assertThat(((Number) access.get("bytes_sent")).longValue()).isEqualTo("hello\n".length());
        assertThat(((Number) access.get("bytes_recv")).longValue()).isEqualTo("server hello\n".length());
        assertThat((String) access.get("time")).matches("\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z");
    }
}
