package dev.tessera.common.local;

import static java.util.Objects.requireNonNull;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.Optional;

/**
 * What the local cluster's "CNI and container runtime" decided: each node's address and network
 * namespace, each pod's IP and network namespace. Written by {@code tessera local up} to
 * {@code <run-dir>/network.json}, read by the agents in local mode (on a real node the same facts come
 * from the pod status and the container runtime).
 */
public record NetworkAttachments(String cluster, List<NodeAttachment> nodes, List<PodAttachment> pods) {

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    public NetworkAttachments {
        requireNonNull(cluster, "cluster");
        nodes = List.copyOf(requireNonNull(nodes, "nodes"));
        pods = List.copyOf(requireNonNull(pods, "pods"));
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
        return JSON.readValue(file.toFile(), NetworkAttachments.class);
    }

    /** Writes atomically (temp file + rename) so a reader never sees half a file. */
    public void write(Path file) throws IOException {
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        JSON.writeValue(tmp.toFile(), this);
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }
}
