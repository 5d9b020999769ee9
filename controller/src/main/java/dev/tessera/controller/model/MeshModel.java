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

    /** Sets or removes (null) the workload of a pod key; true when that changed anything. */
    public boolean putWorkload(String key, Workload workload) {
        requireNonNull(key, "key");
        Workload old = workload == null ? workloads.remove(key) : workloads.put(key, workload);
        return !Objects.equals(old, workload);
    }

    /** Sets or removes (null) a node; true when that changed anything. */
    public boolean putNode(String name, NodeInfo node) {
        requireNonNull(name, "name");
        NodeInfo old = node == null ? nodes.remove(name) : nodes.put(name, node);
        return !Objects.equals(old, node);
    }

    /** Sets or removes (null) a service by {@code namespace/name}; true when that changed anything. */
    public boolean putService(String key, Service service) {
        requireNonNull(key, "key");
        Service old = service == null ? services.remove(key) : services.put(key, service);
        return !Objects.equals(old, service);
    }

    /** Replaces the policies with the translation of {@code objects}; true when the translation changed. */
    public boolean setPolicies(Collection<? extends HasMetadata> objects) {
        PolicySet next = dev.tessera.kube.policy.PolicyTranslator.translate(version, objects);
        boolean changed = !next.authorizationPolicies().equals(policies.authorizationPolicies())
                || !next.peerAuthentications().equals(policies.peerAuthentications());
        policies = next;
        return changed;
    }

    /**
     * A new state with the next version. Should two pods claim one IP (an address reused before the old
     * pod's deletion was seen), the first by {@code namespace/name} is kept and the other left out; a
     * service VIP that is a pod IP or another service's VIP is left out likewise.
     */
    public MeshConfig snapshot() {
        var byIp = new HashMap<InetAddress, Workload>();
        var kept = new ArrayList<Workload>();
        for (Workload w : workloads.values()) {
            Workload other = byIp.putIfAbsent(w.ip(), w);
            if (other != null) {
                log.warn("Pod {} shares IP {} with {}: left out until that is resolved", w.key(),
                        w.ip().getHostAddress(), other.key());
                continue;
            }
            kept.add(w);
        }
        var warnings = new ArrayList<String>();
        List<Service> svcs = ServiceTranslator.withoutConflicts(List.copyOf(services.values()),
                new HashSet<>(byIp.keySet()), warnings);
        warnings.forEach(w -> log.warn("{}", w));
        long v = ++version;
        return new MeshConfig(v, new MeshSnapshot(v, nodes.values(), kept, svcs),
                new PolicySet(v, policies.authorizationPolicies(), policies.peerAuthentications()));
    }
}
