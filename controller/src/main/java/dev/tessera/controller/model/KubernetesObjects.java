package dev.tessera.controller.model;

import dev.tessera.api.identity.SpiffeId;
import dev.tessera.api.model.NodeInfo;
import dev.tessera.api.model.Workload;
import dev.tessera.kube.discovery.ServiceTranslator.Addresses;
import dev.tessera.kube.discovery.WorkloadNames;
import dev.tessera.localcluster.ClusterDescription;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.NodeAddress;
import io.fabric8.kubernetes.api.model.Pod;
import java.net.InetAddress;
import java.util.Map;
import java.util.Optional;

/**
 * Maps Kubernetes objects to the mesh model with the same enrollment rules as local mode
 * ({@link ClusterDescription#meshed(Map, Map)}, {@link ClusterDescription#serviceAccount(Pod)}). Reads
 * the objects only: informer caches are shared and never modified.
 */
public final class KubernetesObjects {

    private KubernetesObjects() {}

    /**
     * The workload of a pod, or empty while the pod is not part of the data path: not {@code Running},
     * not scheduled, without a {@code status.podIP}, or on the host network (it shares the node's
     * address and network namespace, so it can be neither captured nor addressed as a pod). A dual-stack
     * pod's other {@code status.podIPs} become {@link Workload#otherIps()}.
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
        Optional<InetAddress> ip = Addresses.literal(pod.getStatus().getPodIP());
        if (node == null || node.isEmpty() || ip.isEmpty()) {
            return Optional.empty();
        }
        var others = new java.util.ArrayList<InetAddress>(1);
        if (pod.getStatus().getPodIPs() != null) {
            for (var p : pod.getStatus().getPodIPs()) {
                Addresses.literal(p.getIp()).filter(a -> !a.equals(ip.get()) && !others.contains(a)).ifPresent(others::add);
            }
        }
        String ns = pod.getMetadata().getNamespace();
        String sa = ClusterDescription.serviceAccount(pod);
        Map<String, String> labels = pod.getMetadata().getLabels() == null ? Map.of() : pod.getMetadata().getLabels();
        return Optional.of(new Workload(ns, pod.getMetadata().getName(), node, ip.get(), sa, labels,
                ClusterDescription.meshed(namespaceLabels, labels), new SpiffeId(trustDomain, ns, sa),
                WorkloadNames.of(pod).name(), others));
    }

    /**
     * The node, or empty while it has no {@code InternalIP} address (its IPv4 one, else its IPv6 one: the
     * address agents reach each other's tunnel port on). Its pod CIDR is
     * {@code spec.podCIDR}, or empty text when the cluster does not allocate per-node CIDRs.
     */
    public static Optional<NodeInfo> node(Node node) {
        if (node.getStatus() == null || node.getStatus().getAddresses() == null) {
            return Optional.empty();
        }
        InetAddress v6 = null;
        for (NodeAddress a : node.getStatus().getAddresses()) {
            if ("InternalIP".equals(a.getType())) {
                Optional<InetAddress> ip = Addresses.literal(a.getAddress());
                if (ip.isPresent() && ip.get() instanceof java.net.Inet4Address) {
                    return Optional.of(new NodeInfo(node.getMetadata().getName(), ip.get(), podCidr(node)));
                }
                if (ip.isPresent() && v6 == null) {
                    v6 = ip.get();
                }
            }
        }
        return v6 == null ? Optional.empty() : Optional.of(new NodeInfo(node.getMetadata().getName(), v6, podCidr(node)));
    }

    private static String podCidr(Node node) {
        return node.getSpec() == null || node.getSpec().getPodCIDR() == null ? "" : node.getSpec().getPodCIDR();
    }
}
