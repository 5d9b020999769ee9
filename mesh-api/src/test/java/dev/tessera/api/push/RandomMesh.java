package dev.tessera.api.push;

import dev.tessera.api.identity.SpiffeId;
import dev.tessera.api.model.MeshSnapshot;
import dev.tessera.api.model.NodeInfo;
import dev.tessera.api.model.Service;
import dev.tessera.api.model.Workload;
import dev.tessera.api.net.IpCidr;
import dev.tessera.api.policy.AuthorizationPolicy;
import dev.tessera.api.policy.PeerAuthentication;
import dev.tessera.api.policy.PolicySet;
import dev.tessera.api.policy.Translation;
import dev.tessera.api.push.MeshConfig;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;

/** Random mesh configurations and random changes to them, for round-trip properties. */
final class RandomMesh {

    private final Random random;
    private int nextIp = 1;

    RandomMesh(long seed) {
        this.random = new Random(seed);
    }

    MeshConfig config(long version, int nodes, int pods, int services, int policies) {
        var n = new ArrayList<NodeInfo>();
        for (int i = 1; i <= nodes; i++) {
            n.add(new NodeInfo("node" + i, ip(198, 18, 0, i), "198.18." + i + ".0/24"));
        }
        var w = new ArrayList<Workload>();
        for (int i = 0; i < pods; i++) {
            w.add(workload("ns" + random.nextInt(3), "pod-" + i, n));
        }
        var s = new ArrayList<Service>();
        for (int i = 0; i < services; i++) {
            s.add(service("ns" + random.nextInt(3), "svc-" + i, w));
        }
        var ap = new ArrayList<Translation<AuthorizationPolicy>>();
        var pa = new ArrayList<Translation<PeerAuthentication>>();
        for (int i = 0; i < policies; i++) {
            ap.add(authorizationPolicy("ns" + random.nextInt(3), "ap-" + i));
            pa.add(peerAuthentication("ns" + random.nextInt(3), "pa-" + i));
        }
        return new MeshConfig(version, new MeshSnapshot(version, n, w, s), new PolicySet(version, ap, pa));
    }

    /** A few random upserts and removals of every kind. */
    MeshConfig mutate(MeshConfig c) {
        long v = c.version() + 1;
        var nodes = new LinkedHashMap<String, NodeInfo>();
        c.mesh().nodes().values().forEach(x -> nodes.put(x.name(), x));
        var pods = byKey(c.mesh().workloads(), Workload::key);
        var svcs = byKey(c.mesh().services(), Service::key);
        var aps = byKey(c.policies().authorizationPolicies(), Translation::key);
        var pas = byKey(c.policies().peerAuthentications(), Translation::key);
        int changes = 1 + random.nextInt(6);
        for (int i = 0; i < changes; i++) {
            switch (random.nextInt(9)) {
                case 0 -> removeOne(pods);
                case 1 -> {
                    var w = workload("ns" + random.nextInt(3), "pod-" + v + "-" + i, List.copyOf(nodes.values()));
                    pods.put(w.key(), w);
                }
                case 2 -> { // relabel or move a pod (same key, changed content)
                    if (!pods.isEmpty()) {
                        var old = pods.values().iterator().next();
                        var labels = new TreeMap<>(old.labels());
                        labels.put("v", "" + v);
                        pods.put(old.key(), new Workload(old.namespace(), old.name(), old.node(), old.ip(),
                                old.serviceAccount(), labels, !old.meshed(), old.identity()));
                    }
                }
                case 3 -> {
                    var s = service("ns" + random.nextInt(3), "svc-" + v + "-" + i, List.copyOf(pods.values()));
                    svcs.put(s.key(), s);
                }
                case 4 -> removeOne(svcs);
                case 5 -> {
                    var t = authorizationPolicy("ns" + random.nextInt(3), "ap-" + random.nextInt(8));
                    aps.put(t.key(), t);
                }
                case 6 -> removeOne(aps);
                case 7 -> {
                    var t = peerAuthentication("ns" + random.nextInt(3), "pa-" + random.nextInt(8));
                    pas.put(t.key(), t);
                }
                default -> {
                    int k = nodes.size() + 1;
                    nodes.put("node" + k, new NodeInfo("node" + k, ip(198, 18, 0, k), "198.18." + k + ".0/24"));
                }
            }
        }
        // services must not point their VIPs at pods; pods removed may leave endpoints naming them (allowed)
        return new MeshConfig(v, new MeshSnapshot(v, nodes.values(), pods.values(), svcs.values()),
                new PolicySet(v, new ArrayList<>(aps.values()), new ArrayList<>(pas.values())));
    }

    private <T> void removeOne(Map<String, T> m) {
        if (!m.isEmpty()) {
            var keys = new ArrayList<>(m.keySet());
            m.remove(keys.get(random.nextInt(keys.size())));
        }
    }

    private static <T> LinkedHashMap<String, T> byKey(java.util.Collection<T> items, java.util.function.Function<T, String> key) {
        var m = new LinkedHashMap<String, T>();
        items.forEach(x -> m.put(key.apply(x), x));
        return m;
    }

    Workload workload(String ns, String name, List<NodeInfo> nodes) {
        String node = nodes.get(random.nextInt(nodes.size())).name();
        String sa = "sa" + random.nextInt(3);
        var labels = new TreeMap<String, String>();
        labels.put("app", name);
        if (random.nextBoolean()) {
            labels.put("tier", "t" + random.nextInt(3));
        }
        return new Workload(ns, name, node, nextPodIp(), sa, labels, random.nextInt(4) != 0,
                new SpiffeId("cluster.local", ns, sa));
    }

    Service service(String ns, String name, List<Workload> pods) {
        var eps = new ArrayList<Service.Endpoint>();
        for (int i = 0; i < Math.min(3, pods.size()); i++) {
            Workload w = pods.get(random.nextInt(pods.size()));
            eps.add(new Service.Endpoint(w.ip(), random.nextBoolean(), w.key()));
        }
        int vipN = nextIp++;
        return new Service(ns, name, List.of(ip(198, 19, 200 + (vipN >> 8) % 50, vipN & 0xff)),
                List.of(new Service.Port("http", 80, 8080), new Service.Port("", 443, 8443)), eps);
    }

    Translation<AuthorizationPolicy> authorizationPolicy(String ns, String name) {
        if (random.nextInt(4) == 0) { // invalid: errors, readable selector, action
            return new Translation<>("AuthorizationPolicy", ns, name, null, List.of("spec.action: 'MAYBE' (expected: ALLOW, DENY or AUDIT)"),
                    random.nextBoolean() ? Map.of("app", "x") : null, AuthorizationPolicy.Action.DENY);
        }
        var source = new AuthorizationPolicy.Source(List.of("cluster.local/ns/" + ns + "/sa/*"), List.of(),
                List.of(ns), List.of("kube-system"), List.of(IpCidr.parse("198.18.0.0/15")),
                random.nextBoolean() ? List.of(IpCidr.parse("198.18." + random.nextInt(200) + ".0/24")) : List.of());
        var op = new AuthorizationPolicy.Operation(List.of(80, 8080 + random.nextInt(10)), List.of(22));
        var action = AuthorizationPolicy.Action.values()[random.nextInt(3)];
        var p = new AuthorizationPolicy(ns, name, random.nextBoolean() ? Map.of("app", "pod-" + random.nextInt(9)) : null,
                action, List.of(new AuthorizationPolicy.Rule(List.of(source), List.of(op))));
        return new Translation<>("AuthorizationPolicy", ns, name, p, List.of(), p.selector(), action);
    }

    Translation<PeerAuthentication> peerAuthentication(String ns, String name) {
        var mode = PeerAuthentication.Mode.values()[random.nextInt(3)];
        var p = new PeerAuthentication(ns, name, random.nextBoolean() ? Map.of("app", "a") : null, mode);
        return new Translation<>("PeerAuthentication", ns, name, p, List.of(), p.selector(), null);
    }

    private InetAddress nextPodIp() {
        int n = nextIp++;
        return ip(198, 18, 100 + (n >> 8) % 100, n & 0xff);
    }

    static InetAddress ip(int a, int b, int c, int d) {
        try {
            return InetAddress.getByAddress(new byte[] {(byte) a, (byte) b, (byte) c, (byte) d});
        } catch (UnknownHostException e) {
            throw new AssertionError(e);
        }
    }

    /** Everything a configuration holds, keyed, for exact comparison (MeshSnapshot has no equals). */
    static Map<String, Object> content(MeshConfig c) {
        var m = new LinkedHashMap<String, Object>();
        m.put("version", c.version());
        m.put("mesh.version", c.mesh().version());
        m.put("policies.version", c.policies().version());
        m.put("nodes", new TreeMap<>(c.mesh().nodes()));
        m.put("workloads", new TreeMap<>(byKey(c.mesh().workloads(), Workload::key)));
        m.put("services", new TreeMap<>(byKey(c.mesh().services(), Service::key)));
        m.put("authorizationPolicies", new TreeMap<>(byKey(c.policies().authorizationPolicies(), Translation::key)));
        m.put("peerAuthentications", new TreeMap<>(byKey(c.policies().peerAuthentications(), Translation::key)));
        return m;
    }
}
