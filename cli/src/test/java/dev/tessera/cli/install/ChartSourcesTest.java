package dev.tessera.cli.install;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * One source of truth: the YAML files of the kustomize folder ({@code daemonset/base/}, {@code crds/},
 * {@code observability/}) are the chart rendered with {@code daemonset/chart/kustomize-values.yaml}, file by
 * file, template by template. This fails when one was edited by hand or the chart changed without them;
 * {@code scripts/render-manifests.sh} (this test with {@code -Dtessera.manifests.write=true}) rewrites them.
 */
class ChartSourcesTest {

    static final boolean WRITE = Boolean.getBoolean("tessera.manifests.write");

    /** Every rendered file (relative to daemonset/) and its expected content. */
    static Map<String, String> expected() {
        Map<String, String> out = new TreeMap<>();
        HelmChart.bySource(HelmChart.forKustomize(Map.of()))
                .forEach((t, text) -> out.put(HelmChart.fileOf(t), HelmChart.header(t) + text));
        HelmChart.bySource(HelmChart.forKustomize(HelmChart.MONITORING)).forEach((t, text) -> {
            if (t.startsWith("observability/")) {
                out.put(HelmChart.fileOf(t), HelmChart.header(t) + text);
            }
        });
        return out;
    }

    @Test
    void theKustomizeFilesAreTheChartRendered() throws IOException {
        Map<String, String> expected = expected();
        assertThat(expected).containsKeys("base/namespace.yaml", "base/agent-daemonset.yaml",
                "base/controller-deployment.yaml", "base/controller-rbac.yaml", "base/controller-pdb.yaml",
                "crds/authorizationpolicies.security.tessera.dev.yaml", "observability/podmonitor.yaml",
                "observability/prometheus-rules.yaml");
        if (WRITE) {
            for (var e : expected.entrySet()) {
                Files.writeString(HelmChart.DAEMONSET.resolve(e.getKey()), e.getValue());
            }
        }
        List<String> drifted = new ArrayList<>();
        for (var e : expected.entrySet()) {
            Path file = HelmChart.DAEMONSET.resolve(e.getKey());
            if (!Files.exists(file) || !Files.readString(file).equals(e.getValue())) {
                drifted.add(e.getKey());
            }
        }
        assertThat(drifted).as("daemonset/ files that differ from the chart (edit the chart, then run"
                + " scripts/render-manifests.sh)").isEmpty();
    }

    @Test
    void everyRenderedLookingFileHasATemplate() throws IOException {
        // a file left behind after its template was renamed or removed would still be applied by kustomize
        var rendered = new TreeSet<String>();
        for (String dir : List.of("base", "crds", "observability")) {
            try (Stream<Path> files = Files.list(HelmChart.DAEMONSET.resolve(dir))) {
                files.filter(f -> f.toString().endsWith(".yaml"))
                        .filter(f -> read(f).startsWith("# Rendered from daemonset/chart/"))
                        .forEach(f -> rendered.add(dir + "/" + f.getFileName()));
            }
        }
        assertThat(rendered).isEqualTo(expected().keySet());
    }

    private static String read(Path f) {
        try {
            return Files.readString(f);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
