package dev.tessera.tests.harness;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tessera.cli.local.NodeHttp;
import java.io.IOException;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.OptionalDouble;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

/**
 * A real Prometheus server (Debian's {@code prometheus}) run inside a node's network namespace (via
 * {@code nsenter --net}, so it reaches every node over the fabric) with its own config and storage in a
 * temporary directory, listening on that namespace's 127.0.0.1. Queried over its HTTP API from a thread in
 * the same namespace. {@link #close()} kills the process it started, by pid, and deletes the directory.
 */
public final class PrometheusServer implements AutoCloseable {

    private static final ObjectMapper JSON = new ObjectMapper();

    private final Process process;
    private final Path dir;
    private final Path netns;
    private final int port;

    private PrometheusServer(Process process, Path dir, Path netns, int port) {
        this.process = process;
        this.dir = dir;
        this.netns = netns;
        this.port = port;
    }

    /**
     * Starts Prometheus in {@code netns}, scraping {@code targets} ({@code ip:port}) every second as job
     * {@code tessera-agents}.
     */
    public static PrometheusServer start(Path netns, List<String> targets, int port) throws IOException {
        return start(netns, "      - targets: [" + targets.stream().map(t -> "'" + t + "'").collect(Collectors.joining(", "))
                + "]\n", port);
    }

    /**
     * Starts Prometheus in {@code netns}, scraping each agent ({@code node name -> ip:port}) every second as job
     * {@code tessera-agents} with a {@code node} target label, as the shipped PodMonitor and scrape config
     * label agent series ({@code __meta_kubernetes_pod_node_name}).
     */
    public static PrometheusServer startWithNodeLabels(Path netns, java.util.Map<String, String> targets, int port)
            throws IOException {
        var configs = new StringBuilder();
        targets.forEach((node, target) -> configs.append("      - targets: ['").append(target).append("']\n")
                .append("        labels: {node: '").append(node).append("'}\n"));
        return start(netns, configs.toString(), port);
    }

    private static PrometheusServer start(Path netns, String staticConfigs, int port) throws IOException {
        Path binary = Path.of("/usr/bin/prometheus");
        if (!Files.isExecutable(binary)) {
            throw new IOException("prometheus: " + binary + " missing (expected: Debian package 'prometheus'; run scripts/setup.sh)");
        }
        Path dir = Files.createTempDirectory("tessera-prometheus-");
        String config = """
                global:
                  scrape_interval: 1s
                  scrape_timeout: 900ms
                  evaluation_interval: 1s
                scrape_configs:
                  - job_name: tessera-agents
                    metrics_path: /metrics
                    static_configs:
                """ + staticConfigs;
        Files.writeString(dir.resolve("prometheus.yml"), config);
        Process p = new ProcessBuilder("nsenter", "--net=" + netns, binary.toString(),
                "--config.file=" + dir.resolve("prometheus.yml"),
                "--storage.tsdb.path=" + dir.resolve("data"),
                "--web.listen-address=127.0.0.1:" + port,
                "--web.console.templates=" + dir, "--web.console.libraries=" + dir)
                .redirectErrorStream(true).redirectOutput(dir.resolve("prometheus.log").toFile()).start();
        return new PrometheusServer(p, dir, netns, port);
    }

    public long pid() {
        return process.pid();
    }

    /** The server's log so far (for assertion messages). */
    public String log() {
        try {
            return Files.readString(dir.resolve("prometheus.log"));
        } catch (IOException e) {
            return e.toString();
        }
    }

    /** True once {@code /-/ready} answers 200. */
    public boolean ready() {
        try {
            return NodeHttp.get(netns, "127.0.0.1", port, "/-/ready", Duration.ofSeconds(2)).status() == 200;
        } catch (IOException e) {
            return false;
        }
    }

    /** An instant PromQL query; the {@code data.result} array. */
    public JsonNode query(String promql) throws IOException {
        String path = "/api/v1/query?query=" + URLEncoder.encode(promql, StandardCharsets.UTF_8);
        NodeHttp.Response r = NodeHttp.get(netns, "127.0.0.1", port, path, Duration.ofSeconds(5));
        JsonNode body = JSON.readTree(r.body());
        if (r.status() != 200 || !"success".equals(body.path("status").asText())) {
            throw new IOException("PromQL '" + promql + "': HTTP " + r.status() + " " + r.body());
        }
        return body.path("data").path("result");
    }

    /** The single value of a scalar-like query ({@code sum(...)}), or empty when no series matched. */
    public OptionalDouble value(String promql) throws IOException {
        JsonNode result = query(promql);
        if (result.size() == 0) {
            return OptionalDouble.empty();
        }
        if (result.size() > 1) {
            throw new IOException("PromQL '" + promql + "' returned " + result.size() + " series (expected: 1)");
        }
        return OptionalDouble.of(Double.parseDouble(result.get(0).path("value").get(1).asText()));
    }

    @Override
    public void close() throws IOException {
        process.destroy();
        try {
            if (!process.waitFor(10, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                process.waitFor(10, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        try (var files = Files.walk(dir)) {
            files.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
        }
    }
}
