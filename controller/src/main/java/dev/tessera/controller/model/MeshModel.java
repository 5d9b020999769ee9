package dev.tessera.controller.model;

import static java.util.Objects.requireNonNull;

import dev.tessera.api.model.MeshSnapshot;
import dev.tessera.api.model.NodeInfo;
import dev.tessera.api.model.Service;
import dev.tessera.api.model.Workload;
import dev.tessera.api.policy.PolicySet;
import dev.tessera.api.push.MeshConfig;
import dev.tessera.kube.discovery.ServiceTranslator;
import io.fabric8.kubernetes.api.model.HasMetadata;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The controller's working state between reconciles: the current workload of every pod key, every node,
 * every service and the translated policies, from which immutable {@link MeshConfig}s are built.
 * Confined to the reconcile thread.
 */
public final class MeshModel {

    private static final Logger log = LoggerFactory.getLogger(MeshModel.class);

    private final Map<String, Workload> workloads = new TreeMap<>();
    private final Map<String, NodeInfo> nodes = new TreeMap<>();
    private final Map<String, Service> services = new TreeMap<>();
    private PolicySet policies = PolicySet.EMPTY;
    private long version;
    /** The last snapshot's mesh while nothing was left out of it (then the next one is a patch of it), else null. */
    private MeshSnapshot last;
    private final java.util.Set<String> changedWorkloads = new HashSet<>();
    private final java.util.Set<String> changedNodes = new HashSet<>();
    private final java.util.Set<String> changedServices = new HashSet<>();

    /** Sets or removes (null) the workload of a pod key; true when that changed anything. */
    public boolean putWorkload(String key, Workload workload) {
        requireNonNull(key, "key");
        Workload old = workload == null ? workloads.remove(key) : workloads.put(key, workload);
        return changed(changedWorkloads, key, old, workload);
    }

    /** Sets or removes (null) a node; true when that changed anything. */
    public boolean putNode(String name, NodeInfo node) {
        requireNonNull(name, "name");
        NodeInfo old = node == null ? nodes.remove(name) : nodes.put(name, node);
        return changed(changedNodes, name, old, node);
    }

    /** Sets or removes (null) a service by {@code namespace/name}; true when that changed anything. */
    public boolean putService(String key, Service service) {
        requireNonNull(key, "key");
        Service old = service == null ? services.remove(key) : services.put(key, service);
        return changed(changedServices, key, old, service);
    }

    /** Replaces the policies with the translation of {@code objects}; true when the translation changed. */
    public boolean setPolicies(Collection<? extends HasMetadata> objects) {
        PolicySet next = dev.tessera.kube.policy.PolicyTranslator.translate(version, objects);
        boolean changed = !next.authorizationPolicies().equals(policies.authorizationPolicies())
                || !next.peerAuthentications().equals(policies.peerAuthentications());
        policies = next;
        return changed;
    }

    private static boolean changed(java.util.Set<String> changes, String key, Object old, Object now) {
        if (Objects.equals(old, now)) {
            return false;
        }
        changes.add(key);
        return true;
    }

    /**
     * A new state with the next version. Should two pods claim one IP (an address reused before the old
     * pod's deletion was seen), the first by {@code namespace/name} is kept and the other left out; a
     * service VIP that is a pod IP or another service's VIP is left out likewise.
     *
     * <p>While the previous state left nothing out, the new one is that state patched with the objects changed since
     * ({@link MeshSnapshot#patch}): one pod's change costs a copy of the indexes, not a rebuild of every workload. A
     * patch that meets a conflict, and every state after one that left something out, is built whole as above.
     */
    public MeshConfig snapshot() {
        long v = ++version;
        MeshSnapshot mesh = last == null ? null : patched(last, v);
        if (mesh == null) {
            mesh = whole(v);
        }
        changedWorkloads.clear();
        changedNodes.clear();
        changedServices.clear();
        return new MeshConfig(v, mesh, new PolicySet(v, policies.authorizationPolicies(), policies.peerAuthentications()));
    }

    private MeshSnapshot patched(MeshSnapshot base, long v) {
        var nodeUpserts = new ArrayList<NodeInfo>();
        var removedNodes = new ArrayList<String>();
        split(changedNodes, nodes, nodeUpserts, removedNodes);
        var workloadUpserts = new ArrayList<Workload>();
        var removedWorkloads = new ArrayList<String>();
        split(changedWorkloads, workloads, workloadUpserts, removedWorkloads);
        var serviceUpserts = new ArrayList<Service>();
        var removedServices = new ArrayList<String>();
        split(changedServices, services, serviceUpserts, removedServices);
        try {
            return last = base.patch(v, nodeUpserts, removedNodes, workloadUpserts, removedWorkloads, serviceUpserts,
                    removedServices);
        } catch (IllegalArgumentException e) {
            return null; // a conflict: the whole build decides what is left out, and warns
        }
    }

    private static <T> void split(java.util.Set<String> changed, Map<String, T> current, List<T> upserts,
            List<String> removed) {
        for (String key : changed) {
            T now = current.get(key);
            if (now != null) {
                upserts.add(now);
            } else {
                removed.add(key);
            }
        }
    }

    private MeshSnapshot whole(long v) {
        var byIp = new HashMap<InetAddress, Workload>();
        var kept = new ArrayList<Workload>();
        for (Workload w : workloads.values()) {
            Workload other = null;
            InetAddress shared = null;
            for (InetAddress a : w.addresses()) { // a dual-stack pod holds both its addresses
                if (byIp.containsKey(a)) {
                    other = byIp.get(a);
                    shared = a;
                    break;
                }
            }
            if (other != null) {
                log.warn("Pod {} shares IP {} with {}: left out until that is resolved", w.key(),
                        shared.getHostAddress(), other.key());
                continue;
            }
            w.addresses().forEach(a -> byIp.put(a, w));
            kept.add(w);
        }
        var warnings = new ArrayList<String>();
        List<Service> svcs = ServiceTranslator.withoutConflicts(List.copyOf(services.values()),
                new HashSet<>(byIp.keySet()), warnings);
        warnings.forEach(w -> log.warn("{}", w));
        MeshSnapshot mesh = new MeshSnapshot(v, nodes.values(), kept, svcs);
        last = kept.size() == workloads.size() && warnings.isEmpty() ? mesh : null;
        return mesh;
    }
}
