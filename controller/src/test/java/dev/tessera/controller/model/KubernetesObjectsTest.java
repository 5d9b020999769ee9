package dev.tessera.controller.model;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tessera.api.model.NodeInfo;
import dev.tessera.api.model.Workload;
import io.fabric8.kubernetes.api.model.NodeBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import java.net.InetAddress;
import java.util.Map;
import org.junit.jupiter.api.Test;

class KubernetesObjectsTest {

    private static final Map<String, String> AMBIENT = Map.of("tessera.dev/dataplane-mode", "ambient");

    static Pod pod(String name, String node, String phase, String ip, Map<String, String> labels, String sa) {
        return new PodBuilder().withNewMetadata().withNamespace("shop").withName(name).withLabels(labels).endMetadata()
                .withNewSpec().withNodeName(node).withServiceAccountName(sa).endSpec()
                .withNewStatus().withPhase(phase).withPodIP(ip).endStatus().build();
    }

    @Test
    void runningScheduledPodWithAnAddressIsAWorkloadWithTheSharedEnrollmentRules() {
        Pod p = pod("web-1", "node1", "Running", "198.18.1.2", Map.of("app", "web"), null);
        String before = p.toString();
        Workload w = KubernetesObjects.workload(p, AMBIENT, "cluster.local").orElseThrow();

        assertThat(w.key()).isEqualTo("shop/web-1");
        assertThat(w.serviceAccount()).isEqualTo("default");
        assertThat(w.identity().toString()).isEqualTo("spiffe://cluster.local/ns/shop/sa/default");
        assertThat(w.meshed()).isTrue();
        assertThat(p.toString()).isEqualTo(before); // the cached object is untouched
        assertThat(KubernetesObjects.workload(p, Map.of(), "cluster.local").orElseThrow().meshed()).isFalse();
        assertThat(KubernetesObjects.workload(p, null, "cluster.local").orElseThrow().meshed()).isFalse();
        Pod optOut = pod("web-2", "node1", "Running", "198.18.1.3", Map.of("tessera.dev/dataplane-mode", "none"), "web");
        assertThat(KubernetesObjects.workload(optOut, AMBIENT, "cluster.local").orElseThrow().meshed()).isFalse();
    }

    @Test
    void theWorkloadNameComesFromTheOwnerReferencesAndTheCachedPodIsUntouched() {
        Pod p = new PodBuilder(pod("web-7d9f8b6c5d-x2x4z", "node1", "Running", "198.18.1.4",
                Map.of("app", "web", "pod-template-hash", "7d9f8b6c5d"), "web"))
                .editMetadata().addNewOwnerReference().withApiVersion("apps/v1").withKind("ReplicaSet")
                .withName("web-7d9f8b6c5d").withUid("u1").withController(true).endOwnerReference().endMetadata().build();
        String before = p.toString();
        Workload w = KubernetesObjects.workload(p, AMBIENT, "cluster.local").orElseThrow();
        assertThat(w.name()).isEqualTo("web-7d9f8b6c5d-x2x4z");
        assertThat(w.workloadName()).isEqualTo("web");
        assertThat(p.toString()).isEqualTo(before);
        assertThat(KubernetesObjects.workload(pod("solo", "node1", "Running", "198.18.1.5", Map.of("app", "x"), null),
                AMBIENT, "cluster.local").orElseThrow().workloadName()).isEqualTo("solo");
    }

    @Test
    void aDualStackPodHasItsPrimaryAddressAndTheOtherOnesFromPodIps() {
        Pod p = new PodBuilder(pod("a", "node1", "Running", "198.18.1.2", Map.of(), "s")).editStatus()
                .addNewPodIP().withIp("198.18.1.2").endPodIP().addNewPodIP().withIp("2001:db8::c612:102").endPodIP()
                .addNewPodIP().withIp("not-an-ip").endPodIP().endStatus().build();
        Workload w = KubernetesObjects.workload(p, AMBIENT, "td").orElseThrow();
        assertThat(w.ip().getHostAddress()).isEqualTo("198.18.1.2");
        assertThat(w.otherIps()).extracting(java.net.InetAddress::getHostAddress).containsExactly("2001:db8:0:0:0:0:c612:102");
        Workload v6 = KubernetesObjects.workload(pod("b", "node1", "Running", "2001:db8::5", Map.of(), "s"), AMBIENT, "td")
                .orElseThrow();
        assertThat(v6.ip()).isInstanceOf(java.net.Inet6Address.class);
        assertThat(v6.otherIps()).isEmpty();
    }

    @Test
    void podsOutsideTheDataPathAreLeftOut() {
        assertThat(KubernetesObjects.workload(pod("a", "node1", "Pending", "198.18.1.2", Map.of(), "s"), AMBIENT, "td")).isEmpty();
        assertThat(KubernetesObjects.workload(pod("a", null, "Running", "198.18.1.2", Map.of(), "s"), AMBIENT, "td")).isEmpty();
        assertThat(KubernetesObjects.workload(pod("a", "node1", "Running", null, Map.of(), "s"), AMBIENT, "td")).isEmpty();
        assertThat(KubernetesObjects.workload(pod("a", "node1", "Running", "fd00::1%eth0", Map.of(), "s"), AMBIENT, "td")).isEmpty();
        assertThat(KubernetesObjects.workload(pod("a", "node1", "Running", "300.1.1.1", Map.of(), "s"), AMBIENT, "td")).isEmpty();
        assertThat(KubernetesObjects.workload(pod("a", "node1", "Running", "example.com", Map.of(), "s"), AMBIENT, "td")).isEmpty();
        Pod host = new PodBuilder(pod("a", "node1", "Running", "198.18.0.1", Map.of(), "s")).editSpec()
                .withHostNetwork(true).endSpec().build();
        assertThat(KubernetesObjects.workload(host, AMBIENT, "td")).isEmpty();
    }

    @Test
    void nodeNeedsAnInternalIp() throws Exception {
        var node = new NodeBuilder().withNewMetadata().withName("n1").endMetadata()
                .withNewSpec().withPodCIDR("198.18.1.0/24").endSpec()
                .withNewStatus().addNewAddress().withType("Hostname").withAddress("n1").endAddress()
                .addNewAddress().withType("InternalIP").withAddress("198.18.0.1").endAddress().endStatus().build();
        assertThat(KubernetesObjects.node(node)).contains(
                new NodeInfo("n1", InetAddress.getByName("198.18.0.1"), "198.18.1.0/24"));
        assertThat(KubernetesObjects.node(new NodeBuilder().withNewMetadata().withName("n2").endMetadata().build())).isEmpty();
    }

    @Test
    void modelPublishesVersionedSnapshotsAndDropsADuplicateIp() {
        var model = new MeshModel();
        Workload a = KubernetesObjects.workload(pod("a", "node1", "Running", "198.18.1.2", Map.of(), "s"), AMBIENT, "td").orElseThrow();
        Workload b = KubernetesObjects.workload(pod("b", "node1", "Running", "198.18.1.2", Map.of(), "s"), AMBIENT, "td").orElseThrow();
        assertThat(model.putWorkload(a.key(), a)).isTrue();
        assertThat(model.putWorkload(a.key(), a)).isFalse();
        assertThat(model.putWorkload(b.key(), b)).isTrue();

        var s1 = model.snapshot();
        assertThat(s1.version()).isEqualTo(1);
        assertThat(s1.mesh().workloads()).containsExactly(a);

        assertThat(model.putWorkload(a.key(), null)).isTrue();
        var s2 = model.snapshot();
        assertThat(s2.version()).isEqualTo(2);
        assertThat(s2.mesh().workloads()).containsExactly(b);
        assertThat(NodeState.of(s2.mesh(), "node1").workloadKeys()).containsExactly("shop/b");
        assertThat(s1.mesh().workloads()).containsExactly(a); // earlier snapshots never change
    }
}
