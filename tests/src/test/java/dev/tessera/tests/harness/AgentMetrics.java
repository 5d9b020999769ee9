package dev.tessera.tests.harness;

import dev.tessera.cli.local.NodeHttp;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;

/**
 * An agent's Prometheus text exposition ({@code http://<nodeIp>:15020/metrics}, read inside the node
 * namespace), summed per metric name over all label sets.
 */
public final class AgentMetrics {

    /** Counter of connections the agent accepted from captured pods (any labels). */
    public static final String CONNECTIONS_OPENED = "tessera_connections_opened_total";
    /** Original-destination lookups of the outbound listener, by {@code result} (hit | miss). */
    public static final String ORIGINAL_DST_LOOKUPS = "tessera_original_destination_lookups_total";
    public static final int METRICS_PORT = 15020;

    private final Map<String, Double> sums;
    private final String text;

    private AgentMetrics(Map<String, Double> sums, String text) {
        this.sums = sums;
        this.text = text;
    }

    public static AgentMetrics scrape(Path nodeNetns, String nodeIp) throws IOException {
        NodeHttp.Response r = NodeHttp.get(nodeNetns, nodeIp, METRICS_PORT, "/metrics", Duration.ofSeconds(3));
        if (r.status() != 200) {
            throw new IOException("GET http://" + nodeIp + ":" + METRICS_PORT + "/metrics: HTTP " + r.status());
        }
        return parse(r.body());
    }

    static AgentMetrics parse(String text) {
        var sums = new HashMap<String, Double>();
        for (String line : text.split("\n")) {
            line = line.strip();
            if (line.isEmpty() || line.startsWith("#")) {
                continue;
            }
            int brace = line.indexOf('{');
            int space = brace >= 0 ? line.indexOf(' ', line.lastIndexOf('}')) : line.indexOf(' ');
            if (space < 0) {
                continue;
            }
            String name = line.substring(0, brace >= 0 ? brace : space);
            String[] rest = line.substring(space + 1).trim().split("\\s+");
            try {
                sums.merge(name, Double.parseDouble(rest[0]), Double::sum);
            } catch (NumberFormatException e) {
                // NaN/Inf spelled differently: not a counter we read
            }
        }
        return new AgentMetrics(sums, text);
    }

    /** The sum of all series of {@code name}; fails if the agent does not export it at all. */
    public double sum(String name) {
        Double v = sums.get(name);
        if (v == null) {
            throw new AssertionError("metric " + name + " not exported by the agent (exported: " + sums.keySet() + ")");
        }
        return v;
    }

    /**
     * The value of one series, e.g. {@code series("tessera_original_destination_lookups_total", "result", "miss")};
     * fails if no such series is exported.
     */
    public double series(String name, String label, String value) {
        String prefix = name + "{";
        String needle = label + "=\"" + value + "\"";
        for (String line : text.split("\n")) {
            if (line.startsWith(prefix) && line.substring(0, line.indexOf('}') + 1).contains(needle)) {
                return Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
            }
        }
        throw new AssertionError("series " + name + "{" + needle + "} not exported by the agent");
    }

    /**
     * The sum of the series of {@code name} whose labels include every {@code label="value"} pair given as
     * alternating arguments; 0 when none is exported (e.g. a labelled counter not incremented yet).
     */
    public double sumWhere(String name, String... labelValues) {
        double total = 0;
        for (String line : text.split("\n")) {
            if (!line.startsWith(name + "{")) {
                continue;
            }
            String labels = line.substring(0, line.indexOf('}') + 1);
            boolean all = true;
            for (int i = 0; i + 1 < labelValues.length; i += 2) {
                all &= labels.contains(labelValues[i] + "=\"" + labelValues[i + 1] + "\"");
            }
            if (all) {
                total += Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
            }
        }
        return total;
    }

    public String text() {
        return text;
    }
}
