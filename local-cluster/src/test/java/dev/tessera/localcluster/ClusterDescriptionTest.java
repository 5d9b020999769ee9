package dev.tessera.localcluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class ClusterDescriptionTest {

    static final String NODES = """
            apiVersion: v1
            kind: Node
            metadata: {name: node1}
            ---
            apiVersion: v1
            kind: Node
            metadata: {name: node2}
            ---
            apiVersion: v1
            kind: Namespace
            metadata: {name: default}
            ---
            """;

    static Path resource(String name) throws Exception {
        return Path.of(ClusterDescriptionTest.class.getResource("/local/" + name).toURI());
    }

    static ClusterDescription parse(String yaml) {
        return ClusterDescription.parse("cluster.yaml", yaml);
    }

    @Test
    void loadsMultiDocumentFile() throws Exception {
        ClusterDescription c = ClusterDescription.load(resource("cluster.yaml"));

        assertThat(c.nodes()).extracting(n -> n.getMetadata().getName()).containsExactly("node1", "node2");
        assertThat(c.namespaces()).extracting(n -> n.getMetadata().getName()).containsExactly("default", "demo", "plain");
        assertThat(c.pods()).extracting(p -> p.getMetadata().getNamespace() + "/" + p.getMetadata().getName())
                .containsExactly("demo/client", "demo/server", "demo/optout", "plain/legacy", "demo/fixed", "default/nons");
        assertThat(c.others()).extracting(o -> o.getKind())
                .containsExactly("Service", "EndpointSlice", "AuthorizationPolicy", "PeerAuthentication");
        assertThat(c.others("Service").get(0)).isInstanceOf(Service.class);
        assertThat(c.others("EndpointSlice").get(0)).isInstanceOf(EndpointSlice.class);
        var policy = (GenericKubernetesResource) c.others("AuthorizationPolicy").get(0);
        assertThat(policy.getApiVersion()).isEqualTo("security.tessera.dev/v1alpha1");
        assertThat(policy.getAdditionalProperties()).containsKey("spec");
    }

    @Test
    void appliesDefaults() throws Exception {
        ClusterDescription c = ClusterDescription.load(resource("cluster.yaml"));

        Pod nons = c.pod("default", "nons").orElseThrow();
        assertThat(nons.getSpec().getServiceAccountName()).isEqualTo("default");
        assertThat(ClusterDescription.serviceAccount(nons)).isEqualTo("default");
        assertThat(ClusterDescription.serviceAccount(c.pod("demo", "client").orElseThrow())).isEqualTo("client");
        assertThat(c.nodeAddress("node1").orElseThrow().ip()).isEqualTo("198.18.0.1");
        assertThat(c.nodeAddress("node2").orElseThrow().podCidr()).hasToString("198.18.2.0/24");
    }

    @Test
    void loadsFolderIgnoringHiddenAndOtherFiles() throws Exception {
        ClusterDescription c = ClusterDescription.load(resource("folder"));

        assertThat(c.nodes()).extracting(n -> n.getMetadata().getName()).containsExactly("worker-a", "worker-b");
        assertThat(c.namespaces()).extracting(n -> n.getMetadata().getName()).containsExactly("default", "shop");
        assertThat(c.pods()).extracting(p -> p.getMetadata().getName()).containsExactly("web", "db");
        var a = c.nodeAddress("worker-a").orElseThrow();
        assertThat(a.ip()).isEqualTo("198.18.0.50");
        assertThat(a.podCidr()).hasToString("198.18.50.0/24");
        var b = c.nodeAddress("worker-b").orElseThrow();
        assertThat(b.ip()).isEqualTo("198.18.0.2");
        assertThat(b.podCidr()).hasToString("198.18.2.0/24");
    }

    @Test
    void meshingFollowsNamespaceLabelAndPodOptOut() throws Exception {
        ClusterDescription c = ClusterDescription.load(resource("cluster.yaml"));

        assertThat(c.meshed(c.pod("demo", "client").orElseThrow())).isTrue();
        assertThat(c.meshed(c.pod("demo", "optout").orElseThrow())).isFalse();
        assertThat(c.meshed(c.pod("plain", "legacy").orElseThrow())).isFalse();
        assertThat(c.meshed(c.pod("default", "nons").orElseThrow())).isFalse();
        var ambient = Map.of(ClusterDescription.DATAPLANE_MODE_LABEL, "ambient");
        assertThat(ClusterDescription.meshed(ambient, null)).isTrue();
        assertThat(ClusterDescription.meshed(ambient, Map.of(ClusterDescription.DATAPLANE_MODE_LABEL, "other"))).isTrue();
        assertThat(ClusterDescription.meshed(Map.of(ClusterDescription.DATAPLANE_MODE_LABEL, "none"), null)).isFalse();
        assertThat(ClusterDescription.meshed(null, null)).isFalse();
    }

    @Test
    void missingPathNamesIt() {
        assertThatThrownBy(() -> ClusterDescription.load(Path.of("/nonexistent/cluster.yaml")))
                .hasMessage("/nonexistent/cluster.yaml: not found (expected: a manifest file or a folder of them)");
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', textBlock = """
            unknown node        | {kind: Pod, apiVersion: v1, metadata: {name: client}, spec: {nodeName: node9}}                         | cluster.yaml: Pod default/client: spec.nodeName: 'node9' (expected: one of the Nodes node1, node2)
            no node             | {kind: Pod, apiVersion: v1, metadata: {name: client}}                                                   | cluster.yaml: Pod default/client: spec.nodeName: missing (expected: one of the Nodes node1, node2)
            unknown namespace   | {kind: Pod, apiVersion: v1, metadata: {name: c, namespace: shop}, spec: {nodeName: node1}}              | cluster.yaml: Pod shop/c: metadata.namespace: 'shop' (expected: one of the Namespaces default; add a Namespace shop)
            unknown kind        | {kind: Deployment, apiVersion: apps/v1, metadata: {name: d}}                                            | cluster.yaml (document 4): kind: 'Deployment' (expected: one of Node, Namespace, Pod, Service, EndpointSlice, AuthorizationPolicy, PeerAuthentication)
            no kind             | {apiVersion: v1, metadata: {name: d}}                                                                   | cluster.yaml (document 4): kind: '' (expected: one of Node, Namespace, Pod, Service, EndpointSlice, AuthorizationPolicy, PeerAuthentication)
            wrong apiVersion    | {kind: Pod, apiVersion: v2, metadata: {name: c}, spec: {nodeName: node1}}                               | cluster.yaml: Pod c: apiVersion: 'v2' (expected: v1)
            wrong policy group  | {kind: AuthorizationPolicy, apiVersion: security.istio.io/v1, metadata: {name: p}}                      | cluster.yaml: AuthorizationPolicy p: apiVersion: 'security.istio.io/v1' (expected: security.tessera.dev/v1alpha1)
            no name             | {kind: Pod, apiVersion: v1, metadata: {namespace: default}}                                             | cluster.yaml (document 4): Pod: metadata.name: missing (expected: a name)
            bad name            | {kind: Pod, apiVersion: v1, metadata: {name: Client}, spec: {nodeName: node1}}                          | cluster.yaml: Pod default/Client: metadata.name: 'Client' (expected: a DNS subdomain: lowercase letters, digits, '-' and '.', at most 253 characters)
            bad service account | {kind: Pod, apiVersion: v1, metadata: {name: c}, spec: {nodeName: node1, serviceAccountName: my_sa}}    | cluster.yaml: Pod default/c: spec.serviceAccountName: 'my_sa' (expected: a DNS subdomain: lowercase letters, digits, '-' and '.', at most 253 characters)
            duplicate           | {kind: Node, apiVersion: v1, metadata: {name: node1}}                                                   | cluster.yaml: Node node1: duplicate (expected: each kind/namespace/name once; first defined in cluster.yaml)
            namespaced node     | {kind: Node, apiVersion: v1, metadata: {name: node3, namespace: default}}                               | cluster.yaml: Node node3: metadata.namespace: 'default' (expected: none, Node is cluster-scoped)
            pod IP outside CIDR | {kind: Pod, apiVersion: v1, metadata: {name: c}, spec: {nodeName: node1}, status: {podIP: 198.18.2.5}}  | cluster.yaml: Pod default/c: status.podIP: '198.18.2.5' (expected: an address inside Node node1's pod CIDR 198.18.1.0/24, not its first or last)
            pod IP broadcast    | {kind: Pod, apiVersion: v1, metadata: {name: c}, spec: {nodeName: node1}, status: {podIP: 198.18.1.255}}| cluster.yaml: Pod default/c: status.podIP: '198.18.1.255' (expected: an address inside Node node1's pod CIDR 198.18.1.0/24, not its first or last)
            pod IP garbage      | {kind: Pod, apiVersion: v1, metadata: {name: c}, spec: {nodeName: node1}, status: {podIP: pod.local}}   | cluster.yaml: Pod default/c: status.podIP: 'pod.local' (expected: an IPv4 address a.b.c.d)
            bad pod CIDR        | {kind: Node, apiVersion: v1, metadata: {name: node3}, spec: {podCIDR: 198.18.3.1/24}}                   | cluster.yaml: Node node3: spec.podCIDR: '198.18.3.1/24' (expected: an IPv4 network such as 198.18.3.0/24)
            tiny pod CIDR       | {kind: Node, apiVersion: v1, metadata: {name: node3}, spec: {podCIDR: 198.18.3.0/31}}                   | cluster.yaml: Node node3: spec.podCIDR: '198.18.3.0/31' (expected: a prefix of at most /30)
            overlapping CIDR    | {kind: Node, apiVersion: v1, metadata: {name: node3}, spec: {podCIDR: 198.18.0.0/16}}                   | cluster.yaml: Node node3: pod CIDR: '198.18.0.0/16' (expected: no overlap with other Nodes; Node node1 has 198.18.1.0/24)
            node IP taken       | {kind: Node, apiVersion: v1, metadata: {name: node3}, status: {addresses: [{type: InternalIP, address: 198.18.0.1}]}} | cluster.yaml: Node node3: node address: '198.18.0.1' (expected: unique; Node node1 has it already)
            bad node IP         | {kind: Node, apiVersion: v1, metadata: {name: node3}, status: {addresses: [{type: InternalIP, address: 300.1.1.1}]}}  | cluster.yaml: Node node3: status.addresses[InternalIP]: '300.1.1.1' (expected: an IPv4 address a.b.c.d)
            node IP missing     | {kind: Node, apiVersion: v1, metadata: {name: node3}, status: {addresses: [{type: Hostname, address: n3}, {type: InternalIP}]}}  | cluster.yaml: Node node3: status.addresses[1].address: missing (expected: an IPv4 address such as 198.18.0.1)
            cpus not a list     | {kind: Node, apiVersion: v1, metadata: {name: node3, annotations: {tessera.dev/local-cpus: "one"}}}   | cluster.yaml: Node node3: metadata.annotations[tessera.dev/local-cpus]: 'one' (expected: a CPU list such as "1", "0-1" or "0,2" (CPUs 0-4095, ranges low-high))
            cpus range reversed | {kind: Node, apiVersion: v1, metadata: {name: node3, annotations: {tessera.dev/local-cpus: "3-1"}}}   | cluster.yaml: Node node3: metadata.annotations[tessera.dev/local-cpus]: '3-1' (expected: a CPU list such as "1", "0-1" or "0,2" (CPUs 0-4095, ranges low-high))
            cpus too high       | {kind: Node, apiVersion: v1, metadata: {name: node3, annotations: {tessera.dev/local-cpus: "0,5000"}}} | cluster.yaml: Node node3: metadata.annotations[tessera.dev/local-cpus]: '0,5000' (expected: a CPU list such as "1", "0-1" or "0,2" (CPUs 0-4095, ranges low-high))
            cpus with spaces    | {kind: Node, apiVersion: v1, metadata: {name: node3, annotations: {tessera.dev/local-cpus: "0, 1"}}}  | cluster.yaml: Node node3: metadata.annotations[tessera.dev/local-cpus]: '0, 1' (expected: a CPU list such as "1", "0-1" or "0,2" (CPUs 0-4095, ranges low-high))
            not an object       | [1, 2]                                                                                                  | cluster.yaml (document 4): array (expected: a Kubernetes object with apiVersion, kind and metadata)
            """)
    void rejectsInvalidDescriptions(String scenario, String document, String message) {
        assertThatThrownBy(() -> parse(NODES + document))
                .as(scenario)
                .isInstanceOf(InvalidClusterException.class)
                .hasMessage(message);
    }

    @Test
    void readsEachNodesLocalCpus() {
        var cluster = parse("""
                {kind: Node, apiVersion: v1, metadata: {name: node1, annotations: {tessera.dev/local-cpus: "0"}}}
                ---
                {kind: Node, apiVersion: v1, metadata: {name: node2, annotations: {tessera.dev/local-cpus: "1-3,6"}}}
                ---
                {kind: Node, apiVersion: v1, metadata: {name: node3}}
                """);
        assertThat(cluster.localCpus()).containsExactly(Map.entry("node1", "0"), Map.entry("node2", "1-3,6"));
    }

    @Test
    void rejectsDuplicatePodIps() {
        String pods = """
                {kind: Pod, apiVersion: v1, metadata: {name: a}, spec: {nodeName: node1}, status: {podIP: 198.18.1.7}}
                ---
                {kind: Pod, apiVersion: v1, metadata: {name: b}, spec: {nodeName: node1}, status: {podIP: 198.18.1.7}}
                """;
        assertThatThrownBy(() -> parse(NODES + pods)).hasMessage(
                "cluster.yaml: Pod default/b: status.podIP: '198.18.1.7' (expected: unique; Pod default/a has it already)");
    }

    @Test
    void rejectsMoreThan253Nodes() {
        var sb = new StringBuilder();
        for (int i = 1; i <= 254; i++) {
            sb.append("{kind: Node, apiVersion: v1, metadata: {name: n").append(i)
                    .append("}, spec: {podCIDR: 10.").append(i / 256).append('.').append(i % 256).append(".0/24}}\n---\n");
        }
        assertThatThrownBy(() -> parse(sb.toString()))
                .hasMessage("cluster.yaml: Node n1: 254 Nodes (expected: at most 253, or status.addresses[InternalIP] "
                        + "and spec.podCIDR on every Node)");
    }

    @Test
    void acceptsMoreThan253NodesThatSayWhereTheyAre() {
        var sb = new StringBuilder();
        for (int i = 1; i <= 300; i++) {
            sb.append("{kind: Node, apiVersion: v1, metadata: {name: n").append(i)
                    .append("}, spec: {podCIDR: 10.").append(i / 256).append('.').append(i % 256)
                    .append(".0/24}, status: {addresses: [{type: InternalIP, address: 192.0.").append(i / 256).append('.')
                    .append(i % 256).append("}]}}\n---\n");
        }
        var cluster = parse(sb.toString());
        assertThat(cluster.nodeAddresses()).hasSize(300);
        assertThat(cluster.nodeAddress("n300").orElseThrow().ip()).isEqualTo("192.0.1.44");
        assertThat(cluster.nodeAddress("n300").orElseThrow().podCidr()).hasToString("10.1.44.0/24");
    }

    @Test
    void rejectsUnparsableYamlNamingTheFile() {
        assertThatThrownBy(() -> parse(NODES + "kind: [unclosed"))
                .isInstanceOf(InvalidClusterException.class)
                .hasMessageStartingWith("cluster.yaml (document 4): unparsable: ")
                .hasMessageEndingWith("(expected: YAML or JSON Kubernetes objects)");
    }

    @Test
    void rejectsInvalidFieldTypes() {
        assertThatThrownBy(() -> parse(NODES + "{kind: Pod, apiVersion: v1, metadata: {name: c}, spec: {nodeName: [a]}}"))
                .isInstanceOf(InvalidClusterException.class)
                .hasMessageStartingWith("cluster.yaml: Pod c: ")
                .hasMessageEndingWith("(expected: a valid Pod v1)");
    }

    @Test
    void emptyDescriptionIsValid() {
        assertThat(parse("").pods()).isEmpty();
    }
}
