package dev.tessera.api.model;

import static java.util.Objects.requireNonNull;

import dev.tessera.api.identity.SpiffeId;
import java.net.InetAddress;
import java.util.Map;

/**
 * One pod as the mesh sees it. Immutable; part of a {@link MeshSnapshot}.
 *
 * @param namespace the pod's namespace
 * @param name the pod's name
 * @param node the node the pod is scheduled on
 * @param ip the pod's IP address
 * @param serviceAccount the pod's service account ({@code default} when the manifest has none)
 * @param labels the pod's labels
 * @param meshed whether the pod is enrolled: its namespace has {@code tessera.dev/dataplane-mode=ambient}
 *     and the pod itself is not labelled {@code tessera.dev/dataplane-mode=none}
 * @param identity the pod's SPIFFE identity (derived from trust domain, namespace and service account)
 */
public record Workload(
        String namespace,
        String name,
        String node,
        InetAddress ip,
        String serviceAccount,
        Map<String, String> labels,
        boolean meshed,
        SpiffeId identity) {

    public Workload {
        requireNonNull(namespace, "namespace");
        requireNonNull(name, "name");
        requireNonNull(node, "node");
        requireNonNull(ip, "ip");
        requireNonNull(serviceAccount, "serviceAccount");
        labels = Map.copyOf(requireNonNull(labels, "labels"));
        requireNonNull(identity, "identity");
    }

    /** {@code namespace/name}. */
    public String key() {
        return namespace + "/" + name;
    }
}
