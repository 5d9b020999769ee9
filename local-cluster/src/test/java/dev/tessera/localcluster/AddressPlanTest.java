package dev.tessera.localcluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tessera.api.netns.NetworkAttachments.NodeAttachment;
import dev.tessera.api.netns.NetworkAttachments.PodAttachment;
import dev.tessera.api.netns.NetworkAttachments;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AddressPlanTest {

    static final String BASE = ClusterDescriptionTest.NODES + """
            {kind: Namespace, apiVersion: v1, metadata: {name: demo}}
            ---
            """;

    static String pod(String ns, String name, String node) {
        return "{kind: Pod, apiVersion: v1, metadata: {name: " + name + ", namespace: " + ns + "}, spec: {nodeName: "
                + node + "}}\n---\n";
    }

    @Test
    void plansNodesAndPodsByConvention() throws Exception {
        ClusterDescription c = ClusterDescription.load(ClusterDescriptionTest.resource("cluster.yaml"));

        NetworkAttachments net = c.plan("demo1", NetnsNaming.STANDARD);

        assertThat(net.cluster()).isEqualTo("demo1");
        assertThat(net.nodes()).containsExactly(
                new NodeAttachment("node1", "198.18.0.1", "198.18.1.0/24", "/var/run/netns/demo1_node1"),
                new NodeAttachment("node2", "198.18.0.2", "198.18.2.0/24", "/var/run/netns/demo1_node2"));
        // node1 in namespace/name order: default/nons, demo/client, demo/fixed (explicit .10), demo/optout
        assertThat(net.pod("default", "nons").orElseThrow().ip()).isEqualTo("198.18.1.2");
        assertThat(net.pod("demo", "client").orElseThrow()).isEqualTo(
                new PodAttachment("demo", "client", "node1", "198.18.1.3", "/var/run/netns/demo1_demo_client"));
        assertThat(net.pod("demo", "fixed").orElseThrow().ip()).isEqualTo("198.18.1.10");
        assertThat(net.pod("demo", "optout").orElseThrow().ip()).isEqualTo("198.18.1.4");
        // node2: demo/server, plain/legacy
        assertThat(net.pod("demo", "server").orElseThrow().ip()).isEqualTo("198.18.2.2");
        assertThat(net.pod("plain", "legacy").orElseThrow().ip()).isEqualTo("198.18.2.3");
    }

    @Test
    void usesNodeInternalIpAndPodCidr() throws Exception {
        ClusterDescription c = ClusterDescription.load(ClusterDescriptionTest.resource("folder"));

        NetworkAttachments net = c.plan("f", NetnsNaming.STANDARD);

        assertThat(net.node("worker-a").orElseThrow().ip()).isEqualTo("198.18.0.50");
        assertThat(net.node("worker-a").orElseThrow().podCidr()).isEqualTo("198.18.50.0/24");
        assertThat(net.pod("shop", "web").orElseThrow().ip()).isEqualTo("198.18.50.2");
        assertThat(net.pod("shop", "db").orElseThrow().ip()).isEqualTo("198.18.2.2");
    }

    @Test
    void isDeterministicWhateverTheManifestOrder() {
        var a = ClusterDescription.parse("a", BASE + pod("demo", "x", "node1") + pod("demo", "b", "node1") + pod("demo", "m", "node2"));
        var b = ClusterDescription.parse("b", BASE + pod("demo", "m", "node2") + pod("demo", "x", "node1") + pod("demo", "b", "node1"));

        NetworkAttachments pa = a.plan("c", NetnsNaming.STANDARD);
        NetworkAttachments pb = b.plan("c", NetnsNaming.STANDARD);

        assertThat(pa).isEqualTo(pb);
        assertThat(pa).isEqualTo(a.plan("c", NetnsNaming.STANDARD));
        assertThat(pa.pod("demo", "b").orElseThrow().ip()).isEqualTo("198.18.1.2");
        assertThat(pa.pod("demo", "x").orElseThrow().ip()).isEqualTo("198.18.1.3");
    }

    @Test
    void replanKeepsExistingPodsAndOnlyAddsNewOnes(@TempDir Path dir) throws Exception {
        var first = ClusterDescription.parse("a", BASE + pod("demo", "m", "node1") + pod("demo", "z", "node1"));
        NetworkAttachments before = first.plan("c", NetnsNaming.STANDARD);
        assertThat(before.pod("demo", "m").orElseThrow().ip()).isEqualTo("198.18.1.2");
        assertThat(before.pod("demo", "z").orElseThrow().ip()).isEqualTo("198.18.1.3");
        // round trip through network.json like `tessera local up` does
        Path file = dir.resolve("network.json");
        before.write(file);
        NetworkAttachments previous = NetworkAttachments.read(file);

        // "a" sorts before both and would take .2 in a fresh plan; "m" is removed and its address is free
        var second = ClusterDescription.parse("a", BASE + pod("demo", "z", "node1") + pod("demo", "a", "node1")
                + pod("demo", "n", "node1"));
        NetworkAttachments after = second.plan("c", NetnsNaming.STANDARD, previous);

        assertThat(after.pod("demo", "z").orElseThrow().ip()).isEqualTo("198.18.1.3");
        assertThat(after.pod("demo", "a").orElseThrow().ip()).isEqualTo("198.18.1.2");
        assertThat(after.pod("demo", "n").orElseThrow().ip()).isEqualTo("198.18.1.4");
        assertThat(after.pod("demo", "m")).isEmpty();
        assertThat(second.plan("c", NetnsNaming.STANDARD).pod("demo", "z").orElseThrow().ip())
                .as("without the previous plan z would be renumbered").isEqualTo("198.18.1.4");
        assertThat(Files.exists(file)).isTrue();
    }

    @Test
    void replanMovesPodThatChangedNodeAndYieldsToExplicitAddress() {
        var first = ClusterDescription.parse("a", BASE + pod("demo", "a", "node1") + pod("demo", "b", "node1"));
        NetworkAttachments before = first.plan("c", NetnsNaming.STANDARD);

        var second = ClusterDescription.parse("a", BASE + pod("demo", "a", "node2")
                + "{kind: Pod, apiVersion: v1, metadata: {name: c, namespace: demo}, spec: {nodeName: node1}, status: {podIP: 198.18.1.3}}\n---\n"
                + pod("demo", "b", "node1"));
        NetworkAttachments after = second.plan("c", NetnsNaming.STANDARD, before);

        assertThat(after.pod("demo", "a").orElseThrow().ip()).isEqualTo("198.18.2.2");
        assertThat(after.pod("demo", "c").orElseThrow().ip()).isEqualTo("198.18.1.3");
        assertThat(after.pod("demo", "b").orElseThrow().ip()).isEqualTo("198.18.1.2");
    }

    @Test
    void aPlanMadeFromItselfIsItself() throws Exception {
        // local mode reuses the plan when no pod or node changed (LocalMeshSource): that relies on this
        for (String resource : new String[] {"cluster.yaml", "folder"}) {
            ClusterDescription c = ClusterDescription.load(ClusterDescriptionTest.resource(resource));
            NetworkAttachments first = c.plan("c", NetnsNaming.STANDARD);
            assertThat(c.plan("c", NetnsNaming.STANDARD, first)).as(resource).isEqualTo(first);
        }
        var c = ClusterDescription.parse("a", BASE + pod("demo", "m", "node1") + pod("demo", "z", "node1")
                + pod("demo", "b", "node2"));
        NetworkAttachments first = c.plan("c", NetnsNaming.STANDARD);
        NetworkAttachments second = c.plan("c", NetnsNaming.STANDARD, first);
        assertThat(second).isEqualTo(first);
        assertThat(c.plan("c", NetnsNaming.STANDARD, second)).isEqualTo(first);
    }

    @Test
    void fullPodCidrIsAnError() {
        String small = """
                {kind: Node, apiVersion: v1, metadata: {name: tiny}, spec: {podCIDR: 198.18.9.0/30}}
                ---
                {kind: Namespace, apiVersion: v1, metadata: {name: default}}
                ---
                {kind: Pod, apiVersion: v1, metadata: {name: a}, spec: {nodeName: tiny}}
                ---
                {kind: Pod, apiVersion: v1, metadata: {name: b}, spec: {nodeName: tiny}}
                """;
        var c = ClusterDescription.parse("small.yaml", small);
        assertThatThrownBy(() -> c.plan("c", NetnsNaming.STANDARD))
                .hasMessage("Node tiny: pod CIDR 198.18.9.0/30 is full (expected: at most 1 pods on it)");
    }

    @Test
    void rejectsBadClusterName() {
        var c = ClusterDescription.parse("a", BASE);
        assertThatThrownBy(() -> c.plan("a_b", NetnsNaming.STANDARD))
                .hasMessage("clusterName: 'a_b' (expected: a non-empty name without '/' or '_')");
    }
}
