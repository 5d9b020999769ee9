package dev.tessera.api.model;

import static java.util.Objects.requireNonNull;

import dev.tessera.api.identity.SpiffeId;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * One pod as the mesh sees it. Immutable; part of a {@link MeshSnapshot}.
 *
 * @param namespace the pod's namespace
 * @param name the pod's name
 * @param node the node the pod is scheduled on
 * @param ip the pod's IP address (its primary one: Kubernetes' {@code status.podIP})
 * @param serviceAccount the pod's service account ({@code default} when the manifest has none)
 * @param labels the pod's labels
 * @param meshed whether the pod is enrolled: its namespace has {@code tessera.dev/dataplane-mode=ambient}
 *     and the pod itself is not labelled {@code tessera.dev/dataplane-mode=none}
 * @param identity the pod's SPIFFE identity (derived from trust domain, namespace and service account)
 * @param workloadName the workload the pod belongs to, as Istio names it: the Deployment, StatefulSet,
 *     DaemonSet, Job or CronJob that owns it (see {@code dev.tessera.kube.discovery.WorkloadNames}), else the
 *     pod's own name. The {@code source_workload}/{@code destination_workload} metric label.
 */
public record Workload(
        String namespace,
        String name,
        String node,
        InetAddress ip,
        String serviceAccount,
        Map<String, String> labels,
        boolean meshed,
        SpiffeId identity,
        String workloadName,
        List<InetAddress> otherIps) {

    /** Label that names the canonical service ({@link #canonicalService()}), Istio's. */
    public static final String CANONICAL_NAME_LABEL = "service.istio.io/canonical-name";
    /** Label that names the canonical revision ({@link #canonicalRevision()}), Istio's. */
    public static final String CANONICAL_REVISION_LABEL = "service.istio.io/canonical-revision";

    public Workload {
        requireNonNull(namespace, "namespace");
        requireNonNull(name, "name");
        requireNonNull(node, "node");
        requireNonNull(ip, "ip");
        requireNonNull(serviceAccount, "serviceAccount");
        labels = Map.copyOf(requireNonNull(labels, "labels"));
        requireNonNull(identity, "identity");
        requireNonNull(workloadName, "workloadName");
        if (workloadName.isEmpty()) {
            throw new IllegalArgumentException("workloadName: empty (expected: the owner's or the pod's name)");
        }
        otherIps = List.copyOf(requireNonNull(otherIps, "otherIps"));
        if (otherIps.contains(ip)) {
            throw new IllegalArgumentException("otherIps: " + ip.getHostAddress()
                    + " (expected: addresses other than ip)");
        }
    }

    /** A single-stack pod: no other addresses. */
    public Workload(String namespace, String name, String node, InetAddress ip, String serviceAccount,
            Map<String, String> labels, boolean meshed, SpiffeId identity, String workloadName) {
        this(namespace, name, node, ip, serviceAccount, labels, meshed, identity, workloadName, List.of());
    }

    /** A pod that is its own workload (no owner known): {@code workloadName} is the pod's name. */
    public Workload(String namespace, String name, String node, InetAddress ip, String serviceAccount,
            Map<String, String> labels, boolean meshed, SpiffeId identity) {
        this(namespace, name, node, ip, serviceAccount, labels, meshed, identity, name);
    }

    /** This workload with another owner-derived name. */
    public Workload withWorkloadName(String owner) {
        return new Workload(namespace, name, node, ip, serviceAccount, labels, meshed, identity, owner, otherIps);
    }

    /** This workload with {@code others} as its other addresses. */
    public Workload withOtherIps(List<InetAddress> others) {
        return new Workload(namespace, name, node, ip, serviceAccount, labels, meshed, identity, workloadName, others);
    }

    /** Every address of the pod: {@link #ip()} first, then {@link #otherIps()}. */
    public List<InetAddress> addresses() {
        if (otherIps.isEmpty()) {
            return List.of(ip);
        }
        var all = new ArrayList<InetAddress>(1 + otherIps.size());
        all.add(ip);
        all.addAll(otherIps);
        return all;
    }

    /**
     * Istio's canonical service: the {@value #CANONICAL_NAME_LABEL} label, else {@code app.kubernetes.io/name},
     * else {@code app}, else the workload name (istio {@code pkg/kube/labels.CanonicalService}).
     */
    public String canonicalService() {
        for (String key : new String[] {CANONICAL_NAME_LABEL, "app.kubernetes.io/name", "app"}) {
            String v = labels.get(key);
            if (v != null && !v.isEmpty()) {
                return v;
            }
        }
        return workloadName;
    }

    /**
     * Istio's canonical revision: the {@value #CANONICAL_REVISION_LABEL} label, else
     * {@code app.kubernetes.io/version}, else {@code version}, else {@code latest}.
     */
    public String canonicalRevision() {
        for (String key : new String[] {CANONICAL_REVISION_LABEL, "app.kubernetes.io/version", "version"}) {
            String v = labels.get(key);
            if (v != null && !v.isEmpty()) {
                return v;
            }
        }
        return "latest";
    }

    /**
     * What an agent on another node needs of this pod: everything but the labels, of which only the two
     * Istio canonical ones are kept, holding the values {@link #canonicalService()} and
     * {@link #canonicalRevision()} resolve to (and only when they differ from the fallbacks, the workload
     * name and {@code latest}). Routing needs the address, node and meshed flag, the peer check the
     * identity, and the source side's metrics and access log the names and the canonical service and
     * revision; pod selectors (policy, PeerAuthentication) only ever select pods of the agent's own node,
     * which it receives in full. So the view answers every accessor the same as this pod, except
     * {@link #labels()}.
     */
    public Workload routingView() {
        String service = canonicalService();
        String revision = canonicalRevision();
        Map<String, String> kept;
        if (service.equals(workloadName)) {
            kept = revision.equals("latest") ? Map.of() : Map.of(CANONICAL_REVISION_LABEL, revision);
        } else {
            kept = revision.equals("latest") ? Map.of(CANONICAL_NAME_LABEL, service)
                    : Map.of(CANONICAL_NAME_LABEL, service, CANONICAL_REVISION_LABEL, revision);
        }
        if (kept.equals(labels)) {
            return this;
        }
        return new Workload(namespace, name, node, ip, serviceAccount, kept, meshed, identity, workloadName, otherIps);
    }

    /** {@code namespace/name}. */
    public String key() {
        return namespace + "/" + name;
    }
}
