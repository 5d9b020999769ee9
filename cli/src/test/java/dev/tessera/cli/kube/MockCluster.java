package dev.tessera.cli.kube;

import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.NodeBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.api.model.apps.DaemonSet;
import io.fabric8.kubernetes.api.model.apps.DaemonSetStatusBuilder;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.apps.DeploymentStatusBuilder;
import io.fabric8.kubernetes.api.model.authorization.v1.SelfSubjectAccessReview;
import io.fabric8.kubernetes.api.model.authorization.v1.SubjectAccessReviewStatusBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMixedDispatcher;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.fabric8.mockwebserver.Context;
import io.fabric8.mockwebserver.MockWebServer;
import io.fabric8.mockwebserver.ServerRequest;
import io.fabric8.mockwebserver.ServerResponse;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * A Tessera installation on the fabric8 mock API server: the objects {@code tessera install} creates in the
 * CRUD store (with the status a real cluster's controllers would write), nodes with their {@code nodeInfo},
 * and canned answers ({@code expect()}, which win over the store) for what CRUD mode cannot serve: the
 * version endpoint, SelfSubjectAccessReviews and the pod-proxy paths to the agents' and controllers' metrics.
 *
 * <p>A JUnit 5 extension: {@code @RegisterExtension final MockCluster mock = new MockCluster();} gives each test
 * a fresh server, a {@link #client} on it and a {@link #kubeconfig} for the CLI, before the class's
 * {@code @BeforeEach} methods run, and stops the server after the test.
 */
final class MockCluster implements BeforeEachCallback, AfterEachCallback {

    static final String NS = KubeCluster.DEFAULT_NAMESPACE;

    KubernetesMockServer server;
    KubernetesClient client;
    /** A kubeconfig file whose context {@code mock} points at {@link #server} (and {@code broken} at a closed port). */
    String kubeconfig;
    /** {@code verb resource[/subresource][.group]} a SelfSubjectAccessReview is denied for. */
    final Set<String> denied = ConcurrentHashMap.newKeySet();
    /** Every SelfSubjectAccessReview asked, as {@code verb resource.group@namespace}. */
    final Set<String> reviewed = ConcurrentHashMap.newKeySet();

    /** Starts the server as {@code @EnableKubernetesMockClient(crud = true)} does: the CRUD store behind expectations. */
    @Override
    public void beforeEach(ExtensionContext context) throws IOException {
        Map<ServerRequest, Queue<ServerResponse>> responses = new HashMap<>();
        server = new KubernetesMockServer(new Context(Serialization.jsonMapper()), new MockWebServer(), responses,
                new KubernetesMixedDispatcher(responses), false);
        server.init();
        client = server.createClient();
        denied.clear();
        reviewed.clear();
        answerAccessReviews();
        kubeconfig = writeKubeconfig().toString();
    }

    @Override
    public void afterEach(ExtensionContext context) throws IOException {
        server.destroy();
        client.close();
        Files.deleteIfExists(Path.of(kubeconfig));
    }

    /** Allows every SelfSubjectAccessReview but those in {@link #denied}, noting each in {@link #reviewed}. */
    private void answerAccessReviews() {
        server.expect().post().withPath("/apis/authorization.k8s.io/v1/selfsubjectaccessreviews").andReply(201, r -> {
            var review = Serialization.unmarshal(r.getUtf8Body(), SelfSubjectAccessReview.class);
            var a = review.getSpec().getResourceAttributes();
            String key = a.getVerb() + " " + a.getResource()
                    + (a.getSubresource() == null || a.getSubresource().isEmpty() ? "" : "/" + a.getSubresource())
                    + (a.getGroup() == null || a.getGroup().isEmpty() ? "" : "." + a.getGroup());
            reviewed.add(key + "@" + a.getNamespace());
            boolean allowed = !denied.contains(key);
            review.setStatus(new SubjectAccessReviewStatusBuilder().withAllowed(allowed).build());
            return review;
        }).always();
    }

    /** What one CLI run printed and returned. */
    record Run(int code, String out, String err) {
        /** Both streams, for assertion messages. */
        String all() {
            return out + err;
        }
    }

    /** Runs {@code tessera ARGS} in-process, capturing the command line's writers. */
    static Run cli(String... args) {
        var cl = dev.tessera.cli.Main.commandLine();
        var out = new java.io.StringWriter();
        var err = new java.io.StringWriter();
        cl.setOut(new java.io.PrintWriter(out, true));
        cl.setErr(new java.io.PrintWriter(err, true));
        int code = cl.execute(args);
        return new Run(code, out.toString(), err.toString());
    }

    private Path writeKubeconfig() throws IOException {
        String url = client.getMasterUrl().toString().replaceAll("/+$", "");
        Path file = Files.createTempFile("tessera-kubeconfig", ".yaml");
        Files.writeString(file, """
                apiVersion: v1
                kind: Config
                current-context: mock
                clusters:
                  - name: mock
                    cluster: {server: "%s", insecure-skip-tls-verify: true}
                  - name: broken
                    cluster: {server: "https://127.0.0.1:9", insecure-skip-tls-verify: true}
                contexts:
                  - name: mock
                    context: {cluster: mock, user: tester}
                  - name: broken
                    context: {cluster: broken, user: tester}
                users:
                  - name: tester
                    user: {token: test-token}
                """.formatted(url));
        return file;
    }

    /** What {@code GET /version} answers (the mock server serves it itself; expectations do not override it). */
    MockCluster kubernetesVersion(String major, String minor) {
        server.setVersionInfo(new io.fabric8.kubernetes.client.VersionInfo.Builder().withMajor(major).withMinor(minor)
                .withGitVersion("v" + major + "." + minor + ".2").withPlatform("linux/amd64").build());
        return this;
    }

    MockCluster node(String name, String kernel) {
        client.nodes().resource(new NodeBuilder().withNewMetadata().withName(name).endMetadata().withNewStatus()
                .withNewNodeInfo().withKernelVersion(kernel).withOperatingSystem("linux").withOsImage("Debian 12")
                .withContainerRuntimeVersion("containerd://1.7.20").endNodeInfo().endStatus().build()).create();
        return this;
    }

    /** Everything {@code tessera install} creates, as rendered for {@link #NS}. */
    MockCluster installed() {
        for (var o : ClusterPreflight.installObjects(NS)) {
            client.resource(o).create();
        }
        return this;
    }

    MockCluster installedCrds() {
        for (var o : ClusterPreflight.installObjects(NS)) {
            if (o instanceof CustomResourceDefinition) {
                client.resource(o).create();
            }
        }
        return this;
    }

    MockCluster namespace(String name, String dataplaneMode) {
        var b = new NamespaceBuilder().withNewMetadata().withName(name);
        if (dataplaneMode != null) {
            b.addToLabels(Uninstall.DATAPLANE_MODE, dataplaneMode);
        }
        client.namespaces().resource(b.endMetadata().build()).create();
        return this;
    }

    /** The status the Deployment and DaemonSet controllers would write. */
    MockCluster workloadStatus(int controllersReady, int agentsDesired, int agentsReady) {
        Deployment d = client.apps().deployments().inNamespace(NS).withName(KubeCluster.CONTROLLER).get();
        d.setStatus(new DeploymentStatusBuilder().withReplicas(d.getSpec().getReplicas())
                .withReadyReplicas(controllersReady).build());
        client.apps().deployments().inNamespace(NS).resource(d).updateStatus();
        DaemonSet ds = client.apps().daemonSets().inNamespace(NS).withName(KubeCluster.AGENT).get();
        ds.setStatus(new DaemonSetStatusBuilder().withDesiredNumberScheduled(agentsDesired)
                .withCurrentNumberScheduled(agentsDesired).withNumberReady(agentsReady).withNumberMisscheduled(0).build());
        client.apps().daemonSets().inNamespace(NS).resource(ds).updateStatus();
        return this;
    }

    MockCluster controllerPod(String name) {
        return pod(name, KubeCluster.CONTROLLER_COMPONENT, "node1", true);
    }

    MockCluster agentPod(String name, String node, boolean ready) {
        return pod(name, KubeCluster.AGENT_COMPONENT, node, ready);
    }

    private MockCluster pod(String name, String component, String node, boolean ready) {
        Pod p = new PodBuilder().withNewMetadata().withName(name).withNamespace(NS)
                .addToLabels(KubeCluster.PART_OF, "tessera").addToLabels(KubeCluster.COMPONENT, component)
                .endMetadata().withNewSpec().withNodeName(node).addNewContainer().withName("c").withImage("i")
                .endContainer().endSpec().withNewStatus().withPhase("Running").addNewCondition().withType("Ready")
                .withStatus(ready ? "True" : "False").withReason(ready ? null : "ContainersNotReady")
                .withMessage(ready ? null : "containers with unready status: [agent]").endCondition().endStatus().build();
        client.pods().inNamespace(NS).resource(p).create();
        return this;
    }

    /** The pod's {@code /metrics} on {@code port} through the pod proxy answers {@code body}. */
    MockCluster metrics(String pod, int port, String body) {
        server.expect().get().withPath(KubeCluster.proxyPath(NS, pod, port, "/metrics")).andReturn(200, body).always();
        return this;
    }

    /** Answers {@code body} once (registered first, answered first). */
    MockCluster metricsOnce(String pod, int port, String body) {
        server.expect().get().withPath(KubeCluster.proxyPath(NS, pod, port, "/metrics")).andReturn(200, body).once();
        return this;
    }

    MockCluster proxyError(String pod, int port, int status, String body) {
        server.expect().get().withPath(KubeCluster.proxyPath(NS, pod, port, "/metrics")).andReturn(status, body).always();
        return this;
    }

    /** A healthy agent's metrics: {@code pods} meshed pods all captured and certified, config version {@code config}. */
    static String agentMetrics(String version, int pods, long config) {
        long notAfter = Instant.now().plusSeconds(20 * 3600).getEpochSecond();
        return """
                # TYPE tessera_build_info gauge
                tessera_build_info{version="%s"} 1
                tessera_mesh_pods{state="expected"} %d
                tessera_mesh_pods{state="captured"} %d
                tessera_mesh_pods{state="certified"} %d
                tessera_mesh_coverage_gap 0
                tessera_certificate_expiry_timestamp_seconds{identity="spiffe://cluster.local/ns/shop/sa/web"} %d
                tessera_original_destination_lookups_total{result="miss"} 0
                tessera_config_version %d
                """.formatted(version, pods, pods, pods, notAfter, config);
    }

    /** A leading controller that published {@code latest} and saw each {@code node=acked} pair. */
    static String controllerMetrics(String version, long latest, List<String> nodeAcks) {
        var b = new StringBuilder("""
                tessera_build_info{version="%s"} 1
                tessera_controller_is_leader 1
                tessera_controller_connected_agents %d
                tessera_controller_mesh_version %d
                tessera_trust_roots 1
                tessera_controller_trust_rotation_phase{phase="STABLE"} 1
                tessera_controller_trust_rotation_phase{phase="PUBLISHING"} 0
                tessera_controller_trust_rotation_phase{phase="RENEWING"} 0
                tessera_controller_agents_without_current_bundle 0
                tessera_controller_certificates_under_old_issuers 0
                tessera_controller_ca_rejected 0
                """.formatted(version, nodeAcks.size(), latest));
        for (String na : nodeAcks) {
            String[] p = na.split("=");
            b.append("tessera_controller_agent_acked_version{node=\"").append(p[0])
                    .append("\",protocol_version=\"2\"} ").append(p[1]).append('\n');
        }
        return b.toString();
    }
}
