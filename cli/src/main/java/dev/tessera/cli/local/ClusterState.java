package dev.tessera.cli.local;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.Map;

/**
 * What {@code tessera local up} made, recorded in {@code <state-dir>/state.json} before anything is
 * created, so that {@code down} (or a rollback after a crash) removes exactly that.
 *
 * @param name the cluster name
 * @param manifests absolute path of the manifests (file or folder) the cluster was made from
 * @param fabricNetns the namespace holding the bridge that links the nodes
 * @param netns every network namespace of the cluster, in creation order
 * @param fabricVeths node name -> its veth's name inside the fabric namespace (the node side is {@code eth0})
 * @param podVeths pod key (ns/name) -> its veth's name inside the node namespace (the pod side is {@code eth0})
 * @param agentCpus node name -> the CPU list its agent runs on (its {@code tessera.dev/local-cpus} annotation at
 *     {@code up}); nodes without one are absent (empty in state files written before it existed)
 */
public record ClusterState(String name, String manifests, String fabricNetns, List<String> netns,
        Map<String, String> fabricVeths, Map<String, String> podVeths, Map<String, String> agentCpus) {

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    public ClusterState {
        netns = List.copyOf(netns);
        fabricVeths = Map.copyOf(fabricVeths);
        podVeths = Map.copyOf(podVeths);
        agentCpus = agentCpus == null ? Map.of() : Map.copyOf(agentCpus);
    }

    static ClusterState read(Path file) throws IOException {
        return JSON.readValue(file.toFile(), ClusterState.class);
    }

    void write(Path file) throws IOException {
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        JSON.writeValue(tmp.toFile(), this);
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }
}
