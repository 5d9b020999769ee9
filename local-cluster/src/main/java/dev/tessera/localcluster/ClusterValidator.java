package dev.tessera.localcluster;

import dev.tessera.api.net.Ipv4Cidr;
import dev.tessera.localcluster.ClusterDescription.NodeAddress;
import dev.tessera.localcluster.ManifestReader.Manifest;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Namespace;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodSpec;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Checks parsed manifests and builds a {@link ClusterDescription}. Every error names the file, the
 * object, the field and what was expected.
 */
final class ClusterValidator {

    private static final Pattern DNS_LABEL = Pattern.compile("[a-z0-9]([-a-z0-9]*[a-z0-9])?");
    private static final Pattern DNS_SUBDOMAIN =
            Pattern.compile("[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*");
    private static final Set<String> CLUSTER_SCOPED = Set.of("Node", "Namespace");

    private ClusterValidator() {}

    static ClusterDescription validate(List<Manifest> manifests) {
        var seen = new HashMap<String, String>(); // kind/namespace/name -> source
        var sources = new java.util.IdentityHashMap<HasMetadata, String>();
        var nodes = new ArrayList<Node>();
        var namespaces = new LinkedHashMap<String, Namespace>();
        var pods = new ArrayList<Pod>();
        var others = new ArrayList<HasMetadata>();

        for (Manifest m : manifests) {
            HasMetadata o = m.object();
            String kind = o.getKind();
            var meta = o.getMetadata();
            boolean clusterScoped = CLUSTER_SCOPED.contains(kind);
            if (clusterScoped && meta.getNamespace() != null && !meta.getNamespace().isEmpty()) {
                throw error(m.source(), o, "metadata.namespace", "'" + meta.getNamespace() + "'",
                        "none, " + kind + " is cluster-scoped");
            }
            if (!clusterScoped && (meta.getNamespace() == null || meta.getNamespace().isEmpty())) {
                meta.setNamespace(ClusterDescription.DEFAULT_NAMESPACE);
            }
            checkName(m.source(), o, "metadata.name", meta.getName(), "Namespace".equals(kind) || "Service".equals(kind));
            if (!clusterScoped) {
                checkName(m.source(), o, "metadata.namespace", meta.getNamespace(), true);
            }
            String previous = seen.putIfAbsent(kind + "/" + id(o), m.source());
            if (previous != null) {
                throw new InvalidClusterException(m.source() + ": " + label(o)
                        + ": duplicate (expected: each kind/namespace/name once; first defined in " + previous + ")");
            }
            sources.put(o, m.source());
            switch (kind) {
                case "Node" -> nodes.add((Node) o);
                case "Namespace" -> namespaces.put(meta.getName(), (Namespace) o);
                case "Pod" -> pods.add((Pod) o);
                default -> others.add(o);
            }
        }

        for (Manifest m : manifests) {
            HasMetadata o = m.object();
            String ns = o.getMetadata().getNamespace();
            if (!CLUSTER_SCOPED.contains(o.getKind()) && !namespaces.containsKey(ns)) {
                throw error(m.source(), o, "metadata.namespace", "'" + ns + "'",
                        "one of the Namespaces " + list(namespaces.keySet()) + "; add a Namespace " + ns);
            }
        }

        Map<String, NodeAddress> addresses = nodeAddresses(nodes, sources);
        for (Node node : nodes) {
            checkCpus(sources.get(node), node);
        }
        var podIps = new HashMap<Integer, Pod>();
        for (Pod pod : pods) {
            checkPod(pod, sources.get(pod), addresses, podIps);
        }
        return new ClusterDescription(nodes, List.copyOf(namespaces.values()), pods, others, addresses);
    }

    private static Map<String, NodeAddress> nodeAddresses(List<Node> nodes, Map<HasMetadata, String> sources) {
        if (nodes.size() > ClusterDescription.MAX_NODES) { // beyond the default plan, every Node says where it is
            for (Node node : nodes) {
                String cidr = node.getSpec() == null ? null : node.getSpec().getPodCIDR();
                if (internalIp(sources.get(node), node) == null || cidr == null || cidr.isEmpty()) {
                    throw new InvalidClusterException(sources.get(node) + ": " + label(node) + ": " + nodes.size()
                            + " Nodes (expected: at most " + ClusterDescription.MAX_NODES
                            + ", or status.addresses[InternalIP] and spec.podCIDR on every Node)");
                }
            }
        }
        var out = new LinkedHashMap<String, NodeAddress>();
        var byIp = new HashMap<Integer, String>();
        for (int i = 0; i < nodes.size(); i++) {
            Node node = nodes.get(i);
            String src = sources.get(node);
            int index = i + 1;
            String internal = internalIp(src, node);
            int ip = internal != null ? parseIp(src, node, "status.addresses[InternalIP]", internal)
                    : Ipv4Cidr.parseAddress("198.18.0." + index);
            String other = byIp.putIfAbsent(ip, node.getMetadata().getName());
            if (other != null) {
                throw error(src, node, "node address", "'" + Ipv4Cidr.format(ip) + "'",
                        "unique; Node " + other + " has it already");
            }
            String given = node.getSpec() == null ? null : node.getSpec().getPodCIDR();
            Ipv4Cidr cidr;
            if (given == null || given.isEmpty()) {
                cidr = Ipv4Cidr.parse("198.18." + index + ".0/24");
            } else {
                try {
                    cidr = Ipv4Cidr.parse(given);
                } catch (IllegalArgumentException e) {
                    throw error(src, node, "spec.podCIDR", "'" + given + "'", "an IPv4 network such as 198.18." + index + ".0/24");
                }
                if (cidr.prefix() > 30) {
                    throw error(src, node, "spec.podCIDR", "'" + given + "'", "a prefix of at most /30");
                }
            }
            for (NodeAddress a : out.values()) {
                if (a.podCidr().overlaps(cidr)) {
                    throw error(src, node, "pod CIDR", "'" + cidr + "'",
                            "no overlap with other Nodes; Node " + a.node() + " has " + a.podCidr());
                }
            }
            out.put(node.getMetadata().getName(), new NodeAddress(node.getMetadata().getName(), index, Ipv4Cidr.format(ip), cidr));
        }
        return out;
    }

    /** A node's {@link ClusterDescription#LOCAL_CPUS_ANNOTATION}, if present, is a {@link CpuList}. */
    private static void checkCpus(String src, Node node) {
        var annotations = node.getMetadata().getAnnotations();
        String value = annotations == null ? null : annotations.get(ClusterDescription.LOCAL_CPUS_ANNOTATION);
        if (value == null) {
            return;
        }
        try {
            if (!value.equals(value.strip())) {
                throw new IllegalArgumentException("surrounding whitespace");
            }
            CpuList.parse(value);
        } catch (IllegalArgumentException e) {
            throw error(src, node, "metadata.annotations[" + ClusterDescription.LOCAL_CPUS_ANNOTATION + "]", "'" + value + "'",
                    "a CPU list such as \"1\", \"0-1\" or \"0,2\" (CPUs 0-" + CpuList.MAX_CPU + ", ranges low-high)");
        }
    }

    private static String internalIp(String src, Node node) {
        if (node.getStatus() == null || node.getStatus().getAddresses() == null) {
            return null;
        }
        var addresses = node.getStatus().getAddresses();
        for (int i = 0; i < addresses.size(); i++) {
            var a = addresses.get(i);
            if (a != null && "InternalIP".equals(a.getType())) {
                // found by fuzzing: an InternalIP entry without an address was a NullPointerException
                if (a.getAddress() == null || a.getAddress().isBlank()) {
                    throw error(src, node, "status.addresses[" + i + "].address", "missing", "an IPv4 address such as 198.18.0.1");
                }
                return a.getAddress();
            }
        }
        return null;
    }

    private static void checkPod(Pod pod, String src, Map<String, NodeAddress> addresses, Map<Integer, Pod> podIps) {
        if (pod.getSpec() == null) {
            pod.setSpec(new PodSpec());
        }
        PodSpec spec = pod.getSpec();
        String nodeName = spec.getNodeName();
        if (nodeName == null || !addresses.containsKey(nodeName)) {
            throw error(src, pod, "spec.nodeName", nodeName == null ? "missing" : "'" + nodeName + "'",
                    addresses.isEmpty() ? "the name of a Node; add a Node" : "one of the Nodes " + list(addresses.keySet()));
        }
        if (spec.getServiceAccountName() == null || spec.getServiceAccountName().isEmpty()) {
            spec.setServiceAccountName(ClusterDescription.DEFAULT_SERVICE_ACCOUNT);
        }
        checkName(src, pod, "spec.serviceAccountName", spec.getServiceAccountName(), false);
        String podIp = pod.getStatus() == null ? null : pod.getStatus().getPodIP();
        if (podIp != null && !podIp.isEmpty()) {
            int ip = parseIp(src, pod, "status.podIP", podIp);
            Ipv4Cidr cidr = addresses.get(nodeName).podCidr();
            if (!cidr.contains(ip) || ip == cidr.network() || ip == cidr.broadcast()) {
                throw error(src, pod, "status.podIP", "'" + podIp + "'",
                        "an address inside Node " + nodeName + "'s pod CIDR " + cidr + ", not its first or last");
            }
            Pod other = podIps.putIfAbsent(ip, pod);
            if (other != null) {
                throw error(src, pod, "status.podIP", "'" + podIp + "'", "unique; Pod " + id(other) + " has it already");
            }
        }
    }

    private static int parseIp(String src, HasMetadata o, String field, String value) {
        try {
            return Ipv4Cidr.parseAddress(value);
        } catch (IllegalArgumentException e) {
            throw error(src, o, field, "'" + value + "'", "an IPv4 address a.b.c.d");
        }
    }

    private static void checkName(String src, HasMetadata o, String field, String value, boolean label) {
        boolean ok = label ? value.length() <= 63 && DNS_LABEL.matcher(value).matches()
                : value.length() <= 253 && DNS_SUBDOMAIN.matcher(value).matches();
        if (!ok) {
            throw error(src, o, field, "'" + value + "'", label
                    ? "a DNS label: lowercase letters, digits and '-', at most 63 characters"
                    : "a DNS subdomain: lowercase letters, digits, '-' and '.', at most 253 characters");
        }
    }

    static InvalidClusterException error(String src, HasMetadata o, String field, String value, String expected) {
        return new InvalidClusterException(src + ": " + label(o) + ": " + field + ": " + value + " (expected: " + expected + ")");
    }

    static String label(HasMetadata o) {
        return o.getKind() + " " + id(o);
    }

    private static String id(HasMetadata o) {
        String ns = o.getMetadata().getNamespace();
        boolean scoped = ns != null && !ns.isEmpty() && !CLUSTER_SCOPED.contains(o.getKind());
        return (scoped ? ns + "/" : "") + o.getMetadata().getName();
    }

    private static String list(java.util.Collection<String> names) {
        return names.isEmpty() ? "(none)" : String.join(", ", names);
    }
}
