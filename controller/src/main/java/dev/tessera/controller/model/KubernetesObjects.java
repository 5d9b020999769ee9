package dev.tessera.controller.model;

import dev.tessera.api.identity.SpiffeId;
import dev.tessera.api.model.NodeInfo;
import dev.tessera.api.model.Workload;
import dev.tessera.kube.discovery.WorkloadNames;
import dev.tessera.localcluster.ClusterDescription;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.NodeAddress;
import io.fabric8.kubernetes.api.model.Pod;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * Maps Kubernetes objects to the mesh model with the same enrollment rules as local mode
 * ({@link ClusterDescription#meshed(Map, Map)}, {@link ClusterDescription#serviceAccount(Pod)}). Reads
 * the objects only: informer caches are shared and never modified.
 */
public final class KubernetesObjects {

    private static final Pattern IPV4 = Pattern.compile("\\d{1,3}(\\.\\d{1,3}){3}");

    private KubernetesObjects() {}

    /**
     * The workload of a pod, or empty while the pod is not part of the data path: not {@code Running},
     * not scheduled, without an IPv4 {@code status.podIP}, or on the host network (it shares the node's
     * address and network namespace, so it can be neither captured nor addressed as a pod).
     *
     * The workload name comes from the pod's owner references ({@link WorkloadNames}).
     *
     * @param namespaceLabels the labels of the pod's namespace (null when the namespace is unknown)
     */
    public static Optional<Workload> workload(Pod pod, Map<String, String> namespaceLabels, String trustDomain) {
        if (pod.getSpec() == null || pod.getStatus() == null || !"Running".equals(pod.getStatus().getPhase())
                || Boolean.TRUE.equals(pod.getSpec().getHostNetwork())) {
            return Optional.empty();
        }
        String node = pod.getSpec().getNodeName();
        Optional<InetAddress> ip = ipv4(pod.getStatus().getPodIP());
        if (node == null || node.isEmpty() || ip.isEmpty()) {
            return Optional.empty();
        }
        String ns = pod.getMetadata().getNamespace();
        String sa = ClusterDescription.serviceAccount(pod);
        Map<String, String> labels = pod.getMetadata().getLabels() == null ? Map.of() : pod.getMetadata().getLabels();
        return Optional.of(new Workload(ns, pod.getMetadata().getName(), node, ip.get(), sa, labels,
                ClusterDescription.meshed(namespaceLabels, labels), new SpiffeId(trustDomain, ns, sa),
                WorkloadNames.of(pod).name()));
    }

    /**
     * The node, or empty while it has no {@code InternalIP} address. Its pod CIDR is
     * {@code spec.podCIDR}, or empty text when the cluster does not allocate per-node CIDRs.
     */
    public static Optional<NodeInfo> node(Node node) {
        if (node.getStatus() == null || node.getStatus().getAddresses() == null) {
            return Optional.empty();
        }
        for (NodeAddress a : node.getStatus().getAddresses()) {
            if ("InternalIP".equals(a.getType())) {
                Optional<InetAddress> ip = ipv4(a.getAddress());
                if (ip.isPresent()) {
                    String cidr = node.getSpec() == null || node.getSpec().getPodCIDR() == null ? ""
                            : node.getSpec().getPodCIDR();
                    return Optional.of(new NodeInfo(node.getMetadata().getName(), ip.get(), cidr));
                }
            }
        }
        return Optional.empty();
    }

    /** A literal IPv4 address (never a DNS lookup), or empty. */
    static Optional<InetAddress> ipv4(String text) {
        if (text == null || !IPV4.matcher(text).matches()) {
            return Optional.empty();
        }
        try {
            return Optional.of(InetAddress.getByName(text));
        } catch (UnknownHostException e) {
            return Optional.empty(); // an octet above 255
        }
    }
}
