package dev.tessera.tests.harness;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A test cluster described as the Kubernetes manifests {@code tessera local up} reads: nodes,
 * namespaces with labels, pods with node, service account and labels. Immutable; {@link #toYaml()}
 * renders it, {@link #withNamespaceLabels} derives an edited copy. {@code nodeCpus}: node -> its
 * {@code tessera.dev/local-cpus} annotation (the CPUs its agent runs on), for the nodes that have one.
 */
public record ClusterSpec(List<String> nodes, Map<String, Map<String, String>> namespaces, List<PodSpec> pods,
        Map<String, String> nodeCpus) {

    /** The opt-in label and its value. */
    public static final String MODE_LABEL = "tessera.dev/dataplane-mode";
    public static final Map<String, String> AMBIENT = Map.of(MODE_LABEL, "ambient");

    /**
     * One pod.
     *
     * @param ownerKind the kind of its controlling owner reference ({@code ReplicaSet}, {@code StatefulSet}, ...),
     *     or null for a pod without owner
     * @param ownerName the owner's name, or null
     */
    public record PodSpec(String namespace, String name, String node, String serviceAccount, Map<String, String> labels,
            String ownerKind, String ownerName) {

        public PodSpec(String namespace, String name, String node, String serviceAccount, Map<String, String> labels) {
            this(namespace, name, node, serviceAccount, labels, null, null);
        }
    }

    public ClusterSpec {
        nodeCpus = Map.copyOf(nodeCpus);
        nodes = List.copyOf(nodes);
        namespaces = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(namespaces));
        pods = List.copyOf(pods);
    }

    public static Builder builder() {
        return new Builder();
    }

    /** A copy with the labels of {@code namespace} replaced. */
    public ClusterSpec withNamespaceLabels(String namespace, Map<String, String> labels) {
        if (!namespaces.containsKey(namespace)) {
            throw new IllegalArgumentException("namespace: '" + namespace + "' (expected: one of " + namespaces.keySet() + ")");
        }
        var ns = new LinkedHashMap<>(namespaces);
        ns.put(namespace, Map.copyOf(labels));
        return new ClusterSpec(nodes, ns, pods, nodeCpus);
    }

    /** Multi-document YAML: Nodes, Namespaces, Pods. */
    public String toYaml() {
        var y = new StringBuilder();
        for (String n : nodes) {
            y.append("apiVersion: v1\nkind: Node\nmetadata:\n  name: ").append(n).append('\n');
            if (nodeCpus.containsKey(n)) {
                y.append("  annotations:\n    tessera.dev/local-cpus: \"").append(nodeCpus.get(n)).append("\"\n");
            }
            y.append("---\n");
        }
        for (var e : namespaces.entrySet()) {
            y.append("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ").append(e.getKey()).append('\n');
            labels(y, e.getValue());
            y.append("---\n");
        }
        for (PodSpec p : pods) {
            y.append("apiVersion: v1\nkind: Pod\nmetadata:\n  name: ").append(p.name())
                    .append("\n  namespace: ").append(p.namespace()).append('\n');
            labels(y, p.labels());
            if (p.ownerKind() != null) {
                y.append("  generateName: ").append(p.name(), 0, p.name().lastIndexOf('-') + 1).append('\n')
                        .append("  ownerReferences:\n    - apiVersion: apps/v1\n      kind: ").append(p.ownerKind())
                        .append("\n      name: ").append(p.ownerName()).append("\n      uid: owner-")
                        .append(p.ownerName()).append("\n      controller: true\n");
            }
            y.append("spec:\n  nodeName: ").append(p.node()).append("\n  serviceAccountName: ").append(p.serviceAccount())
                    .append("\n  containers:\n    - name: main\n      image: example/test\n---\n");
        }
        return y.toString();
    }

    private static void labels(StringBuilder y, Map<String, String> labels) {
        if (!labels.isEmpty()) {
            y.append("  labels:\n");
            labels.forEach((k, v) -> y.append("    ").append(k).append(": \"").append(v).append("\"\n"));
        }
    }

    /** Builds a {@link ClusterSpec}. */
    public static final class Builder {
        private final List<String> nodes = new ArrayList<>();
        private final Map<String, Map<String, String>> namespaces = new LinkedHashMap<>();
        private final List<PodSpec> pods = new ArrayList<>();
        private final Map<String, String> nodeCpus = new LinkedHashMap<>();

        public Builder nodes(String... names) {
            nodes.addAll(List.of(names));
            return this;
        }

        /** The node's {@code tessera.dev/local-cpus} annotation: its agent runs on these CPUs. */
        public Builder nodeCpus(String node, String cpus) {
            nodeCpus.put(node, cpus);
            return this;
        }

        /** An enrolled namespace ({@code tessera.dev/dataplane-mode=ambient}). */
        public Builder meshedNamespace(String name) {
            namespaces.put(name, AMBIENT);
            return this;
        }

        /** A namespace without the opt-in label. */
        public Builder plainNamespace(String name) {
            namespaces.put(name, Map.of());
            return this;
        }

        public Builder pod(String namespace, String name, String node, String serviceAccount) {
            pods.add(new PodSpec(namespace, name, node, serviceAccount, Map.of("app", name)));
            return this;
        }

        /** A pod with the given labels (instead of {@code app: <name>}). */
        public Builder pod(String namespace, String name, String node, String serviceAccount, Map<String, String> labels) {
            pods.add(new PodSpec(namespace, name, node, serviceAccount, Map.copyOf(labels)));
            return this;
        }

        /** A pod with labels whose controlling owner reference names {@code ownerKind}/{@code ownerName}. */
        public Builder ownedPod(String namespace, String name, String node, String serviceAccount,
                Map<String, String> labels, String ownerKind, String ownerName) {
            pods.add(new PodSpec(namespace, name, node, serviceAccount, Map.copyOf(labels), ownerKind, ownerName));
            return this;
        }

        public ClusterSpec build() {
            return new ClusterSpec(nodes, namespaces, pods, nodeCpus);
        }
    }
}
