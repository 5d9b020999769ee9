package dev.tessera.controller.watch;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.tessera.api.model.MeshSnapshot;
import dev.tessera.api.model.Workload;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.NodeBuilder;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

@EnableKubernetesMockClient(crud = true)
class MeshWatcherTest {

    static KubernetesMockServer server;
    static KubernetesClient client;

    private static final Map<String, String> AMBIENT = Map.of("tessera.dev/dataplane-mode", "ambient");
    private MeshWatcher watcher;

    @BeforeAll
    static void nodes() {
        for (int i = 1; i <= 2; i++) {
            client.nodes().resource(new NodeBuilder().withNewMetadata().withName("node" + i).endMetadata()
                    .withNewSpec().withPodCIDR("198.18." + i + ".0/24").endSpec()
                    .withNewStatus().addNewAddress().withType("InternalIP").withAddress("198.18.0." + i).endAddress()
                    .endStatus().build()).create();
        }
    }

    @BeforeEach
    void start() {
        watcher = new MeshWatcher(client, "cluster.local", 0);
    }

    @AfterEach
    void stop() {
        watcher.close();
    }

    static void namespace(String name, Map<String, String> labels) {
        client.namespaces().resource(new NamespaceBuilder().withNewMetadata().withName(name).withLabels(labels)
                .endMetadata().build()).create();
    }

    static void pod(String ns, String name, String sa, String node, String ip) {
        client.pods().inNamespace(ns).resource(new PodBuilder()
                .withNewMetadata().withName(name).withNamespace(ns).addToLabels("app", name).endMetadata()
                .withNewSpec().withServiceAccountName(sa).withNodeName(node).endSpec()
                .withNewStatus().withPhase("Running").withPodIP(ip).endStatus().build()).create();
    }

    private List<String> local(String node) {
        return watcher.snapshotFor(node).workloadKeys();
    }

    @Test
    void enrollingANamespaceDeliversItsPodsToTheRightNodes() throws Exception {
        namespace("enroll", Map.of());
        pod("enroll", "web-1", "web", "node1", "198.18.1.10");
        pod("enroll", "db-1", "db", "node2", "198.18.2.10");
        var published = new CopyOnWriteArrayList<MeshSnapshot>();
        watcher.addListener(c -> published.add(c.mesh()));
        watcher.start();

        // Known, but not meshed: no node carries them yet.
        await().atMost(Duration.ofSeconds(10)).until(() -> watcher.snapshot().workload("enroll", "db-1").isPresent()
                && watcher.snapshot().workload("enroll", "web-1").isPresent());
        assertThat(watcher.snapshot().workload("enroll", "web-1").orElseThrow().meshed()).isFalse();
        assertThat(local("node1")).doesNotContain("enroll/web-1");
        assertThat(watcher.snapshot().node("node1").orElseThrow().ip().getHostAddress()).isEqualTo("198.18.0.1");
        assertThat(watcher.snapshot().node("node2").orElseThrow().podCidr()).isEqualTo("198.18.2.0/24");

        client.namespaces().withName("enroll").edit(n -> new NamespaceBuilder(n).editMetadata().addToLabels(AMBIENT)
                .endMetadata().build());

        await().atMost(Duration.ofSeconds(10)).until(() -> local("node1").contains("enroll/web-1"));
        await().atMost(Duration.ofSeconds(10)).until(() -> local("node2").contains("enroll/db-1"));
        assertThat(local("node1")).doesNotContain("enroll/db-1");
        assertThat(local("node2")).doesNotContain("enroll/web-1");
        Workload web = watcher.snapshot().workload("enroll", "web-1").orElseThrow();
        assertThat(web.identity().toString()).isEqualTo("spiffe://cluster.local/ns/enroll/sa/web");
        assertThat(web.ip().getHostAddress()).isEqualTo("198.18.1.10");
        assertThat(web.labels()).containsEntry("app", "web-1");
        // Each publication is a new, higher version; the listener saw them in order.
        assertThat(published).extracting(MeshSnapshot::version).isSorted().doesNotHaveDuplicates();
        assertThat(published.get(published.size() - 1)).isSameAs(watcher.snapshot());
    }

    @Test
    void aDeletedOrMovedPodLeavesItsOldNode() throws Exception {
        namespace("moves", AMBIENT);
        pod("moves", "a", "sa-a", "node1", "198.18.1.20");
        pod("moves", "b", "sa-b", "node1", "198.18.1.21");
        watcher.start();
        await().atMost(Duration.ofSeconds(10)).until(() -> local("node1").containsAll(List.of("moves/a", "moves/b")));

        client.pods().inNamespace("moves").withName("a").delete();
        await().atMost(Duration.ofSeconds(10)).until(() -> !local("node1").contains("moves/a"));
        assertThat(watcher.snapshot().workload("moves", "a")).isEmpty();

        // Moved (a re-created pod with the same name elsewhere; here the stored object is replaced).
        client.pods().inNamespace("moves").withName("b").edit(p -> new PodBuilder(p)
                .editSpec().withNodeName("node2").endSpec()
                .editStatus().withPodIP("198.18.2.21").endStatus().build());
        await().atMost(Duration.ofSeconds(10)).until(() -> local("node2").contains("moves/b"));
        assertThat(local("node1")).doesNotContain("moves/b");
        MeshSnapshot now = watcher.snapshot();
        assertThat(now.workloadByIp(java.net.InetAddress.getByName("198.18.1.21"))).isEmpty();
        assertThat(now.workloadByIp(java.net.InetAddress.getByName("198.18.2.21")).orElseThrow().key()).isEqualTo("moves/b");
    }

    @Test
    void optedOutOrStoppedPodsAndUnenrolledNamespacesLeaveTheNode() throws Exception {
        namespace("churn", AMBIENT);
        pod("churn", "x", "sa-x", "node2", "198.18.2.30");
        pod("churn", "y", "sa-y", "node2", "198.18.2.31");
        watcher.start();
        await().atMost(Duration.ofSeconds(10)).until(() -> local("node2").containsAll(List.of("churn/x", "churn/y")));

        client.pods().inNamespace("churn").withName("x").edit(p -> new PodBuilder(p).editMetadata()
                .addToLabels("tessera.dev/dataplane-mode", "none").endMetadata().build());
        await().atMost(Duration.ofSeconds(10)).until(() -> !local("node2").contains("churn/x"));
        assertThat(watcher.snapshot().workload("churn", "x").orElseThrow().meshed()).isFalse();

        client.pods().inNamespace("churn").withName("y").edit(p -> new PodBuilder(p).editStatus()
                .withPhase("Succeeded").endStatus().build());
        await().atMost(Duration.ofSeconds(10)).until(() -> watcher.snapshot().workload("churn", "y").isEmpty());
        assertThat(local("node2")).doesNotContain("churn/y");

        pod("churn", "z", "sa-z", "node2", "198.18.2.32");
        await().atMost(Duration.ofSeconds(10)).until(() -> local("node2").contains("churn/z"));
        client.namespaces().withName("churn").edit(n -> new NamespaceBuilder(n).editMetadata()
                .removeFromLabels("tessera.dev/dataplane-mode").endMetadata().build());
        await().atMost(Duration.ofSeconds(10)).until(() -> !local("node2").contains("churn/z"));
    }
}
