package dev.tessera.cli.kube;

import static dev.tessera.cli.kube.MockCluster.cli;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** {@code tessera check --pre --kube}: Kubernetes version, CRDs, RBAC and node kernels, on the mock API server. */
class KubeCheckPreTest {

    @RegisterExtension
    final MockCluster mock = new MockCluster();

    private static JsonNode check(JsonNode doc, String category, String name) {
        for (JsonNode c : doc.path("checks")) {
            if (c.path("category").asText().equals(category) && c.path("name").asText().equals(name)) {
                return c;
            }
        }
        throw new AssertionError("no check " + category + " / " + name + " in " + doc.toPrettyString());
    }

    @Test
    void aFreshClusterThatMeetsTheMinimumsPassesAndEveryInstalledKindIsReviewed() throws Exception {
        mock.kubernetesVersion("1", "31").node("node1", "6.1.0-27-amd64").node("node2", "5.15.0-1051-azure");

        var run = cli("check", "--pre", "--kubeconfig", mock.kubeconfig, "-o", "yaml");

        assertThat(run.code()).as(run.all()).isZero();
        JsonNode doc = new ObjectMapper(new YAMLFactory()).readTree(run.out());
        assertThat(doc.path("passed").asBoolean()).isTrue();
        assertThat(check(doc, "kubernetes", "Kubernetes version").path("detail").asText()).contains("v1.31.2", ">= 1.30");
        assertThat(check(doc, "nodes", "node node2").path("detail").asText()).contains("5.15.0-1051-azure");
        assertThat(check(doc, "CRDs", "authorizationpolicies.security.tessera.dev").path("detail").asText())
                .contains("not installed yet; tessera install creates it");
        // one review per kind tessera install creates, namespaced ones in Tessera's namespace
        assertThat(mock.reviewed).contains("create customresourcedefinitions.apiextensions.k8s.io@null",
                "create namespaces@null", "create clusterroles.rbac.authorization.k8s.io@null",
                "create deployments.apps@tessera-system", "create daemonsets.apps@tessera-system",
                "create serviceaccounts@tessera-system", "create poddisruptionbudgets.policy@tessera-system");
    }

    @Test
    void theOperatorCommandsPermissionsAreReviewedInTesserasNamespace() throws Exception {
        mock.kubernetesVersion("1", "31").node("node1", "6.1.0");

        var run = cli("check", "--pre", "--kubeconfig", mock.kubeconfig, "-o", "yaml");

        assertThat(run.code()).as(run.all()).isZero();
        assertThat(mock.reviewed).contains("get pods/proxy@tessera-system", "create pods/portforward@tessera-system");
        JsonNode doc = new ObjectMapper(new YAMLFactory()).readTree(run.out());
        JsonNode proxy = check(doc, "RBAC", "get pods/proxy in tessera-system");
        assertThat(proxy.path("status").asText()).isEqualTo("OK");
        assertThat(proxy.path("detail").asText()).contains("tessera check, stat, proxy-status and version");
        assertThat(check(doc, "RBAC", "create pods/portforward in tessera-system").path("status").asText()).isEqualTo("OK");
    }

    @Test
    void aDeniedPodProxyOrPortForwardWarnsNamingTheCommandsThatNeedIt() throws Exception {
        mock.kubernetesVersion("1", "31").node("node1", "6.1.0");
        mock.denied.add("get pods/proxy");
        mock.denied.add("create pods/portforward");

        var run = cli("check", "--pre", "--kubeconfig", mock.kubeconfig);

        // Installing needs neither: the pre-check still passes, with the warnings.
        assertThat(run.code()).as(run.all()).isZero();
        assertThat(run.out())
                .contains("[warn] get pods/proxy in tessera-system: denied for the current user: tessera check, stat,"
                        + " proxy-status and version will fail")
                .contains("ask for get on pods/proxy in namespace tessera-system")
                .contains("[warn] create pods/portforward in tessera-system: denied for the current user: tessera config"
                        + " NODE will fail")
                .contains("ask for create on pods/portforward in namespace tessera-system")
                .contains("(2 warning(s))");
    }

    @Test
    void aNodeWithAKernelOlderThanTheMinimumFailsNamingTheNodeAndTheMinimum() {
        mock.kubernetesVersion("1", "31").node("node1", "6.1.0-27-amd64").node("old-node", "5.10.0-28-amd64");

        var run = cli("check", "--pre", "--kubeconfig", mock.kubeconfig);

        assertThat(run.code()).as(run.all()).isEqualTo(1);
        assertThat(run.out()).contains("[ok]   node node1: kernel 6.1.0-27-amd64")
                .contains("[FAIL] node old-node: kernel 5.10.0-28-amd64 (expected: >= 5.15, docs/compatibility.md)")
                .contains("upgrade this node's kernel");
    }

    @Test
    void aMissingCrdTheUserMayNotCreateFailsAndSoDoesTheRbacLine() {
        mock.kubernetesVersion("1", "30").node("node1", "6.1.0");
        mock.denied.add("create customresourcedefinitions.apiextensions.k8s.io");

        var run = cli("check", "--pre", "--kubeconfig", mock.kubeconfig);

        assertThat(run.code()).as(run.all()).isEqualTo(1);
        assertThat(run.out()).contains("[FAIL] peerauthentications.security.tessera.dev: not installed, and the current"
                + " user may not create CustomResourceDefinitions")
                .contains("[FAIL] create customresourcedefinitions.apiextensions.k8s.io: denied for the current user");
    }

    @Test
    void installedCrdsAreOkEvenWhenTheUserMayNotCreateThem() {
        mock.kubernetesVersion("1", "30").node("node1", "6.1.0").installedCrds();
        mock.denied.add("create customresourcedefinitions.apiextensions.k8s.io");

        var run = cli("check", "--pre", "--kubeconfig", mock.kubeconfig);

        assertThat(run.out()).contains("[ok]   authorizationpolicies.security.tessera.dev: installed");
    }

    @Test
    void aKubernetesOlderThanTheMinimumFails() {
        mock.kubernetesVersion("1", "29").node("node1", "6.1.0");

        var run = cli("check", "--pre", "--kubeconfig", mock.kubeconfig, "-o", "json");

        assertThat(run.code()).isEqualTo(1);
        assertThat(run.out()).contains("\"status\" : \"FAIL\"").contains("v1.29.2 (expected: >= 1.30, docs/compatibility.md)");
    }

    @Test
    void anUnreachableApiServerIsOneFailedCheckNamingTheContext() {
        var run = cli("check", "--pre", "--kubeconfig", mock.kubeconfig, "--context", "broken", "--timeout", "2s");

        assertThat(run.code()).as(run.all()).isEqualTo(1);
        assertThat(run.out()).contains("[FAIL] API server: context broken, https://127.0.0.1:9")
                .contains("is the kubeconfig's context right");
    }

    @Test
    void anUnknownContextIsAUsageErrorListingTheKnownOnes() {
        var run = cli("check", "--pre", "--kubeconfig", mock.kubeconfig, "--context", "prod");

        assertThat(run.code()).isEqualTo(2);
        assertThat(run.err()).contains("context: 'prod' (expected one of the kubeconfig's: [broken, mock])");
    }

    @Test
    void aLocalClusterNameAndAKubeconfigTogetherAreAUsageError() {
        var run = cli("check", "--name", "demo", "--kubeconfig", mock.kubeconfig);

        assertThat(run.code()).isEqualTo(2);
        assertThat(run.err()).contains("--name demo names a local cluster");
    }
}
