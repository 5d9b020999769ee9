package dev.tessera.cli.install;

import static java.util.Objects.requireNonNull;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.marcnuri.helm.Helm;
import com.marcnuri.helm.LintResult;
import io.fabric8.kubernetes.api.model.HasMetadata;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The chart {@code daemonset/chart/tessera} rendered and linted by real Helm (helm-java: Helm's Go code
 * through JNA), and the mapping from its templates to the files of the kustomize folder.
 */
final class HelmChart {

    static final Path DAEMONSET = Path.of(System.getProperty("user.dir")).resolve("../daemonset").normalize();
    static final Path CHART = DAEMONSET.resolve("chart/tessera");
    /** The values the kustomize folder and {@code tessera install} are rendered with. */
    static final Path KUSTOMIZE_VALUES = DAEMONSET.resolve("chart/kustomize-values.yaml");
    static final String RELEASE = "tessera";
    static final String NAMESPACE = InstallOptions.DEFAULT_NAMESPACE;
    /** What turns on the Prometheus Operator objects (rendered into daemonset/observability/). */
    static final Map<String, Object> MONITORING = Map.of("monitoring", Map.of(
            "podMonitor", Map.of("enabled", true), "prometheusRule", Map.of("enabled", true)));

    private static final Pattern SOURCE = Pattern.compile("(?m)^# Source: tessera/templates/(\\S+)\\n");
    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());

    private HelmChart() {}

    /** {@code helm template tessera CHART -n NAMESPACE -f FILE... -f <values>}. */
    static String template(String namespace, Map<String, Object> values, Path... valuesFiles) {
        var cmd = new Helm(CHART).template().withName(RELEASE).withNamespace(namespace);
        for (Path f : valuesFiles) {
            cmd.withValuesFile(f);
        }
        Path extra = null;
        try {
            if (!values.isEmpty()) {
                extra = Files.createTempFile("tessera-values", ".yaml");
                YAML.writeValue(extra.toFile(), values);
                cmd.withValuesFile(extra);
            }
            return cmd.call();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } finally {
            if (extra != null) {
                extra.toFile().delete();
            }
        }
    }

    /** The chart with its defaults (what {@code helm install} applies). */
    static String defaults() {
        return template(NAMESPACE, Map.of());
    }

    /** The chart as the kustomize folder and {@code tessera install} carry it. */
    static String forKustomize(Map<String, Object> values) {
        return template(NAMESPACE, values, KUSTOMIZE_VALUES);
    }

    static List<HasMetadata> objects(String rendered) {
        return Manifests.parse("helm template", rendered);
    }

    /** {@code helm lint --strict} of the chart with its default values. */
    static LintResult lint() {
        return new Helm(CHART).lint().strict().call();
    }

    /**
     * The rendered text of each template that produced output, keyed by its path under
     * {@code templates/}, documents separated by {@code ---} in Helm's order.
     */
    static Map<String, String> bySource(String rendered) {
        Map<String, StringBuilder> out = new LinkedHashMap<>();
        Matcher m = SOURCE.matcher(rendered);
        String current = null;
        int start = 0;
        while (m.find()) {
            if (current != null) {
                append(out, current, rendered.substring(start, m.start()));
            }
            current = m.group(1);
            start = m.end();
        }
        if (current != null) {
            append(out, current, rendered.substring(start));
        }
        Map<String, String> result = new LinkedHashMap<>();
        out.forEach((k, v) -> result.put(k, v.toString()));
        return result;
    }

    private static void append(Map<String, StringBuilder> out, String source, String text) {
        String doc = text.replaceAll("(?s)\\n*(---\\s*)?$", "").strip() + "\n";
        StringBuilder b = out.computeIfAbsent(source, k -> new StringBuilder());
        if (b.length() > 0) {
            b.append("---\n");
        }
        b.append(doc);
    }

    /** The kustomize folder's file (relative to {@code daemonset/}) that a template is rendered into. */
    static String fileOf(String template) {
        requireNonNull(template, "template");
        if (template.startsWith("crds/") || template.startsWith("observability/")) {
            return template;
        }
        if (template.contains("/")) {
            throw new IllegalArgumentException("template: " + template + " (expected: templates/X.yaml, crds/X.yaml"
                    + " or observability/X.yaml)");
        }
        return "base/" + template;
    }

    /** The first line of every rendered file: where it comes from and how to change it. */
    static String header(String template) {
        return "# Rendered from daemonset/chart/tessera/templates/" + template + " by scripts/render-manifests.sh:"
                + " edit the chart, not this file.\n";
    }
}
