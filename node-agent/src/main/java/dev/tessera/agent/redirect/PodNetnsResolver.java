package dev.tessera.agent.redirect;

import dev.tessera.api.model.Workload;
import java.nio.file.Path;
import java.util.Optional;

/**
 * Finds the network namespace of a local pod. In local mode it comes from the cluster's
 * {@code network.json}; on a real node from the container runtime's layout (install issue).
 */
@FunctionalInterface
public interface PodNetnsResolver {

    /** The pod's network namespace file, or empty when the pod has none (yet) on this node. */
    Optional<Path> netnsOf(Workload workload);
}
