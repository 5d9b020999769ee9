package dev.tessera.api.model;

import static java.util.Objects.requireNonNull;

import java.net.InetAddress;

/**
 * A node of the cluster.
 *
 * @param name the node name
 * @param ip the node's address: where its agent listens for HBONE (15008)
 * @param podCidr the node's pod CIDR, e.g. {@code 198.18.1.0/24}
 */
public record NodeInfo(String name, InetAddress ip, String podCidr) {
    public NodeInfo {
        requireNonNull(name, "name");
        requireNonNull(ip, "ip");
        requireNonNull(podCidr, "podCidr");
    }
}
