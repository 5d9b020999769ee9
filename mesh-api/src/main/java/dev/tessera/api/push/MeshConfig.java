package dev.tessera.api.push;

import static java.util.Objects.requireNonNull;

import dev.tessera.api.model.MeshSnapshot;
import dev.tessera.api.policy.PolicySet;

/**
 * Everything the controller distributes to the agents at one version: the mesh (nodes, workloads,
 * services) and the translated policies. Immutable; {@code version} increases with every change and
 * equals the versions of both parts.
 *
 * @param version the version of this state
 * @param mesh nodes, workloads and services
 * @param policies the AuthorizationPolicies and PeerAuthentications, valid or not (invalid ones carry their
 *     errors and are enforced fail-closed)
 */
public record MeshConfig(long version, MeshSnapshot mesh, PolicySet policies) {

    /** Nothing known yet. */
    public static final MeshConfig EMPTY = new MeshConfig(0, MeshSnapshot.EMPTY, PolicySet.EMPTY);

    public MeshConfig {
        requireNonNull(mesh, "mesh");
        requireNonNull(policies, "policies");
    }
}
