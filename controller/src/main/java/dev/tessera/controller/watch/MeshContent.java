package dev.tessera.controller.watch;

import dev.tessera.api.model.NodeInfo;
import dev.tessera.api.model.Service;
import dev.tessera.api.model.Workload;
import dev.tessera.api.policy.AuthorizationPolicy;
import dev.tessera.api.policy.PeerAuthentication;
import dev.tessera.api.policy.Translation;
import dev.tessera.api.push.MeshConfig;
import java.util.Comparator;
import java.util.List;

/**
 * What a {@link MeshConfig} says, without its version, in a stable order: two sources agree when their
 * contents are equal, and a source publishes a new version only when the content changed.
 *
 * @param nodes nodes by name
 * @param workloads workloads by {@code namespace/name}
 * @param services services by {@code namespace/name}
 * @param authorizationPolicies translations by {@code namespace/name}
 * @param peerAuthentications translations by {@code namespace/name}
 */
public record MeshContent(List<NodeInfo> nodes, List<Workload> workloads, List<Service> services,
        List<Translation<AuthorizationPolicy>> authorizationPolicies,
        List<Translation<PeerAuthentication>> peerAuthentications) {

    /** The content of a config. */
    public static MeshContent of(MeshConfig c) {
        return new MeshContent(
                c.mesh().nodes().values().stream().sorted(Comparator.comparing(NodeInfo::name)).toList(),
                c.mesh().workloads().stream().sorted(Comparator.comparing(Workload::key)).toList(),
                c.mesh().services().stream().sorted(Comparator.comparing(Service::key)).toList(),
                c.policies().authorizationPolicies().stream().sorted(Comparator.comparing(Translation::key)).toList(),
                c.policies().peerAuthentications().stream().sorted(Comparator.comparing(Translation::key)).toList());
    }
}
