package dev.tessera.api.netns;

import static java.util.Objects.requireNonNull;

import dev.tessera.api.json.Json;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * What the local cluster's "CNI and container runtime" decided: each node's address and network
 * namespace, each pod's IP and network namespace. Written by {@code tessera local up} to
 * {@code <run-dir>/network.json}, read by the agents in local mode (on a real node the same facts come
 * from the pod status and the container runtime). A {@code dualStack} cluster gives every node and pod an
 * IPv6 address too, derived from its IPv4 one ({@link DualStack}).
 */
public record NetworkAttachments(String cluster, List<NodeAttachment> nodes, List<PodAttachment> pods,
        boolean dualStack) {

    public NetworkAttachments {
        requireNonNull(cluster, "cluster");
        nodes = List.copyOf(requireNonNull(nodes, "nodes"));
        pods = List.copyOf(requireNonNull(pods, "pods"));
    }

    /** A single-stack (IPv4) cluster. */
    public NetworkAttachments(String cluster, List<NodeAttachment> nodes, List<PodAttachment> pods) {
        this(cluster, nodes, pods, false);
    }

    /** This plan, dual-stack or not. */
    public NetworkAttachments withDualStack(boolean on) {
        return new NetworkAttachments(cluster, nodes, pods, on);
    }

    /** The pod's IPv6 address in a dual-stack cluster, else empty. */
    public Optional<String> ip6(PodAttachment p) {
        return dualStack ? Optional.of(DualStack.ipv6Of(p.ip())) : Optional.empty();
    }

    /** The node's IPv6 address in a dual-stack cluster, else empty. */
    public Optional<String> ip6(NodeAttachment n) {
        return dualStack ? Optional.of(DualStack.ipv6Of(n.ip())) : Optional.empty();
    }

    /** The node's IPv6 pod network in a dual-stack cluster, else empty. */
    public Optional<String> podCidr6(NodeAttachment n) {
        return dualStack && n.podCidr() != null && !n.podCidr().isEmpty() ? Optional.of(DualStack.cidr6Of(n.podCidr()))
                : Optional.empty();
    }

    /** A node: its name, address on the node network, pod CIDR and network namespace path. */
    public record NodeAttachment(String name, String ip, String podCidr, String netns) {}

    /** A pod: namespace, name, node, IP and network namespace path. */
    public record PodAttachment(String namespace, String name, String node, String ip, String netns) {
        public String key() {
            return namespace + "/" + name;
        }
    }

    public Optional<PodAttachment> pod(String namespace, String name) {
        return pods.stream().filter(p -> p.namespace().equals(namespace) && p.name().equals(name)).findFirst();
    }

    public Optional<NodeAttachment> node(String name) {
        return nodes.stream().filter(n -> n.name().equals(name)).findFirst();
    }

    public static NetworkAttachments read(Path file) throws IOException {
        try {
            return parse(Files.readString(file));
        } catch (IllegalArgumentException e) {
            throw new IOException(file + ": " + e.getMessage(), e);
        }
    }

    /** Parses the document {@link #write} writes; a missing or mistyped field fails naming it. */
    public static NetworkAttachments parse(String json) {
        Map<String, Object> root = Json.parseObject(json);
        var nodes = new ArrayList<NodeAttachment>();
        int i = 0;
        for (Object o : Json.array(root, "nodes")) {
            Map<String, Object> n = member(o, "nodes[" + i + "]");
            String at = "nodes[" + i++ + "]";
            nodes.add(new NodeAttachment(Json.requireString(n, "name", at), Json.requireString(n, "ip", at),
                    Json.string(n, "podCidr"), Json.string(n, "netns")));
        }
        var pods = new ArrayList<PodAttachment>();
        i = 0;
        for (Object o : Json.array(root, "pods")) {
            Map<String, Object> p = member(o, "pods[" + i + "]");
            String at = "pods[" + i++ + "]";
            pods.add(new PodAttachment(Json.requireString(p, "namespace", at), Json.requireString(p, "name", at),
                    Json.requireString(p, "node", at), Json.requireString(p, "ip", at), Json.string(p, "netns")));
        }
        Object dual = root.get("dualStack");
        if (dual != null && !(dual instanceof Boolean)) {
            throw new IllegalArgumentException("network.dualStack: " + dual + " (expected: true or false)");
        }
        return new NetworkAttachments(Json.requireString(root, "cluster", "network"), nodes, pods,
                Boolean.TRUE.equals(dual));
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> member(Object o, String where) {
        if (!(o instanceof Map<?, ?> m)) {
            throw new IllegalArgumentException(where + ": not an object (expected: a JSON object)");
        }
        return (Map<String, Object>) m;
    }

    /** The JSON document: what {@code tessera local up} writes and the agents and controller read. */
    public String toJson() {
        var root = new LinkedHashMap<String, Object>();
        root.put("cluster", cluster);
        if (dualStack) {
            root.put("dualStack", true); // the ip6 and podCidr6 below are derived, for people reading this
        }
        var ns = new ArrayList<Map<String, Object>>();
        for (NodeAttachment n : nodes) {
            var m = new LinkedHashMap<String, Object>();
            m.put("name", n.name());
            m.put("ip", n.ip());
            m.put("podCidr", n.podCidr());
            ip6(n).ifPresent(v -> m.put("ip6", v));
            podCidr6(n).ifPresent(v -> m.put("podCidr6", v));
            m.put("netns", n.netns());
            ns.add(m);
        }
        root.put("nodes", ns);
        var ps = new ArrayList<Map<String, Object>>();
        for (PodAttachment p : pods) {
            var m = new LinkedHashMap<String, Object>();
            m.put("namespace", p.namespace());
            m.put("name", p.name());
            m.put("node", p.node());
            m.put("ip", p.ip());
            ip6(p).ifPresent(v -> m.put("ip6", v));
            m.put("netns", p.netns());
            ps.add(m);
        }
        root.put("pods", ps);
        return Json.writePretty(root);
    }

    /** Writes atomically (temp file + rename) so a reader never sees half a file. */
    public void write(Path file) throws IOException {
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        Files.writeString(tmp, toJson());
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }
}
