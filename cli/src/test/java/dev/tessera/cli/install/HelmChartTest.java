package dev.tessera.cli.install;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.marcnuri.helm.LintResult;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.api.model.apps.DaemonSet;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.policy.v1.PodDisruptionBudget;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.base.ResourceDefinitionContext;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The chart through real Helm: lint, what its defaults render (no Prometheus Operator objects, Linux nodes,
 * the recommended labels everywhere), what each value changes, what the schema refuses, and every object
 * of the fullest rendering created on the fabric8 mock API server (CRUD mode).
 */
@EnableKubernetesMockClient(crud = true)
class HelmChartTest {

    static final List<String> RECOMMENDED_LABELS = List.of("app.kubernetes.io/name", "app.kubernetes.io/instance",
            "app.kubernetes.io/component", "app.kubernetes.io/part-of", "app.kubernetes.io/version",
            "app.kubernetes.io/managed-by");

    KubernetesClient client;

    @Test
    void lintsStrictlyWithoutErrorsOrWarnings() {
        LintResult lint = HelmChart.lint();
        assertThat(lint.isFailed()).as(String.join("\n", lint.getMessages())).isFalse();
        assertThat(lint.getMessages()).noneMatch(m -> m.contains("[ERROR]") || m.contains("[WARNING]"));
    }

    @Test
    void defaultsInstallWithoutThePrometheusOperator() {
        List<HasMetadata> objects = HelmChart.objects(HelmChart.defaults());
        assertThat(objects).extracting(HasMetadata::getKind).containsExactlyInAnyOrder(
                "CustomResourceDefinition", "CustomResourceDefinition", "ServiceAccount", "ServiceAccount",
                "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding", "Service", "Deployment", "DaemonSet",
                "PodDisruptionBudget");
        assertThat(objects).noneMatch(o -> o.getApiVersion().startsWith("monitoring.coreos.com/"));
        // helm install -n NS --create-namespace makes the namespace; the chart does only when asked
        assertThat(objects).allSatisfy(o -> assertThat(o.getMetadata().getNamespace()).isIn(null, HelmChart.NAMESPACE));
    }

    @Test
    void monitoringTogglesAddThePodMonitorsAndTheRules() {
        List<HasMetadata> podMonitor = HelmChart.objects(HelmChart.template(HelmChart.NAMESPACE,
                Map.of("monitoring", Map.of("podMonitor", Map.of("enabled", true)))));
        assertThat(podMonitor).filteredOn(o -> o.getApiVersion().startsWith("monitoring.coreos.com/"))
                .extracting(o -> o.getKind() + "/" + o.getMetadata().getName())
                .containsExactlyInAnyOrder("PodMonitor/tessera-node-agents", "PodMonitor/tessera-controller");
        List<HasMetadata> rules = HelmChart.objects(HelmChart.template(HelmChart.NAMESPACE,
                Map.of("monitoring", Map.of("prometheusRule", Map.of("enabled", true, "labels", Map.of("release", "prom"))))));
        assertThat(rules).filteredOn(o -> o.getApiVersion().startsWith("monitoring.coreos.com/")).singleElement()
                .satisfies(r -> {
                    assertThat(r.getKind()).isEqualTo("PrometheusRule");
                    assertThat(r.getMetadata().getLabels()).containsEntry("release", "prom");
                });
    }

    @Test
    void everyObjectCarriesTheRecommendedLabels() {
        for (HasMetadata o : fullest()) {
            Map<String, String> labels = o.getMetadata().getLabels();
            assertThat(labels).as(o.getKind() + " " + o.getMetadata().getName()).containsKeys(
                    RECOMMENDED_LABELS.toArray(String[]::new));
            assertThat(labels).containsEntry("app.kubernetes.io/part-of", "tessera")
                    .containsEntry("app.kubernetes.io/instance", HelmChart.RELEASE)
                    .containsEntry("app.kubernetes.io/version", "0.1.0")
                    .containsEntry("app.kubernetes.io/managed-by", "Helm");
        }
        // and the pods the workloads create
        for (HasMetadata o : fullest()) {
            if (o instanceof DaemonSet ds) {
                assertThat(ds.getSpec().getTemplate().getMetadata().getLabels()).containsKeys(
                        RECOMMENDED_LABELS.toArray(String[]::new)).containsEntry("app.kubernetes.io/component", "node-agent");
            } else if (o instanceof Deployment d) {
                assertThat(d.getSpec().getTemplate().getMetadata().getLabels()).containsKeys(
                        RECOMMENDED_LABELS.toArray(String[]::new)).containsEntry("app.kubernetes.io/component", "controller");
            }
        }
    }

    @Test
    void linuxNodesByDefaultAndTheNodeSelectorsMerge() {
        List<HasMetadata> defaults = HelmChart.objects(HelmChart.defaults());
        assertThat(agentPod(defaults).getNodeSelector()).isEqualTo(Map.of("kubernetes.io/os", "linux"));
        assertThat(controllerPod(defaults).getNodeSelector()).isEqualTo(Map.of("kubernetes.io/os", "linux"));
        assertThat(agentPod(defaults).getTolerations()).singleElement()
                .satisfies(t -> assertThat(t.getOperator()).isEqualTo("Exists"));
        assertThat(controllerPod(defaults).getTolerations()).isEmpty();

        List<HasMetadata> custom = HelmChart.objects(HelmChart.template(HelmChart.NAMESPACE, Map.of(
                "nodeSelector", Map.of("kubernetes.io/os", "linux", "mesh", "yes"),
                "agent", Map.of("nodeSelector", Map.of("pool", "workers"), "tolerations", List.of(Map.of(
                        "key", "dedicated", "operator", "Equal", "value", "mesh", "effect", "NoSchedule"))),
                "controller", Map.of("nodeSelector", Map.of("pool", "system")))));
        assertThat(agentPod(custom).getNodeSelector())
                .isEqualTo(Map.of("kubernetes.io/os", "linux", "mesh", "yes", "pool", "workers"));
        assertThat(controllerPod(custom).getNodeSelector())
                .isEqualTo(Map.of("kubernetes.io/os", "linux", "mesh", "yes", "pool", "system"));
        assertThat(agentPod(custom).getTolerations()).singleElement()
                .satisfies(t -> assertThat(t.getKey()).isEqualTo("dedicated"));
    }

    @Test
    void valuesReachTheWorkloads() {
        List<HasMetadata> objects = HelmChart.objects(HelmChart.template("mesh", Map.of(
                "trustDomain", "prod.example.org",
                "logLevel", "debug,tessera.access=off",
                "logFormat", "json",
                "imagePullSecrets", List.of(Map.of("name", "regcred")),
                "agent", Map.of("image", Map.of("repository", "reg.example.com/t/agent", "tag", "1.2.3",
                        "pullPolicy", "Always"), "resources", Map.of("limits", Map.of("memory", "1Gi"))),
                "controller", Map.of("replicas", 3, "podDisruptionBudget", Map.of("maxUnavailable", 2),
                        "resources", Map.of("requests", Map.of("cpu", "1"))))));
        var agent = agentPod(objects).getContainers().get(0);
        assertThat(agent.getImage()).isEqualTo("reg.example.com/t/agent:1.2.3");
        assertThat(agent.getImagePullPolicy()).isEqualTo("Always");
        assertThat(agent.getResources().getLimits().get("memory").toString()).isEqualTo("1Gi");
        assertThat(agent.getArgs()).contains("--trust-domain=prod.example.org", "--controller=tessera-controller.mesh.svc:15012");
        assertThat(agent.getArgs()).contains("--log-level=debug,tessera.access=off", "--log-format=json");
        assertThat(agent.getEnv()).noneMatch(e -> e.getName().equals("JDK_JAVA_OPTIONS"));
        assertThat(agentPod(objects).getImagePullSecrets()).extracting(r -> r.getName()).containsExactly("regcred");
        assertThat(controllerPod(objects).getImagePullSecrets()).extracting(r -> r.getName()).containsExactly("regcred");
        Deployment controller = only(objects, Deployment.class);
        assertThat(controller.getSpec().getReplicas()).isEqualTo(3);
        var c = controller.getSpec().getTemplate().getSpec().getContainers().get(0);
        assertThat(c.getImage()).isEqualTo("tessera/controller:0.1.0");
        assertThat(c.getArgs()).contains("--namespace=mesh", "--trust-domain=prod.example.org",
                "--log-level=debug,tessera.access=off", "--log-format=json");
        assertThat(c.getResources().getRequests().get("cpu").toString()).isEqualTo("1");
        PodDisruptionBudget pdb = only(objects, PodDisruptionBudget.class);
        assertThat(pdb.getSpec().getMaxUnavailable().getIntVal()).isEqualTo(2);
        assertThat(pdb.getSpec().getSelector().getMatchLabels())
                .isEqualTo(controller.getSpec().getSelector().getMatchLabels());
    }

    @Test
    void theControllerHasAPodDisruptionBudgetThatNeverBlocksADrainAlone() {
        PodDisruptionBudget pdb = only(HelmChart.objects(HelmChart.defaults()), PodDisruptionBudget.class);
        assertThat(pdb.getSpec().getMaxUnavailable().getIntVal()).isEqualTo(1);
        assertThat(pdb.getSpec().getMinAvailable()).isNull();
        assertThat(HelmChart.objects(HelmChart.template(HelmChart.NAMESPACE,
                Map.of("controller", Map.of("podDisruptionBudget", Map.of("enabled", false))))))
                .noneMatch(o -> o instanceof PodDisruptionBudget);
    }

    @Test
    void theCrdsShowAnAgeColumnAndSurviveAnUninstall() {
        List<CustomResourceDefinition> crds = HelmChart.objects(HelmChart.defaults()).stream()
                .filter(o -> o instanceof CustomResourceDefinition).map(o -> (CustomResourceDefinition) o).toList();
        assertThat(crds).hasSize(2).allSatisfy(crd -> {
            assertThat(crd.getSpec().getVersions()).allSatisfy(v -> assertThat(v.getAdditionalPrinterColumns())
                    .anySatisfy(col -> {
                        assertThat(col.getName()).isEqualTo("Age");
                        assertThat(col.getType()).isEqualTo("date");
                        assertThat(col.getJsonPath()).isEqualTo(".metadata.creationTimestamp");
                    }));
            assertThat(crd.getMetadata().getAnnotations()).containsEntry("helm.sh/resource-policy", "keep");
        });
        assertThat(HelmChart.objects(HelmChart.template(HelmChart.NAMESPACE, Map.of("crds", Map.of("enabled", false)))))
                .noneMatch(o -> o instanceof CustomResourceDefinition);
    }

    @Test
    void theSchemaAndTheTemplatesRefuseBadValues() {
        assertRefused(Map.of("logLevel", "verbose"), "logLevel");
        assertRefused(Map.of("trustDomain", "spiffe://x"), "trustDomain");
        assertRefused(Map.of("meshCidrs", List.of("10.0.0.0")), "meshCidrs");
        assertRefused(Map.of("controller", Map.of("replicas", 0)), "replicas");
        assertRefused(Map.of("meshCidr", List.of("10.0.0.0/8")), "meshCidr");   // a typo is not silently ignored
        assertRefused(Map.of("logLevel", "info,io.netty=loud"), "logLevel");
        assertRefused(Map.of("logFormat", "yaml"), "logFormat");
    }

    @Test
    void everyObjectOfTheFullestRenderingIsCreatedOnTheApiServer() {
        for (HasMetadata o : fullest()) {
            HasMetadata created;
            if (o instanceof GenericKubernetesResource g) {
                String plural = g.getKind().equals("PodMonitor") ? "podmonitors" : "prometheusrules";
                var context = new ResourceDefinitionContext.Builder().withGroup("monitoring.coreos.com")
                        .withVersion("v1").withKind(g.getKind()).withPlural(plural).withNamespaced(true).build();
                created = client.genericKubernetesResources(context).inNamespace(g.getMetadata().getNamespace())
                        .resource(g).create();
            } else {
                created = client.resource(o).create();
            }
            assertThat(created.getMetadata().getUid()).as(o.getKind() + " " + o.getMetadata().getName()).isNotBlank();
        }
        assertThat(client.apps().daemonSets().inNamespace(HelmChart.NAMESPACE).withName("tessera-node-agent").get()
                .getSpec().getTemplate().getSpec().getContainers().get(0).getSecurityContext().getAppArmorProfile()
                .getType()).isEqualTo("Unconfined");
        assertThat(client.resources(io.fabric8.kubernetes.api.model.policy.v1.PodDisruptionBudget.class).inNamespace(HelmChart.NAMESPACE).list().getItems())
                .hasSize(1);
    }

    /** Everything the chart can render at once: namespace, CRDs, workloads, PodMonitors, rules. */
    static List<HasMetadata> fullest() {
        return HelmChart.objects(HelmChart.template(HelmChart.NAMESPACE, Map.of("createNamespace", true,
                "monitoring", Map.of("podMonitor", Map.of("enabled", true), "prometheusRule", Map.of("enabled", true)))));
    }

    private static void assertRefused(Map<String, Object> values, String message) {
        assertThatThrownBy(() -> HelmChart.template(HelmChart.NAMESPACE, values)).as(values.toString())
                .hasMessageContaining(message);
    }

    private static PodSpec agentPod(List<HasMetadata> objects) {
        return only(objects, DaemonSet.class).getSpec().getTemplate().getSpec();
    }

    private static PodSpec controllerPod(List<HasMetadata> objects) {
        return only(objects, Deployment.class).getSpec().getTemplate().getSpec();
    }

    private static <T> T only(List<HasMetadata> objects, Class<T> type) {
        List<T> found = objects.stream().filter(type::isInstance).map(type::cast).toList();
        assertThat(found).as(type.getSimpleName()).hasSize(1);
        return found.get(0);
    }
}
