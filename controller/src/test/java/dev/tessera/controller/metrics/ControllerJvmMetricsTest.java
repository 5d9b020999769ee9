package dev.tessera.controller.metrics;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tessera.api.identity.CertificateAuthority;
import dev.tessera.controller.MockCluster;
import dev.tessera.controller.local.LocalController;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The controller's :15014/metrics carries the JVM and process series next to its own. */
class ControllerJvmMetricsTest {

    @TempDir
    Path dir;

    @Test
    void metricsEndpointExportsJvmAndProcessMetrics() throws Exception {
        Path folder = Files.createDirectories(dir.resolve("cluster"));
        Files.copy(MockCluster.mesh().resolve("cluster.yaml"), folder.resolve("cluster.yaml"));
        Path caDir = Files.createDirectories(dir.resolve("ca"));
        CertificateAuthority.generate("cluster.local").save(caDir);
        Path tokens = Files.writeString(dir.resolve("tokens"), "node1-token-0123456789,node1\n");
        var registry = new PrometheusRegistry();
        try (var core = LocalController.start(folder, null, caDir, tokens, "cluster.local", Duration.ofHours(1),
                Duration.ofMillis(50));
                var http = new HealthServer(new InetSocketAddress("127.0.0.1", 0), registry, () -> true)) {
            new ControllerMetrics(registry, core);
            var response = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                    URI.create("http://127.0.0.1:" + http.port() + "/metrics")).build(), HttpResponse.BodyHandlers.ofString());
            assertThat(response.statusCode()).isEqualTo(200);
            assertThat(response.body()).contains(
                    "tessera_controller_is_leader ",
                    "jvm_memory_used_bytes{area=\"heap\"}",
                    "jvm_buffer_pool_used_bytes{pool=\"direct\"}",
                    "jvm_gc_collection_seconds_count{gc=",
                    "jvm_threads_current ",
                    "jvm_classes_currently_loaded ",
                    "jvm_runtime_info{",
                    "process_cpu_seconds_total ",
                    "process_resident_memory_bytes ",
                    "process_open_fds ");
        }
    }
}
