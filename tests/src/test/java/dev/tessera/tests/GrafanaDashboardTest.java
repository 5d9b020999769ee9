package dev.tessera.tests;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The Grafana dashboard shipped in {@code daemonset/observability/}: every panel's query selects by the
 * dashboard's {@code $node} variable, and every query of per-workload metrics by {@code $namespace}, so
 * picking a node or a namespace narrows every panel. {@code PrometheusNetnsIT} runs the same queries
 * against a real Prometheus.
 */
class GrafanaDashboardTest {

    static final Path DASHBOARD = Path.of(System.getProperty("user.dir"))
            .resolve("../daemonset/observability/grafana-dashboard.json").normalize();

    /** A metric name, then its selector if any. */
    private static final Pattern SELECTOR = Pattern.compile("\\b((?:istio|tessera|jvm|process)_[a-z0-9_]+)(\\{[^}]*})?");

    /** Every panel query: "panel title #n" to expression, in dashboard order. */
    static Map<String, String> queries() throws IOException {
        JsonNode d = new ObjectMapper().readTree(DASHBOARD.toFile());
        var out = new LinkedHashMap<String, String>();
        collect(d.path("panels"), out);
        return out;
    }

    private static void collect(JsonNode panels, Map<String, String> out) {
        for (JsonNode p : panels) {
            int n = 0;
            for (JsonNode t : p.path("targets")) {
                if (t.has("expr")) {
                    out.put(p.path("title").asText() + " #" + n++, t.path("expr").asText());
                }
            }
            collect(p.path("panels"), out);
        }
    }

    /** The query with the variables set as Grafana interpolates them. */
    static String interpolate(String expr, String node, String namespace) {
        return expr.replace("$node", node).replace("$namespace", namespace);
    }

    @Test
    void everyMetricSelectorHonoursTheNodeAndWorkloadMetricsTheNamespaceVariable() throws IOException {
        Map<String, String> queries = queries();
        assertThat(queries).hasSizeGreaterThan(15);
        List<String> problems = new ArrayList<>();
        queries.forEach((panel, expr) -> {
            Matcher m = SELECTOR.matcher(expr);
            int selectors = 0;
            while (m.find()) {
                selectors++;
                String metric = m.group(1);
                String sel = m.group(2) == null ? "" : m.group(2);
                if (!sel.contains("node=~\"$node\"")) {
                    problems.add(panel + ": " + metric + sel + " ignores $node");
                }
                boolean perWorkload = metric.startsWith("istio_tcp_") || metric.startsWith("tessera_tcp_")
                        || metric.startsWith("tessera_certificate_expiry");
                if (perWorkload && !sel.contains("$namespace")) {
                    problems.add(panel + ": " + metric + sel + " ignores $namespace");
                }
            }
            if (selectors == 0) {
                problems.add(panel + ": no metric in " + expr);
            }
        });
        assertThat(problems).isEmpty();
    }

    @Test
    void theNamespaceChoicesFollowTheNodeChoice() throws IOException {
        JsonNode d = new ObjectMapper().readTree(DASHBOARD.toFile());
        var names = new ArrayList<String>();
        for (JsonNode v : d.path("templating").path("list")) {
            names.add(v.path("name").asText());
            if (v.path("name").asText().equals("namespace")) {
                assertThat(v.path("query").asText()).contains("node=~\"$node\"");
            }
        }
        assertThat(names).contains("node", "namespace");
    }
}
