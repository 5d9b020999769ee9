package dev.tessera.localcluster;

import static java.util.Objects.requireNonNull;

import dev.tessera.api.net.Ipv4Cidr;
import dev.tessera.api.netns.NetworkAttachments.NodeAttachment;
import dev.tessera.api.netns.NetworkAttachments.PodAttachment;
import dev.tessera.api.netns.NetworkAttachments;
import dev.tessera.localcluster.ClusterDescription.NodeAddress;
import io.fabric8.kubernetes.api.model.Pod;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Decides node and pod addresses for {@code tessera local up}: explicit {@code status.podIP} first,
 * then addresses kept from a previous plan, then the lowest free address from {@code .2} up for each
 * remaining pod in namespace/name order. The same inputs always give the same plan.
 */
final class AddressPlanner {

    /** Pods start at .2: .0 is the network and .1 is left unused by convention. */
    private static final int FIRST_POD_OFFSET = 2;

    private AddressPlanner() {}

    static NetworkAttachments plan(ClusterDescription cluster, String clusterName, NetnsNaming naming,
            NetworkAttachments previous) {
        requireNonNull(clusterName, "clusterName");
        requireNonNull(naming, "naming");
        if (clusterName.isEmpty() || clusterName.contains("/") || clusterName.contains("_")) {
            throw new IllegalArgumentException("clusterName: '" + clusterName
                    + "' (expected: a non-empty name without '/' or '_')");
        }
        var nodes = new ArrayList<NodeAttachment>();
        for (NodeAddress a : cluster.nodeAddresses().values().stream()
                .sorted(Comparator.comparingInt(NodeAddress::index)).toList()) {
            nodes.add(new NodeAttachment(a.node(), a.ip(), a.podCidr().toString(), naming.node(clusterName, a.node())));
        }

        // each pod's key built once: a comparator building it per comparison was most of a re-plan at 50,000 pods
        List<Keyed> pods = cluster.pods().stream().map(p -> new Keyed(key(p), p))
                .sorted(Comparator.comparing(Keyed::key)).toList();
        Map<String, Integer> ips = new HashMap<>();
        Map<String, Set<Integer>> used = new HashMap<>(); // node -> taken addresses
        for (Keyed k : pods) { // explicit addresses win
            Pod pod = k.pod();
            String podIp = pod.getStatus() == null ? null : pod.getStatus().getPodIP();
            if (podIp != null && !podIp.isEmpty()) {
                int ip = Ipv4Cidr.parseAddress(podIp);
                ips.put(k.key(), ip);
                used.computeIfAbsent(pod.getSpec().getNodeName(), n -> new HashSet<>()).add(ip);
            }
        }
        if (previous != null) { // then stability: same pod, same node, address still free and in range
            Map<String, PodAttachment> before = new HashMap<>(); // indexed once: a search per pod is quadratic
            previous.pods().forEach(p -> before.putIfAbsent(p.key(), p));
            for (Keyed k : pods) {
                String node = k.pod().getSpec().getNodeName();
                if (ips.containsKey(k.key())) {
                    continue;
                }
                Ipv4Cidr cidr = cluster.nodeAddress(node).orElseThrow().podCidr();
                java.util.Optional.ofNullable(before.get(k.key()))
                        .filter(p -> p.node().equals(node))
                        .map(p -> Ipv4Cidr.parseAddress(p.ip()))
                        .filter(ip -> usable(cidr, ip))
                        .filter(ip -> !used.computeIfAbsent(node, n -> new HashSet<>()).contains(ip))
                        .ifPresent(ip -> {
                            ips.put(k.key(), ip);
                            used.get(node).add(ip);
                        });
            }
        }
        var attachments = new ArrayList<PodAttachment>();
        for (Keyed k : pods) {
            Pod pod = k.pod();
            String node = pod.getSpec().getNodeName();
            Integer ip = ips.get(k.key());
            if (ip == null) {
                ip = next(cluster.nodeAddress(node).orElseThrow().podCidr(), used.computeIfAbsent(node, n -> new HashSet<>()), node);
            }
            String ns = pod.getMetadata().getNamespace();
            String name = pod.getMetadata().getName();
            attachments.add(new PodAttachment(ns, name, node, Ipv4Cidr.format(ip), naming.pod(clusterName, ns, name)));
        }
        return new NetworkAttachments(clusterName, nodes, attachments, previous != null && previous.dualStack());
    }

    private record Keyed(String key, Pod pod) {}

    private static boolean usable(Ipv4Cidr cidr, int ip) {
        return cidr.contains(ip) && ip != cidr.network() && ip != cidr.broadcast();
    }

    private static int next(Ipv4Cidr cidr, Set<Integer> used, String node) {
        for (long offset = FIRST_POD_OFFSET; offset < cidr.size() - 1; offset++) {
            int ip = cidr.address(offset);
            if (used.add(ip)) {
                return ip;
            }
        }
        throw new InvalidClusterException("Node " + node + ": pod CIDR " + cidr + " is full (expected: at most "
                + Math.max(0, cidr.size() - 3) + " pods on it)");
    }

    private static String key(Pod pod) {
        return pod.getMetadata().getNamespace() + "/" + pod.getMetadata().getName();
    }
}
