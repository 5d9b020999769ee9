package dev.tessera.localcluster;

import static java.util.Objects.requireNonNull;

import dev.tessera.api.identity.SpiffeId;
import dev.tessera.api.model.MeshSnapshot;
import dev.tessera.api.model.NodeInfo;
import dev.tessera.api.model.Workload;
import dev.tessera.api.net.Ipv4Cidr;
import dev.tessera.api.netns.NetworkAttachments.NodeAttachment;
import dev.tessera.api.netns.NetworkAttachments.PodAttachment;
import dev.tessera.api.netns.DualStack;
import dev.tessera.api.netns.NetworkAttachments;
import dev.tessera.kube.discovery.WorkloadNames;
import io.fabric8.kubernetes.api.model.Pod;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Turns a local cluster description plus its network attachments into the mesh state agents use.
 */
public final class LocalSnapshots {

    private static final Logger log = LoggerFactory.getLogger(LocalSnapshots.class);

    /**
     * A snapshot and what had to be left out of it.
     *
     * @param snapshot the mesh state
     * @param warnings one line per pod left out (no network attachment, or attached on another node) and per
     *     service port left out
     */
    public record Conversion(MeshSnapshot snapshot, List<String> warnings) {
        public Conversion {
            requireNonNull(snapshot, "snapshot");
            warnings = List.copyOf(warnings);
        }
    }

    /**
     * The workloads of the previous conversion by pod object, so that a re-conversion after an edit builds
     * workloads only for the pods of the edited files ({@link LocalClusterWatcher} keeps the objects of unchanged
     * files): a pod's workload is reused when its address and enrollment are unchanged, everything else of it
     * coming from the (immutable) pod object itself. Not thread-safe.
     */
    public static final class Memo {
        private Map<Pod, Workload> workloads = new IdentityHashMap<>();
        private String trustDomain;

        /** A memo remembering nothing yet. */
        public Memo() {}
    }

    private LocalSnapshots() {}

    /** {@link #convert} that logs the warnings (one line each) and returns the snapshot. */
    public static MeshSnapshot toSnapshot(ClusterDescription cluster, NetworkAttachments network, String trustDomain,
            long version) {
        Conversion c = convert(cluster, network, trustDomain, version);
        c.warnings().forEach(w -> log.warn("{}", w));
        return c.snapshot();
    }

    /**
     * One workload per pod that has a network attachment on its scheduled node; nodes come from the
     * attachments. Meshed pods follow {@link ClusterDescription#meshed(Pod)}; identities are
     * {@code spiffe://<trustDomain>/ns/<namespace>/sa/<serviceAccount>}. Services follow
     * {@link LocalServices}: VIPs from {@code spec.clusterIP} or {@link LocalServiceVips}, endpoints from
     * the EndpointSlices given or, when a Service has none, from its selector over the pods.
     */
    public static Conversion convert(ClusterDescription cluster, NetworkAttachments network, String trustDomain,
            long version) {
        return convert(cluster, network, trustDomain, version, new Memo());
    }

    /** As {@link #convert(ClusterDescription, NetworkAttachments, String, long)}, reusing the workloads in {@code memo}. */
    public static Conversion convert(ClusterDescription cluster, NetworkAttachments network, String trustDomain,
            long version, Memo memo) {
        requireNonNull(memo, "memo");
        requireNonNull(cluster, "cluster");
        requireNonNull(network, "network");
        requireNonNull(trustDomain, "trustDomain");
        var nodes = new ArrayList<NodeInfo>();
        for (NodeAttachment n : network.nodes()) {
            nodes.add(new NodeInfo(n.name(), Ipv4Cidr.toInetAddress(Ipv4Cidr.parseAddress(n.ip())), n.podCidr()));
        }
        var workloads = new ArrayList<Workload>();
        var warnings = new ArrayList<String>();
        // one index instead of network.pod() per pod: a linear search per pod took minutes at 50,000 pods
        Map<String, PodAttachment> attachments = new HashMap<>();
        network.pods().forEach(p -> attachments.putIfAbsent(p.key(), p));
        Map<Pod, Workload> previous = trustDomain.equals(memo.trustDomain) ? memo.workloads : Map.of();
        Map<Pod, Workload> built = new IdentityHashMap<>();
        for (Pod pod : cluster.pods()) {
            String ns = pod.getMetadata().getNamespace();
            String name = pod.getMetadata().getName();
            String node = pod.getSpec().getNodeName();
            PodAttachment a = attachments.get(ns + "/" + name);
            if (a == null) {
                warnings.add("Pod " + ns + "/" + name + ": no network attachment in " + network.cluster()
                        + "'s network (expected: re-run `tessera local up` after adding pods); left out");
                continue;
            }
            if (!a.node().equals(node)) {
                warnings.add("Pod " + ns + "/" + name + ": scheduled on " + node + " but attached on " + a.node()
                        + " (expected: re-run `tessera local up` after moving pods); left out");
                continue;
            }
            var ip = Ipv4Cidr.toInetAddress(Ipv4Cidr.parseAddress(a.ip()));
            List<java.net.InetAddress> others = network.dualStack() ? List.of(DualStack.inet6Of(a.ip())) : List.of();
            boolean meshed = cluster.meshed(pod);
            Workload w = previous.get(pod);
            if (w == null || !w.ip().equals(ip) || !w.otherIps().equals(others) || w.meshed() != meshed) {
                String sa = ClusterDescription.serviceAccount(pod);
                Map<String, String> labels = pod.getMetadata().getLabels() == null ? Map.of() : pod.getMetadata().getLabels();
                w = new Workload(ns, name, node, ip, sa, labels, meshed, new SpiffeId(trustDomain, ns, sa),
                        WorkloadNames.of(pod).name(), others);
            }
            built.put(pod, w);
            workloads.add(w);
        }
        memo.workloads = built;
        memo.trustDomain = trustDomain;
        var services = LocalServices.services(cluster, workloads, warnings);
        return new Conversion(new MeshSnapshot(version, nodes, workloads, services), warnings);
    }
}
