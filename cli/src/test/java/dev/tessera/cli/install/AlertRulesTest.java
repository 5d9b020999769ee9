package dev.tessera.cli.install;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The chart's PrometheusRule: it names only metrics the agent or the controller registers, the real
 * Prometheus ({@code promtool}, from Debian's prometheus package, installed by scripts/setup.sh) accepts
 * it, and its alerts fire on the series they are meant for ({@code promtool test rules}).
 */
class AlertRulesTest {

    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());
    private static final Pattern REGISTERED = Pattern.compile("\\.name\\(\"((?:tessera|istio)_[a-z0-9_]+)\"\\)");
    private static final Pattern METRIC = Pattern.compile("\\b((?:tessera|istio)_[a-z0-9_]+)\\b");
    private static final String AGENTS = "job=\"tessera-system/tessera-node-agents\"";
    private static final String CONTROLLER = "job=\"tessera-system/tessera-controller\"";

    @TempDir
    Path dir;

    @SuppressWarnings("unchecked")
    static List<Map<String, Object>> groups() {
        GenericKubernetesResource rule = HelmChart.objects(HelmChart.forKustomize(HelmChart.MONITORING)).stream()
                .filter(o -> o.getKind().equals("PrometheusRule")).map(o -> (GenericKubernetesResource) o)
                .findFirst().orElseThrow();
        return (List<Map<String, Object>>) ((Map<String, Object>) rule.getAdditionalProperties().get("spec")).get("groups");
    }

    @SuppressWarnings("unchecked")
    static Map<String, Map<String, Object>> alerts() {
        Map<String, Map<String, Object>> out = new LinkedHashMap<>();
        for (Map<String, Object> g : groups()) {
            for (Map<String, Object> r : (List<Map<String, Object>>) g.get("rules")) {
                out.put((String) r.get("alert"), r);
            }
        }
        return out;
    }

    @Test
    void theAlertsTheIssueAsksForAreThere() {
        assertThat(alerts()).containsKeys("TesseraNodeAgentsAbsent", "TesseraNodeAgentDown", "TesseraControllerNoLeader",
                "TesseraPoliciesRejected", "TesseraCertificateRequestsFailing", "TesseraControllerCertificateRefusals",
                "TesseraTlsHandshakeFailures", "TesseraMeshCoverageGap");
    }

    @Test
    void everyMetricNamedIsRegisteredByTheAgentOrTheController() throws IOException {
        Set<String> registered = registered();
        assertThat(registered).contains("tessera_mesh_coverage_gap", "tessera_controller_is_leader");
        Set<String> named = new TreeSet<>();
        for (Map<String, Object> r : alerts().values()) {
            Matcher m = METRIC.matcher((String) r.get("expr"));
            while (m.find()) {
                named.add(m.group(1));
            }
        }
        assertThat(named).isNotEmpty();
        assertThat(named).allSatisfy(n -> assertThat(registered).as("registered metrics").contains(n));
    }

    @Test
    void promtoolAcceptsTheRules() throws Exception {
        Path rules = writeRules();
        Result r = run("promtool", "check", "rules", rules.toString());
        assertThat(r.exit()).as(r.output()).isZero();
        assertThat(r.output()).contains("SUCCESS: " + alerts().size() + " rules found");
    }

    @Test
    void theAlertsFireOnTheSeriesTheyWatch() throws Exception {
        writeRules();
        List<Map<String, Object>> tests = new ArrayList<>();
        tests.add(test(List.of(series("tessera_mesh_coverage_gap{" + AGENTS + ",node=\"n1\"}", "0 0 2x10"),
                        series("tessera_mesh_coverage_gap{" + AGENTS + ",node=\"n2\"}", "0x12")),
                "TesseraMeshCoverageGap", Map.of("node", "n1"), null));
        tests.add(test(List.of(series("up{" + AGENTS + ",node=\"n1\"}", "1x12"),
                        series("up{" + AGENTS + ",node=\"n2\"}", "1 0x11")),
                "TesseraNodeAgentDown", Map.of("node", "n2", "job", "tessera-system/tessera-node-agents"), null));
        tests.add(test(List.of(series("up{" + AGENTS + ",node=\"n1\"}", "0x12")), "TesseraNodeAgentsAbsent",
                Map.of(), null));
        tests.add(test(List.of(series("tessera_controller_is_leader{" + CONTROLLER + ",pod=\"a\"}", "0x12"),
                        series("tessera_controller_is_leader{" + CONTROLLER + ",pod=\"b\"}", "0x12")),
                "TesseraControllerNoLeader", Map.of(), null));
        tests.add(test(List.of(series("tessera_policies{" + AGENTS + ",node=\"n1\",kind=\"AuthorizationPolicy\",status=\"rejected\"}", "2x12"),
                        series("tessera_policies{" + AGENTS + ",node=\"n1\",kind=\"PeerAuthentication\",status=\"accepted\"}", "3x12")),
                "TesseraPoliciesRejected", Map.of("kind", "AuthorizationPolicy"), "2"));
        tests.add(test(List.of(series("tessera_certificate_requests_total{" + AGENTS + ",node=\"n1\",result=\"failed\"}", "0+1x30")),
                "TesseraCertificateRequestsFailing", Map.of("node", "n1"), null, "25m"));
        tests.add(test(List.of(series("tessera_tls_handshakes_total{" + AGENTS + ",node=\"n1\",direction=\"inbound\",result=\"failure\"}", "0+5x30"),
                        series("tessera_tls_handshakes_total{" + AGENTS + ",node=\"n1\",direction=\"inbound\",result=\"success\"}", "0+50x30")),
                "TesseraTlsHandshakeFailures", Map.of("node", "n1", "direction", "inbound"), null, "25m"));
        tests.add(test(List.of(series("tessera_controller_certificate_refusals_total{" + CONTROLLER + ",pod=\"a\",reason=\"NOT_ON_NODE\"}", "0+1x30")),
                "TesseraControllerCertificateRefusals", Map.of("reason", "NOT_ON_NODE"), null, "25m"));
        tests.add(test(List.of(series("tessera_controller_ca_rejected{" + CONTROLLER + ",pod=\"a\"}", "0 0 1x10"),
                        series("tessera_controller_ca_rejected{" + CONTROLLER + ",pod=\"b\"}", "0x12")),
                "TesseraControllerCaSecretRejected", Map.of(), null));
        // quiet series fire nothing
        tests.add(test(List.of(series("tessera_controller_is_leader{" + CONTROLLER + ",pod=\"a\"}", "1x12"),
                        series("tessera_mesh_coverage_gap{" + AGENTS + ",node=\"n1\"}", "0x12")),
                "TesseraControllerNoLeader", null, null));

        Path file = dir.resolve("tests.yaml");
        YAML.writeValue(file.toFile(), Map.of("rule_files", List.of("rules.yaml"), "evaluation_interval", "1m",
                "tests", tests));
        Result r = run("promtool", "test", "rules", file.toString());
        assertThat(r.exit()).as(r.output()).isZero();
        assertThat(r.output()).contains("SUCCESS");
    }

    private static Map<String, Object> series(String series, String values) {
        return Map.of("series", series, "values", values);
    }

    private static Map<String, Object> test(List<Map<String, Object>> input, String alert, Map<String, String> labels,
            String value) {
        return test(input, alert, labels, value, "10m");
    }

    /** One promtool test: {@code alert} fires at {@code at} with {@code labels}, or not at all when they are null. */
    @SuppressWarnings("unchecked")
    private static Map<String, Object> test(List<Map<String, Object>> input, String alert, Map<String, String> labels,
            String value, String at) {
        List<Map<String, Object>> expected = new ArrayList<>();
        if (labels != null) {
            Map<String, Object> rule = alerts().get(alert);
            Map<String, String> all = new LinkedHashMap<>(labels);
            all.putAll((Map<String, String>) rule.get("labels"));
            Map<String, String> annotations = new LinkedHashMap<>();
            ((Map<String, String>) rule.get("annotations")).forEach((k, v) -> annotations.put(k, expand(v, all, value)));
            expected.add(Map.of("exp_labels", all, "exp_annotations", annotations));
        }
        return Map.of("interval", "1m", "input_series", input, "alert_rule_test",
                List.of(Map.of("eval_time", at, "alertname", alert, "exp_alerts", expected)));
    }

    /** What Prometheus makes of an annotation: {@code {{ $labels.x }}} and {@code {{ $value }}} filled in. */
    private static String expand(String template, Map<String, String> labels, String value) {
        Matcher m = Pattern.compile("\\{\\{ \\$labels\\.(\\w+) }}|\\{\\{ \\$value }}").matcher(template);
        StringBuilder b = new StringBuilder();
        while (m.find()) {
            String v = m.group(1) == null ? value : labels.get(m.group(1));
            m.appendReplacement(b, Matcher.quoteReplacement(v == null ? "<no value>" : v));
        }
        m.appendTail(b);
        return b.toString();
    }

    private Path writeRules() throws IOException {
        Path rules = dir.resolve("rules.yaml");
        YAML.writeValue(rules.toFile(), Map.of("groups", groups()));
        return rules;
    }

    /** Metric names given to {@code .name("...")} in the agent's and the controller's main sources. */
    static Set<String> registered() throws IOException {
        Set<String> out = new TreeSet<>();
        Path root = HelmChart.DAEMONSET.getParent();
        for (String module : List.of("node-agent", "controller")) {
            try (Stream<Path> files = Files.walk(root.resolve(module).resolve("src/main/java"))) {
                for (Path f : files.filter(p -> p.toString().endsWith(".java")).toList()) {
                    Matcher m = REGISTERED.matcher(Files.readString(f));
                    while (m.find()) {
                        out.add(m.group(1));
                    }
                }
            }
        }
        return out;
    }

    record Result(int exit, String output) {}

    private static Result run(String... command) throws IOException, InterruptedException {
        Process p;
        try {
            p = new ProcessBuilder(command).redirectErrorStream(true).start();
        } catch (IOException e) {
            throw new AssertionError(command[0] + ": not found (expected: installed by scripts/setup.sh)", e);
        }
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        return new Result(p.exitValue(), out);
    }
}
