package dev.tessera.localcluster;

import static java.util.Objects.requireNonNull;

import dev.tessera.api.net.Ipv4Cidr;
import dev.tessera.api.netns.NetworkAttachments;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Namespace;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.Pod;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A local cluster described by ordinary Kubernetes manifests: Nodes, Namespaces (with their labels),
 * Pods, and the objects later features read (Services, EndpointSlices and the
 * {@code security.tessera.dev} policies, kept as they were parsed). Validated and immutable.
 *
 * <p>Defaults applied while loading: a Pod without {@code metadata.namespace} is in {@code default}; a
 * Pod without {@code spec.serviceAccountName} runs as {@code default}. The fabric8 objects returned are
 * shared and must not be modified.
 *
 * <p>Node {@code i} (1-based, manifest order) has the address {@code 198.18.0.<i>} unless its
 * {@code status.addresses} has an {@code InternalIP}, and the pod CIDR {@code 198.18.<i>.0/24} unless it
 * has {@code spec.podCIDR}.
 */
public final class ClusterDescription {

    /** The label that opts a namespace in ({@value #AMBIENT}) or a pod out ({@value #NONE}). */
    public static final String DATAPLANE_MODE_LABEL = "tessera.dev/dataplane-mode";
    /** Namespace label value that enrolls its pods. */
    public static final String AMBIENT = "ambient";
    /** Pod label value that keeps a pod out of the mesh. */
    public static final String NONE = "none";
    /** Namespace of objects that name none. */
    public static final String DEFAULT_NAMESPACE = "default";
    /** Service account of pods that name none. */
    public static final String DEFAULT_SERVICE_ACCOUNT = "default";
    /**
     * The fabric network is a /24 whose .254 is the local controller: at most 253 nodes get default addresses.
     * A larger cluster (e.g. the scale benchmark's) gives every Node its InternalIP and podCIDR.
     */
    public static final int MAX_NODES = 253;
    /**
     * Node annotation: the CPUs {@code tessera local} runs that node's agent on, as a CPU list ({@code "1"},
     * {@code "0-1"}, {@code "0,2"}; taskset/cpuset syntax). A local cluster's nodes share one machine; this gives
     * each node's agent its own CPUs from its first instruction, as an agent on its own node has them (its event
     * loops are sized for them, and its start-up warm-up is not shared with the other nodes' agents). Without it an
     * agent runs wherever {@code tessera local} may run. Read at {@code local up}.
     */
    public static final String LOCAL_CPUS_ANNOTATION = "tessera.dev/local-cpus";

    /**
     * Where a node is on the network.
     *
     * @param node the node name
     * @param index 1-based position in the manifests
     * @param ip the node address (dotted quad)
     * @param podCidr the node's pod network
     */
    public record NodeAddress(String node, int index, String ip, Ipv4Cidr podCidr) {}

    private final List<Node> nodes;
    private final List<Namespace> namespaces;
    private final List<Pod> pods;
    private final List<HasMetadata> others;
    private final Map<String, NodeAddress> addresses;
    /** Namespaces by name: {@link #meshed(Pod)} looks one up per pod. */
    private final Map<String, Namespace> namespacesByName;

    ClusterDescription(List<Node> nodes, List<Namespace> namespaces, List<Pod> pods, List<HasMetadata> others,
            Map<String, NodeAddress> addresses) {
        this.nodes = List.copyOf(nodes);
        this.namespaces = List.copyOf(namespaces);
        this.pods = List.copyOf(pods);
        this.others = List.copyOf(others);
        this.addresses = Map.copyOf(addresses);
        var byName = new java.util.HashMap<String, Namespace>();
        this.namespaces.forEach(n -> byName.putIfAbsent(n.getMetadata().getName(), n));
        this.namespacesByName = byName;
    }

    /**
     * Loads and validates a manifest file (several YAML documents, or JSON) or a folder of
     * {@code .yaml}/{@code .yml}/{@code .json} files (hidden files are ignored).
     *
     * @throws IOException when the path cannot be read
     * @throws InvalidClusterException when the content is invalid (the message says where and why)
     */
    public static ClusterDescription load(Path fileOrFolder) throws IOException {
        return ClusterValidator.validate(ManifestReader.read(fileOrFolder));
    }

    /** As {@link #load(Path)}, re-parsing only the files that changed since {@code cache} last read them. */
    static ClusterDescription load(Path fileOrFolder, ManifestReader.TreeCache cache) throws IOException {
        return ClusterValidator.validate(cache.read(fileOrFolder));
    }

    /** Parses and validates manifests given as text; {@code source} names them in errors. */
    public static ClusterDescription parse(String source, String manifests) {
        requireNonNull(source, "source");
        requireNonNull(manifests, "manifests");
        return ClusterValidator.validate(ManifestReader.read(source, manifests));
    }

    /** Nodes in manifest order. */
    public List<Node> nodes() {
        return nodes;
    }

    public List<Namespace> namespaces() {
        return namespaces;
    }

    /** Pods, with namespace and service account defaults applied. */
    public List<Pod> pods() {
        return pods;
    }

    /** Every other accepted object (Service, EndpointSlice, AuthorizationPolicy, PeerAuthentication). */
    public List<HasMetadata> others() {
        return others;
    }

    /** The other objects of one kind, e.g. {@code "AuthorizationPolicy"}. */
    public List<HasMetadata> others(String kind) {
        return others.stream().filter(o -> kind.equals(o.getKind())).toList();
    }

    public Optional<Node> node(String name) {
        return nodes.stream().filter(n -> n.getMetadata().getName().equals(name)).findFirst();
    }

    public Optional<Namespace> namespace(String name) {
        return Optional.ofNullable(namespacesByName.get(name));
    }

    public Optional<Pod> pod(String namespace, String name) {
        return pods.stream()
                .filter(p -> p.getMetadata().getNamespace().equals(namespace) && p.getMetadata().getName().equals(name))
                .findFirst();
    }

    /** Node name -> its {@link #LOCAL_CPUS_ANNOTATION} (a validated {@link CpuList}), for the nodes that have one. */
    public Map<String, String> localCpus() {
        var out = new java.util.LinkedHashMap<String, String>();
        for (Node n : nodes) {
            Map<String, String> annotations = n.getMetadata().getAnnotations();
            if (annotations != null && annotations.containsKey(LOCAL_CPUS_ANNOTATION)) {
                out.put(n.getMetadata().getName(), annotations.get(LOCAL_CPUS_ANNOTATION));
            }
        }
        return out;
    }

    /** Where each node is, by node name. */
    public Map<String, NodeAddress> nodeAddresses() {
        return addresses;
    }

    /** Where a node is. */
    public Optional<NodeAddress> nodeAddress(String node) {
        return Optional.ofNullable(addresses.get(node));
    }

    /** The service account a pod runs as. */
    public static String serviceAccount(Pod pod) {
        String sa = pod.getSpec() == null ? null : pod.getSpec().getServiceAccountName();
        return sa == null || sa.isEmpty() ? DEFAULT_SERVICE_ACCOUNT : sa;
    }

    /**
     * Whether a pod is enrolled: its namespace is labelled {@code tessera.dev/dataplane-mode=ambient} and
     * the pod itself is not labelled {@code tessera.dev/dataplane-mode=none}.
     */
    public boolean meshed(Pod pod) {
        Map<String, String> nsLabels = namespace(pod.getMetadata().getNamespace())
                .map(n -> n.getMetadata().getLabels()).orElse(null);
        return meshed(nsLabels, pod.getMetadata().getLabels());
    }

    /** The enrollment rule on label maps (either may be null). */
    public static boolean meshed(Map<String, String> namespaceLabels, Map<String, String> podLabels) {
        boolean nsAmbient = namespaceLabels != null && AMBIENT.equals(namespaceLabels.get(DATAPLANE_MODE_LABEL));
        boolean podOptOut = podLabels != null && NONE.equals(podLabels.get(DATAPLANE_MODE_LABEL));
        return nsAmbient && !podOptOut;
    }

    /**
     * The addressing plan of {@code tessera local up}: node addresses and pod CIDRs as described above;
     * each pod gets its {@code status.podIP} if given, else the lowest free address from {@code .2} up in
     * its node's CIDR, pods taken in namespace/name order.
     */
    public NetworkAttachments plan(String clusterName, NetnsNaming naming) {
        return AddressPlanner.plan(this, clusterName, naming, null);
    }

    /**
     * Like {@link #plan(String, NetnsNaming)}, but pods already in {@code previous} on the same node keep
     * their address (unless another pod now claims it with {@code status.podIP}); only new pods get new
     * addresses, so a re-plan after an edit never renumbers running pods.
     */
    public NetworkAttachments plan(String clusterName, NetnsNaming naming, NetworkAttachments previous) {
        return AddressPlanner.plan(this, clusterName, naming, previous);
    }

    @Override
    public String toString() {
        return "ClusterDescription{nodes=" + nodes.size() + ", namespaces=" + namespaces.size() + ", pods="
                + pods.size() + ", others=" + others.size() + "}";
    }
}
