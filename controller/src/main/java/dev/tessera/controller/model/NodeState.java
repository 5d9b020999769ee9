package dev.tessera.controller.model;

import static java.util.Objects.requireNonNull;

import dev.tessera.api.model.MeshSnapshot;
import dev.tessera.api.model.Workload;
import java.util.List;

/**
 * What one node's agent needs from a mesh snapshot: the meshed workloads it runs (whose traffic it
 * captures and whose identities it may hold) and the whole mesh for resolving peers.
 *
 * @param version the snapshot version
 * @param node the node name
 * @param localWorkloads the meshed workloads scheduled on that node, by {@code namespace/name}
 * @param mesh the whole snapshot
 */
public record NodeState(long version, String node, List<Workload> localWorkloads, MeshSnapshot mesh) {
    public NodeState {
        requireNonNull(node, "node");
        localWorkloads = List.copyOf(localWorkloads);
        requireNonNull(mesh, "mesh");
    }

    /** The state of {@code node} in {@code snapshot}. */
    public static NodeState of(MeshSnapshot snapshot, String node) {
        List<Workload> local = snapshot.workloadsOnNode(node).stream().filter(Workload::meshed)
                .sorted(java.util.Comparator.comparing(Workload::key)).toList();
        return new NodeState(snapshot.version(), node, local, snapshot);
    }

    /** The local workload keys ({@code namespace/name}), sorted. */
    public List<String> workloadKeys() {
        return localWorkloads.stream().map(Workload::key).toList();
    }
}
