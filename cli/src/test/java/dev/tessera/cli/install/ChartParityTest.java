package dev.tessera.cli.install;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The three ways to install render the same objects: the Helm chart, the kustomize folder as the real
 * {@code kubectl kustomize} builds it, and {@code tessera install}, with the defaults and with every option
 * {@code tessera install} has (each mapped to its chart value).
 */
class ChartParityTest {

    private static final KubernetesSerialization SERIALIZATION = new KubernetesSerialization();
    private static final ObjectMapper JSON = new ObjectMapper();

    @Test
    void kubectlKustomizeBuildsTheChartsObjects() throws Exception {
        assertSameObjects(kustomize(HelmChart.DAEMONSET), HelmChart.objects(HelmChart.forKustomize(Map.of())));
    }

    @Test
    void theObservabilityKustomizationIsTheChartsMonitoringObjects() throws Exception {
        List<HasMetadata> monitoring = HelmChart.objects(HelmChart.forKustomize(HelmChart.MONITORING)).stream()
                .filter(o -> o.getApiVersion().startsWith("monitoring.coreos.com/")).toList();
        assertThat(monitoring).extracting(HasMetadata::getKind)
                .containsExactlyInAnyOrder("PodMonitor", "PodMonitor", "PrometheusRule");
        assertSameObjects(kustomize(HelmChart.DAEMONSET.resolve("observability")), monitoring);
    }

    @Test
    void tesseraInstallPrintsTheChartsObjectsInKustomizationOrder() {
        InstallCommandTest.Run r = InstallCommandTest.run("install");
        assertThat(r.exit()).as(r.err()).isZero();
        List<HasMetadata> printed = Manifests.parse("tessera install", r.out());
        assertSameObjects(printed, HelmChart.objects(HelmChart.forKustomize(Map.of())));
        assertThat(printed.get(0).getKind()).isEqualTo("CustomResourceDefinition");
    }

    @Test
    void everyInstallOptionIsTheMatchingChartValue() {
        InstallCommandTest.Run r = InstallCommandTest.run("install", "--namespace=mesh-system",
                "--trust-domain=prod.example.org", "--agent-image=registry.example.com:5000/tessera/node-agent:9.9.9",
                "--controller-image=registry.example.com/tessera/controller@sha256:" + "a".repeat(64),
                "--controller-replicas=3", "--mesh-cidr=10.0.0.0/8", "--mesh-cidr=172.16.0.0/12");
        assertThat(r.exit()).as(r.err()).isZero();
        Map<String, Object> values = Map.of(
                "trustDomain", "prod.example.org",
                "meshCidrs", List.of("10.0.0.0/8", "172.16.0.0/12"),
                "agent", Map.of("image", Map.of("repository", "registry.example.com:5000/tessera/node-agent",
                        "tag", "9.9.9")),
                "controller", Map.of("replicas", 3, "image", Map.of(
                        "repository", "registry.example.com/tessera/controller", "digest", "sha256:" + "a".repeat(64))));
        assertSameObjects(Manifests.parse("tessera install", r.out()),
                HelmChart.objects(HelmChart.template("mesh-system", values, HelmChart.KUSTOMIZE_VALUES)));
    }

    @Test
    void theKustomizeValuesOnlyAddTheNamespaceAndSayKubectl() {
        // what `helm install` applies = what kubectl applies, less the Namespace, with managed-by Helm
        Map<String, JsonNode> helm = byKey(HelmChart.objects(HelmChart.defaults()));
        Map<String, JsonNode> kubectl = byKey(HelmChart.objects(HelmChart.forKustomize(Map.of())));
        assertThat(kubectl.keySet()).containsAll(helm.keySet());
        assertThat(kubectl.keySet()).filteredOn(k -> !helm.containsKey(k)).containsExactly("v1/Namespace//tessera-system");
        helm.forEach((key, object) -> assertThat(object.toString().replace("\"app.kubernetes.io/managed-by\":\"Helm\"",
                "\"app.kubernetes.io/managed-by\":\"kubectl\"")).as(key).isEqualTo(kubectl.get(key).toString()));
    }

    /** Same objects, compared as JSON trees keyed by apiVersion/kind/namespace/name; order aside. */
    static void assertSameObjects(List<HasMetadata> actual, List<HasMetadata> expected) {
        Map<String, JsonNode> a = byKey(actual);
        Map<String, JsonNode> e = byKey(expected);
        assertThat(a.keySet()).isEqualTo(e.keySet());
        e.forEach((key, object) -> assertThat(a.get(key)).as(key).isEqualTo(object));
    }

    static Map<String, JsonNode> byKey(List<HasMetadata> objects) {
        Map<String, JsonNode> out = new TreeMap<>();
        for (HasMetadata o : objects) {
            String key = o.getApiVersion() + "/" + o.getKind() + "/"
                    + (o.getMetadata().getNamespace() == null ? "" : o.getMetadata().getNamespace()) + "/"
                    + o.getMetadata().getName();
            JsonNode tree = JSON.valueToTree(SERIALIZATION.convertValue(o, Map.class));
            assertThat(out.put(key, tree)).as("duplicate " + key).isNull();
        }
        return out;
    }

    /** {@code kubectl kustomize DIR}: the real kustomize, offline (scripts/setup.sh installs kubectl). */
    static List<HasMetadata> kustomize(Path dir) throws IOException, InterruptedException {
        Process p;
        try {
            p = new ProcessBuilder("kubectl", "kustomize", dir.toString()).start();
        } catch (IOException e) {
            throw new AssertionError("kubectl: not found (expected: installed by scripts/setup.sh)", e);
        }
        byte[] out = p.getInputStream().readAllBytes();
        String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).as("kubectl kustomize " + dir + " finished").isTrue();
        assertThat(p.exitValue()).as("kubectl kustomize " + dir + ": " + err).isZero();
        List<HasMetadata> objects = Manifests.parse("kubectl kustomize " + dir, new String(out, StandardCharsets.UTF_8));
        assertThat(objects).isNotEmpty();
        return objects;
    }
}
