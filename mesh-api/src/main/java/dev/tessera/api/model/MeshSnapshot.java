package dev.tessera.api.model;

import static java.util.Objects.requireNonNull;

import java.net.InetAddress;
import java.util.Collection;
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
                    throw new IllegalArgumentException("services: " + s.key() + " VIP " + a.getHostAddress()
                            + " is also the IP of pod " + ip.get(a).key() + " (expected: distinct addresses)");
                }
            }
        }
        this.services = Map.copyOf(svc);
        this.serviceByVip = Map.copyOf(vip);
        this.nodes = Map.copyOf(n);
        this.byIp = Map.copyOf(ip);
        this.byKey = Map.copyOf(key);
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
