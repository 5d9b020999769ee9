package dev.tessera.api.model;

import static java.util.Objects.requireNonNull;

import java.net.InetAddress;
import java.util.Collection;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * An immutable view of the mesh: nodes, workloads and services. Every connection reads one snapshot;
 * updates replace the whole snapshot.
 */
public final class MeshSnapshot {

    /** The empty state an agent starts from. */
    public static final MeshSnapshot EMPTY = new MeshSnapshot(0, List.of(), List.of());

    private final long version;
    private final Map<String, NodeInfo> nodes;
    private final Map<InetAddress, Workload> byIp;
    private final Map<String, Workload> byKey;
    private final Map<String, Service> services;
    private final Map<InetAddress, Service> serviceByVip;

    /** A snapshot without services. */
    public MeshSnapshot(long version, Collection<NodeInfo> nodes, Collection<Workload> workloads) {
        this(version, nodes, workloads, List.of());
    }

    public MeshSnapshot(long version, Collection<NodeInfo> nodes, Collection<Workload> workloads,
            Collection<Service> services) {
        this.version = version;
        var n = new HashMap<String, NodeInfo>();
        for (NodeInfo node : requireNonNull(nodes, "nodes")) {
            if (n.put(node.name(), node) != null) {
                throw new IllegalArgumentException("nodes: duplicate node '" + node.name() + "' (expected: unique names)");
            }
        }
        var ip = new HashMap<InetAddress, Workload>();
        var key = new HashMap<String, Workload>();
        for (Workload w : requireNonNull(workloads, "workloads")) {
            for (InetAddress a : w.addresses()) { // a dual-stack pod is found by either address
                Workload other = ip.put(a, w);
                if (other != null) {
                    throw new IllegalArgumentException("workloads: " + w.key() + " and " + other.key()
                            + " share IP " + a.getHostAddress() + " (expected: one pod per IP)");
                }
            }
            key.put(w.key(), w);
        }
        var svc = new HashMap<String, Service>();
        var vip = new HashMap<InetAddress, Service>();
        for (Service s : requireNonNull(services, "services")) {
            if (svc.put(s.key(), s) != null) {
                throw new IllegalArgumentException("services: duplicate service '" + s.key() + "' (expected: unique)");
            }
            for (InetAddress a : s.vips()) {
                Service other = vip.put(a, s);
                if (other != null) {
                    throw new IllegalArgumentException("services: " + s.key() + " and " + other.key() + " share VIP "
                            + a.getHostAddress() + " (expected: one service per VIP)");
                }
                if (ip.containsKey(a)) {
                    throw vipIsPodIp(s, a, ip.get(a));
                }
            }
        }
        this.services = Map.copyOf(svc);
        this.serviceByVip = Map.copyOf(vip);
        this.nodes = Map.copyOf(n);
        this.byIp = Map.copyOf(ip);
        this.byKey = Map.copyOf(key);
    }

    private MeshSnapshot(long version, Map<String, NodeInfo> nodes, Map<InetAddress, Workload> byIp,
            Map<String, Workload> byKey, Map<String, Service> services, Map<InetAddress, Service> serviceByVip) {
        this.version = version;
        this.nodes = nodes;
        this.byIp = byIp;
        this.byKey = byKey;
        this.services = services;
        this.serviceByVip = serviceByVip;
    }

    /**
     * This snapshot with objects replaced, added and removed by key ({@code namespace/name}, nodes by name), checked
     * by the same rules as the constructor: what {@code new MeshSnapshot(version, <the patched collections>)} gives,
     * without indexing every unchanged object again. An agent applies each delta with it, so one pod change costs it
     * a copy of its indexes, not a rebuild of a 50,000-workload state.
     *
     * @throws IllegalArgumentException when the result breaks a rule (two workloads with one IP, a VIP shared or
     *     also a pod IP)
     */
    public MeshSnapshot patch(long version, Collection<NodeInfo> nodeUpserts, Collection<String> removedNodes,
            Collection<Workload> workloadUpserts, Collection<String> removedWorkloads,
            Collection<Service> serviceUpserts, Collection<String> removedServices) {
        var n = new HashMap<>(nodes);
        removedNodes.forEach(n::remove);
        for (NodeInfo node : nodeUpserts) {
            n.put(node.name(), node);
        }
        var key = new HashMap<>(byKey);
        var ip = new HashMap<>(byIp);
        for (String k : removedWorkloads) {
            Workload gone = key.remove(k);
            if (gone != null) {
                gone.addresses().forEach(a -> ip.remove(a, gone));
            }
        }
        for (Workload w : workloadUpserts) { // every replaced address freed before any new one is taken
            Workload old = key.put(w.key(), w);
            if (old != null) {
                old.addresses().forEach(a -> ip.remove(a, old));
            }
        }
        var svc = new HashMap<>(services);
        var vip = new HashMap<>(serviceByVip);
        for (String k : removedServices) {
            Service gone = svc.remove(k);
            if (gone != null) {
                gone.vips().forEach(a -> vip.remove(a, gone));
            }
        }
        for (Service s : serviceUpserts) {
            Service old = svc.put(s.key(), s);
            if (old != null) {
                old.vips().forEach(a -> vip.remove(a, old));
            }
        }
        for (Workload w : workloadUpserts) {
            if (key.get(w.key()) != w) {
                continue; // a later upsert of the same key replaced it
            }
            for (InetAddress a : w.addresses()) {
                Workload other = ip.putIfAbsent(a, w);
                if (other != null && other != w) {
                    throw new IllegalArgumentException("workloads: " + w.key() + " and " + other.key()
                            + " share IP " + a.getHostAddress() + " (expected: one pod per IP)");
                }
            }
        }
        for (Service s : serviceUpserts) {
            if (svc.get(s.key()) != s) {
                continue;
            }
            for (InetAddress a : s.vips()) {
                Service other = vip.putIfAbsent(a, s);
                if (other != null && other != s) {
                    throw new IllegalArgumentException("services: " + s.key() + " and " + other.key() + " share VIP "
                            + a.getHostAddress() + " (expected: one service per VIP)");
                }
            }
        }
        // a VIP may be neither a new pod's IP nor a new VIP an existing pod's
        for (Workload w : workloadUpserts) {
            for (InetAddress a : w.addresses()) {
                Service s = vip.get(a);
                if (s != null && ip.get(a) == w) {
                    throw vipIsPodIp(s, a, w);
                }
            }
        }
        for (Service s : serviceUpserts) {
            for (InetAddress a : s.vips()) {
                Workload w = ip.get(a);
                if (w != null && vip.get(a) == s) {
                    throw vipIsPodIp(s, a, w);
                }
            }
        }
        return new MeshSnapshot(version, Collections.unmodifiableMap(n), Collections.unmodifiableMap(ip),
                Collections.unmodifiableMap(key), Collections.unmodifiableMap(svc), Collections.unmodifiableMap(vip));
    }

    private static IllegalArgumentException vipIsPodIp(Service s, InetAddress a, Workload w) {
        return new IllegalArgumentException("services: " + s.key() + " VIP " + a.getHostAddress()
                + " is also the IP of pod " + w.key() + " (expected: distinct addresses)");
    }

    public long version() {
        return version;
    }

    public Map<String, NodeInfo> nodes() {
        return nodes;
    }

    public Optional<NodeInfo> node(String name) {
        return Optional.ofNullable(nodes.get(name));
    }

    public Collection<Workload> workloads() {
        return byKey.values();
    }

    /** Every workload by {@code namespace/name}, iterated in the order of {@link #workloads()}. */
    public Map<String, Workload> workloadsByKey() {
        return byKey;
    }

    /** Every service by {@code namespace/name}, iterated in the order of {@link #services()}. */
    public Map<String, Service> servicesByKey() {
        return services;
    }

    public Optional<Workload> workloadByIp(InetAddress ip) {
        return Optional.ofNullable(byIp.get(ip));
    }

    public Optional<Workload> workload(String namespace, String name) {
        return Optional.ofNullable(byKey.get(namespace + "/" + name));
    }

    /** Every service. */
    public Collection<Service> services() {
        return services.values();
    }

    public Optional<Service> service(String namespace, String name) {
        return Optional.ofNullable(services.get(namespace + "/" + name));
    }

    /** The service whose virtual IP is {@code vip}. */
    public Optional<Service> serviceByVip(InetAddress vip) {
        return Optional.ofNullable(serviceByVip.get(vip));
    }

    public List<Workload> workloadsOnNode(String node) {
        return byKey.values().stream().filter(w -> w.node().equals(node)).toList();
    }

    @Override
    public String toString() {
        return "MeshSnapshot{version=" + version + ", nodes=" + nodes.size() + ", workloads=" + byKey.size()
                + ", services=" + services.size() + "}";
    }
}
