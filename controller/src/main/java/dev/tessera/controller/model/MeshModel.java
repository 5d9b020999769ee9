package dev.tessera.controller.model;

import static java.util.Objects.requireNonNull;

import dev.tessera.common.model.MeshSnapshot;
import dev.tessera.common.model.NodeInfo;
import dev.tessera.common.model.Workload;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Map;
import java.util.TreeMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The controller's working state between reconciles: the current workload of every pod key and every
 * node, from which immutable {@link MeshSnapshot}s are built. Confined to the reconcile thread.
 */
public final class MeshModel {

    private static final Logger log = LoggerFactory.getLogger(MeshModel.class);

    private final Map<String, Workload> workloads = new TreeMap<>();
    private final Map<String, NodeInfo> nodes = new TreeMap<>();
    private long version;

    /** Sets or removes (null) the workload of a pod key; true when that changed anything. */
    public boolean putWorkload(String key, Workload workload) {
        requireNonNull(key, "key");
        Workload old = workload == null ? workloads.remove(key) : workloads.put(key, workload);
        return !java.util.Objects.equals(old, workload);
    }

    /** Sets or removes (null) a node; true when that changed anything. */
    public boolean putNode(String name, NodeInfo node) {
        requireNonNull(name, "name");
        NodeInfo old = node == null ? nodes.remove(name) : nodes.put(name, node);
        return !java.util.Objects.equals(old, node);
    }

    /**
     * A new snapshot with the next version. Should two pods claim one IP (an address reused before the
     * old pod's deletion was seen), the first by {@code namespace/name} is kept and the other left out.
     */
    public MeshSnapshot snapshot() {
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
        return new MeshSnapshot(++version, nodes.values(), kept);
    }
}
