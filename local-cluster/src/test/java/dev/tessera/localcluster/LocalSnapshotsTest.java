package dev.tessera.localcluster;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tessera.api.identity.SpiffeId;
import dev.tessera.api.model.MeshSnapshot;
import dev.tessera.api.model.Workload;
import dev.tessera.api.netns.NetworkAttachments.PodAttachment;
import dev.tessera.api.netns.NetworkAttachments;
import java.net.InetAddress;
import java.util.ArrayList;
import org.junit.jupiter.api.Test;

class LocalSnapshotsTest {

    @Test
    void buildsWorkloadsWithMeshingAndIdentity() throws Exception {
        ClusterDescription c = ClusterDescription.load(ClusterDescriptionTest.resource("cluster.yaml"));
        NetworkAttachments net = c.plan("demo1", NetnsNaming.STANDARD);

        var conv = LocalSnapshots.convert(c, net, "example.org", 7);
        MeshSnapshot s = conv.snapshot();

        assertThat(conv.warnings()).isEmpty();
        assertThat(s.version()).isEqualTo(7);
        assertThat(s.nodes()).containsOnlyKeys("node1", "node2");
        assertThat(s.node("node2").orElseThrow().ip()).isEqualTo(InetAddress.getByName("198.18.0.2"));
        assertThat(s.node("node2").orElseThrow().podCidr()).isEqualTo("198.18.2.0/24");
        assertThat(s.workloads()).hasSize(6);

        Workload client = s.workload("demo", "client").orElseThrow();
        assertThat(client.meshed()).isTrue();
        assertThat(client.node()).isEqualTo("node1");
        assertThat(client.ip()).isEqualTo(InetAddress.getByName("198.18.1.3"));
        assertThat(client.serviceAccount()).isEqualTo("client");
        assertThat(client.identity()).isEqualTo(new SpiffeId("example.org", "demo", "client"));
        assertThat(client.labels()).containsEntry("app", "client");
        assertThat(s.workloadByIp(InetAddress.getByName("198.18.1.10")).orElseThrow().name()).isEqualTo("fixed");

        assertThat(s.workload("demo", "optout").orElseThrow().meshed()).as("pod label opt-out").isFalse();
        assertThat(s.workload("plain", "legacy").orElseThrow().meshed()).as("namespace not enrolled").isFalse();
        Workload nons = s.workload("default", "nons").orElseThrow();
        assertThat(nons.meshed()).isFalse();
        assertThat(nons.identity()).hasToString("spiffe://example.org/ns/default/sa/default");
    }

    @Test
    void skipsPodsWithoutAttachmentOrOnAnotherNode() throws Exception {
        ClusterDescription c = ClusterDescription.load(ClusterDescriptionTest.resource("cluster.yaml"));
        NetworkAttachments full = c.plan("demo1", NetnsNaming.STANDARD);
        var pods = new ArrayList<PodAttachment>();
        for (PodAttachment p : full.pods()) {
            if (p.name().equals("client")) {
                continue;
            }
            pods.add(p.name().equals("server") ? new PodAttachment(p.namespace(), p.name(), "node1", "198.18.1.99", p.netns()) : p);
        }
        NetworkAttachments partial = new NetworkAttachments("demo1", full.nodes(), pods);

        var conv = LocalSnapshots.convert(c, partial, "cluster.local", 1);

        assertThat(conv.snapshot().workloads()).hasSize(4);
        assertThat(conv.snapshot().workload("demo", "client")).isEmpty();
        assertThat(conv.snapshot().workload("demo", "server")).isEmpty();
        assertThat(conv.warnings()).containsExactly(
                "Pod demo/client: no network attachment in demo1's network (expected: re-run `tessera local up` after adding pods); left out",
                "Pod demo/server: scheduled on node2 but attached on node1 (expected: re-run `tessera local up` after moving pods); left out");
        assertThat(LocalSnapshots.toSnapshot(c, partial, "cluster.local", 2).workloads()).hasSize(4);
    }

    @Test
    void manifestsNameWorkloadsAfterTheOwnerReferencesTheyCarry() {
        ClusterDescription c = ClusterDescription.parse("owners.yaml", """
                apiVersion: v1
                kind: Node
                metadata: {name: node1}
                ---
                apiVersion: v1
                kind: Namespace
                metadata: {name: shop, labels: {tessera.dev/dataplane-mode: ambient}}
                ---
                apiVersion: v1
                kind: Pod
                metadata:
                  name: web-7d9f8b6c5d-x2x4z
                  namespace: shop
                  labels: {app: web, pod-template-hash: 7d9f8b6c5d}
                  ownerReferences:
                    - {apiVersion: apps/v1, kind: ReplicaSet, name: web-7d9f8b6c5d, uid: u1, controller: true}
                spec: {nodeName: node1, containers: [{name: main, image: example/web}]}
                ---
                apiVersion: v1
                kind: Pod
                metadata:
                  name: db-0
                  namespace: shop
                  ownerReferences:
                    - {apiVersion: apps/v1, kind: StatefulSet, name: db, uid: u2, controller: true}
                spec: {nodeName: node1, containers: [{name: main, image: example/db}]}
                ---
                apiVersion: v1
                kind: Pod
                metadata: {name: debug, namespace: shop, labels: {app: tools}}
                spec: {nodeName: node1, containers: [{name: main, image: example/tools}]}
                """);
        MeshSnapshot s = LocalSnapshots.convert(c, c.plan("own1", NetnsNaming.STANDARD), "cluster.local", 1).snapshot();
        assertThat(s.workload("shop", "web-7d9f8b6c5d-x2x4z").orElseThrow().workloadName()).isEqualTo("web");
        assertThat(s.workload("shop", "db-0").orElseThrow().workloadName()).isEqualTo("db");
        assertThat(s.workload("shop", "debug").orElseThrow().workloadName()).as("no owner: the pod").isEqualTo("debug");
    }

    @Test
    void aMemoReusesTheWorkloadsOfUnchangedPodsAndGivesWhatAFreshConversionGives() throws Exception {
        ClusterDescription c = ClusterDescription.load(ClusterDescriptionTest.resource("cluster.yaml"));
        NetworkAttachments net = c.plan("demo1", NetnsNaming.STANDARD);
        var memo = new LocalSnapshots.Memo();
        MeshSnapshot first = LocalSnapshots.convert(c, net, "example.org", 1, memo).snapshot();
        MeshSnapshot again = LocalSnapshots.convert(c, net, "example.org", 2, memo).snapshot();
        for (Workload w : first.workloads()) {
            assertThat(again.workload(w.namespace(), w.name()).orElseThrow()).isSameAs(w);
        }

        // another address and another trust domain: new workloads, equal to a conversion without a memo
        var moved = new ArrayList<PodAttachment>();
        for (PodAttachment p : net.pods()) {
            moved.add(p.name().equals("client") ? new PodAttachment(p.namespace(), p.name(), p.node(), "198.18.1.99",
                    p.netns()) : p);
        }
        var net2 = new NetworkAttachments(net.cluster(), net.nodes(), moved);
        MeshSnapshot withMemo = LocalSnapshots.convert(c, net2, "example.org", 3, memo).snapshot();
        MeshSnapshot fresh = LocalSnapshots.convert(c, net2, "example.org", 3).snapshot();
        assertThat(withMemo.workloads()).containsExactlyInAnyOrderElementsOf(fresh.workloads());
        assertThat(withMemo.services()).containsExactlyInAnyOrderElementsOf(fresh.services());
        assertThat(withMemo.workload("demo", "client").orElseThrow().ip()).isEqualTo(InetAddress.getByName("198.18.1.99"));
        MeshSnapshot otherDomain = LocalSnapshots.convert(c, net2, "other.org", 4, memo).snapshot();
        assertThat(otherDomain.workload("demo", "client").orElseThrow().identity().trustDomain()).isEqualTo("other.org");
    }
}
