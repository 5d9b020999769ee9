package dev.tessera.cli.local;

import static java.util.Objects.requireNonNull;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import dev.tessera.common.local.NetworkAttachments;
import dev.tessera.common.local.NetworkAttachments.NodeAttachment;
import dev.tessera.common.local.NetworkAttachments.PodAttachment;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * The few facts of a local cluster description that the CLI needs to build the network: nodes,
 * namespace labels, pods (node, service account, labels, optional {@code status.podIP}) — and the
 * addressing plan that turns them into {@link NetworkAttachments}.
 *
 * <p><b>Seam:</b> this is a deliberately small reader so the CLI works on its own. When
 * {@code dev.tessera.common.local.ClusterDescription.load(path)} and its {@code plan(...)} land, replace
 * {@link #load} and {@link #plan} with them; nothing else in the CLI reads manifests.
 */
public record LocalManifests(List<Node> nodes, Map<String, Map<String, String>> namespaceLabels, List<Pod> pods) {

    /** Namespace (and pod) label that opts into the mesh. */
    public static final String MODE_LABEL = "tessera.dev/dataplane-mode";

    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());

    /** A Node manifest. */
    public record Node(String name) {}

    /** A Pod manifest. */
    public record Pod(String namespace, String name, String node, String serviceAccount, Map<String, String> labels,
            String ip) {
        public String key() {
            return namespace + "/" + name;
        }
    }

    public LocalManifests {
        nodes = List.copyOf(nodes);
        namespaceLabels = Map.copyOf(namespaceLabels);
        pods = List.copyOf(pods);
    }

    /** Reads a manifest file (multi-document YAML or JSON) or every *.yaml/*.yml/*.json of a folder. */
    public static LocalManifests load(Path path) throws IOException {
        requireNonNull(path, "path");
        List<Path> files;
        if (Files.isDirectory(path)) {
            try (Stream<Path> s = Files.list(path)) {
                files = s.filter(p -> p.toString().matches(".*\\.(ya?ml|json)$")).sorted().toList();
            }
        } else if (Files.isRegularFile(path)) {
            files = List.of(path);
        } else {
            throw new IOException("manifests: " + path + " does not exist (expected: a YAML file or a folder of them)");
        }
        var nodes = new ArrayList<Node>();
        var namespaces = new LinkedHashMap<String, Map<String, String>>();
        var pods = new ArrayList<Pod>();
        for (Path f : files) {
            try (var parser = YAML.getFactory().createParser(f.toFile())) {
                var it = YAML.readValues(parser, JsonNode.class);
                while (it.hasNext()) {
                    JsonNode doc = it.next();
                    if (doc == null || doc.isNull() || doc.isMissingNode()) {
                        continue;
                    }
                    String kind = doc.path("kind").asText("");
                    String name = doc.path("metadata").path("name").asText("");
                    if (kind.isEmpty()) {
                        continue;
                    }
                    if (List.of("Node", "Namespace", "Pod").contains(kind) && name.isEmpty()) {
                        throw new IOException(f + ": " + kind + " metadata.name: missing (expected: a name)");
                    }
                    switch (kind) {
                        case "Node" -> nodes.add(new Node(name));
                        case "Namespace" -> namespaces.put(name, labels(doc));
                        case "Pod" -> pods.add(pod(f, doc, name));
                        default -> { } // Services, policies: not the network's business
                    }
                }
            } catch (com.fasterxml.jackson.core.JacksonException e) {
                throw new IOException(f + ": not valid YAML: " + e.getOriginalMessage(), e);
            }
        }
        return new LocalManifests(nodes, namespaces, pods);
    }

    private static Pod pod(Path f, JsonNode doc, String name) throws IOException {
        String ns = doc.path("metadata").path("namespace").asText("default");
        String node = doc.path("spec").path("nodeName").asText("");
        if (node.isEmpty()) {
            throw new IOException(f + ": Pod " + ns + "/" + name + " spec.nodeName: missing (expected: a Node's name)");
        }
        String sa = doc.path("spec").path("serviceAccountName").asText("default");
        String ip = doc.path("status").path("podIP").asText("");
        return new Pod(ns, name, node, sa, labels(doc), ip.isEmpty() ? null : ip);
    }

    private static Map<String, String> labels(JsonNode doc) {
        var out = new LinkedHashMap<String, String>();
        doc.path("metadata").path("labels").fields().forEachRemaining(e -> out.put(e.getKey(), e.getValue().asText()));
        return out;
    }

    /** Whether a pod is enrolled: namespace labelled ambient and the pod not opted out. */
    public boolean meshed(Pod pod) {
        String nsMode = namespaceLabels.getOrDefault(pod.namespace(), Map.of()).get(MODE_LABEL);
        return "ambient".equals(nsMode) && !"none".equals(pod.labels().get(MODE_LABEL));
    }

    /** Whether the pod {@code namespace/name} is enrolled (false when unknown). */
    public boolean meshed(String namespace, String name) {
        return pods.stream().filter(p -> p.namespace().equals(namespace) && p.name().equals(name))
                .findFirst().map(this::meshed).orElse(false);
    }

    /**
     * The addressing plan: node i (1-based, manifest order) gets 198.18.0.i and pod CIDR 198.18.i.0/24;
     * its pods get .2, .3, ... in manifest order unless a pod sets {@code status.podIP} in that CIDR.
     */
    public NetworkAttachments plan(String cluster) {
        Names.checkCluster(cluster);
        if (nodes.isEmpty()) {
            throw new IllegalArgumentException("nodes: none (expected: at least one Node manifest)");
        }
        if (nodes.size() > 254) {
            throw new IllegalArgumentException("nodes: " + nodes.size() + " (expected: 1-254)");
        }
        var nodeAtt = new ArrayList<NodeAttachment>();
        var index = new LinkedHashMap<String, Integer>();
        for (int i = 0; i < nodes.size(); i++) {
            String n = nodes.get(i).name();
            if (index.put(n, i + 1) != null) {
                throw new IllegalArgumentException("nodes: duplicate node '" + n + "' (expected: unique names)");
            }
            nodeAtt.add(new NodeAttachment(n, "198.18.0." + (i + 1), "198.18." + (i + 1) + ".0/24",
                    Names.netnsPath(Names.nodeNetns(cluster, n)).toString()));
        }
        var used = new HashSet<String>();
        var keys = new HashSet<String>();
        for (Pod p : pods) {
            Integer i = index.get(p.node());
            if (i == null) {
                throw new IllegalArgumentException("pod " + p.key() + " spec.nodeName: '" + p.node()
                        + "' (expected: one of " + index.keySet() + ")");
            }
            if (!keys.add(p.key())) {
                throw new IllegalArgumentException("pods: duplicate pod '" + p.key() + "' (expected: unique names)");
            }
            if (p.ip() != null) {
                String prefix = "198.18." + i + ".";
                int host = p.ip().startsWith(prefix) ? parseHost(p.ip().substring(prefix.length())) : -1;
                if (host < 2 || host > 254 || !used.add(p.ip())) {
                    throw new IllegalArgumentException("pod " + p.key() + " status.podIP: " + p.ip()
                            + " (expected: an unused address " + prefix + "2-" + prefix + "254)");
                }
            }
        }
        var podAtt = new ArrayList<PodAttachment>();
        var next = new LinkedHashMap<String, Integer>();
        for (Pod p : pods) {
            int i = index.get(p.node());
            String ip = p.ip();
            if (ip == null) {
                int host = next.getOrDefault(p.node(), 2);
                while (host <= 254 && used.contains("198.18." + i + "." + host)) {
                    host++;
                }
                if (host > 254) {
                    throw new IllegalArgumentException("node " + p.node() + ": more than 253 pods (expected: at most 253)");
                }
                ip = "198.18." + i + "." + host;
                used.add(ip);
                next.put(p.node(), host + 1);
            }
            podAtt.add(new PodAttachment(p.namespace(), p.name(), p.node(), ip,
                    Names.netnsPath(Names.podNetns(cluster, p.namespace(), p.name())).toString()));
        }
        return new NetworkAttachments(cluster, nodeAtt, podAtt);
    }

    private static int parseHost(String s) {
        try {
            return Integer.parseInt(s);
        } catch (NumberFormatException e) {
            return -1;
        }
    }
}
