package dev.tessera.api.push;

import dev.tessera.api.identity.SpiffeId;
import dev.tessera.api.model.MeshSnapshot;
import dev.tessera.api.model.NodeInfo;
import dev.tessera.api.model.Service;
import dev.tessera.api.model.Workload;
import dev.tessera.api.net.Ipv4Cidr;
import dev.tessera.api.policy.AuthorizationPolicy;
import dev.tessera.api.policy.PeerAuthentication;
import dev.tessera.api.policy.PolicySet;
import dev.tessera.api.policy.Translation;
import dev.tessera.api.push.MeshConfig;
import java.util.List;
import java.util.function.Supplier;

/**
 * Explicit binary encoding of the mesh model (nodes, workloads, services, translated policies). Field by
 * field, in declaration order; enums by name; see {@link WireWriter} for the primitive encodings. A value
 * the model rejects (e.g. a port of 0) is reported as a {@link ProtocolException} naming the field.
 */
public final class MeshCodec {

    private MeshCodec() {}

    /** Wraps a model constructor: its validation error becomes a protocol error for {@code field}. */
    static <T> T build(String field, Supplier<T> constructor) throws ProtocolException {
        try {
            return constructor.get();
        } catch (IllegalArgumentException | NullPointerException e) {
            throw new ProtocolException(field + ": " + e.getMessage());
        }
    }

    // ---- nodes

    public static void node(WireWriter w, NodeInfo n) {
        w.string(n.name()).inet(n.ip()).string(n.podCidr());
    }

    public static NodeInfo node(WireReader r, String f) throws ProtocolException {
        String name = r.string(f + ".name");
        var ip = r.inet(f + ".ip");
        String cidr = r.string(f + ".podCidr");
        return build(f, () -> new NodeInfo(name, ip, cidr));
    }

    // ---- workloads

    /**
     * The entry of a workload's label map that carries {@link Workload#workloadName()} on the wire when it
     * differs from the pod name. Workloads are list elements without a length, and decoders of protocol
     * versions 1 and 2 reject trailing bytes, so a new field would need a new protocol version that version-1
     * agents could no longer be served with; the label map is the extensible part every decoder already
     * reads. An agent of this build takes the entry out of the labels into the field; an older agent sees one
     * more label (which no pod selector of the mesh uses, the {@code tessera.dev/} prefix being ours) and
     * keeps naming workloads as it did. A pod whose workload is itself (no owner) adds nothing, so its
     * encoding is byte for byte the one before.
     */
    public static final String WORKLOAD_NAME_LABEL = "tessera.dev/workload-name";

    /**
     * The entry of a workload's label map that carries {@link Workload#otherIps()} (a dual-stack pod's
     * addresses besides {@link Workload#ip()}), comma-separated, for the reason {@link #WORKLOAD_NAME_LABEL}
     * gives. A single-stack pod adds nothing.
     */
    public static final String OTHER_IPS_LABEL = "tessera.dev/pod-ips";

    public static void workload(WireWriter w, Workload x) {
        var labels = x.labels();
        if (!x.workloadName().equals(x.name()) || !x.otherIps().isEmpty()) {
            var extended = new java.util.HashMap<>(labels);
            if (!x.workloadName().equals(x.name())) {
                extended.put(WORKLOAD_NAME_LABEL, x.workloadName());
            }
            if (!x.otherIps().isEmpty()) {
                var text = new StringBuilder();
                for (var a : x.otherIps()) {
                    text.append(text.length() == 0 ? "" : ",").append(a.getHostAddress());
                }
                extended.put(OTHER_IPS_LABEL, text.toString());
            }
            labels = extended;
        }
        w.string(x.namespace()).string(x.name()).string(x.node()).inet(x.ip()).string(x.serviceAccount())
                .stringMap(labels).bool(x.meshed()).string(x.identity().toString());
    }

    public static Workload workload(WireReader r, String f) throws ProtocolException {
        String ns = r.sharedString(f + ".namespace");
        String name = r.string(f + ".name");
        String node = r.sharedString(f + ".node");
        var ip = r.inet(f + ".ip");
        String sa = r.sharedString(f + ".serviceAccount");
        var labels = r.stringMap(f + ".labels");
        String owner = labels.remove(WORKLOAD_NAME_LABEL);
        String workloadName = owner == null ? name : owner;
        var otherIps = otherIps(labels.remove(OTHER_IPS_LABEL), f + ".labels." + OTHER_IPS_LABEL);
        boolean meshed = r.bool(f + ".meshed");
        String id = r.sharedString(f + ".identity");
        SpiffeId identity;
        try {
            identity = r.cached(id, SpiffeId::parse); // many pods share one identity: parse it once
        } catch (IllegalArgumentException e) {
            throw new ProtocolException(f + ".identity: " + e.getMessage());
        }
        return build(f, () -> new Workload(ns, name, node, ip, sa, labels, meshed, identity, workloadName, otherIps));
    }

    /** The addresses of an {@link #OTHER_IPS_LABEL} value (none for {@code null}): IP literals only. */
    static List<java.net.InetAddress> otherIps(String text, String f) throws ProtocolException {
        if (text == null) {
            return List.of();
        }
        var out = new java.util.ArrayList<java.net.InetAddress>(2);
        for (String part : text.split(",", -1)) {
            out.add(ipLiteral(part, f));
        }
        return out;
    }

    /** An IPv4 or IPv6 literal (never a name lookup). */
    static java.net.InetAddress ipLiteral(String text, String f) throws ProtocolException {
        boolean literal = !text.isEmpty() && (text.indexOf(':') >= 0
                ? text.chars().allMatch(c -> Character.digit(c, 16) >= 0 || c == ':' || c == '.')
                : text.chars().allMatch(c -> (c >= '0' && c <= '9') || c == '.') && text.split("\\.", -1).length == 4);
        if (literal) {
            try {
                return java.net.InetAddress.getByName(text);
            } catch (java.net.UnknownHostException e) {
                // reported below
            }
        }
        throw new ProtocolException(f + ": '" + text + "' (expected: IPv4 or IPv6 addresses, comma-separated)");
    }

    // ---- services

    public static void service(WireWriter w, Service s) {
        w.string(s.namespace()).string(s.name()).list(s.vips(), WireWriter::inet);
        w.list(s.ports(), (o, p) -> o.string(p.name()).u16(p.port()).u16(p.targetPort()));
        w.list(s.endpoints(), (o, e) -> o.inet(e.ip()).bool(e.ready()).string(e.workload()));
    }

    public static Service service(WireReader r, String f) throws ProtocolException {
        String ns = r.string(f + ".namespace");
        String name = r.string(f + ".name");
        var vips = r.list(f + ".vips", 5, WireReader::inet);
        var ports = r.list(f + ".ports", 8, (in, pf) -> {
            String pn = in.string(pf + ".name");
            int port = in.u16(pf + ".port");
            int target = in.u16(pf + ".targetPort");
            return build(pf, () -> new Service.Port(pn, port, target));
        });
        var endpoints = r.list(f + ".endpoints", 10, (in, ef) -> {
            var ip = in.inet(ef + ".ip");
            boolean ready = in.bool(ef + ".ready");
            String wl = in.string(ef + ".workload");
            return new Service.Endpoint(ip, ready, wl);
        });
        return build(f, () -> new Service(ns, name, vips, ports, endpoints));
    }

    // ---- policies

    public static void authorizationPolicy(WireWriter w, Translation<AuthorizationPolicy> t) {
        translationHeader(w, t);
        AuthorizationPolicy p = t.policy();
        w.bool(p != null);
        if (p == null) {
            return;
        }
        w.string(p.namespace()).string(p.name()).optionalStringMap(p.selector()).string(p.action().name());
        w.list(p.rules(), (o, rule) -> {
            o.list(rule.from(), (o2, s) -> o2.strings(s.principals()).strings(s.notPrincipals()).strings(s.namespaces())
                    .strings(s.notNamespaces()).list(s.ipBlocks(), MeshCodec::cidr).list(s.notIpBlocks(), MeshCodec::cidr));
            o.list(rule.to(), (o2, op) -> o2.list(op.ports(), WireWriter::u16).list(op.notPorts(), WireWriter::u16));
        });
    }

    public static Translation<AuthorizationPolicy> authorizationPolicy(WireReader r, String f) throws ProtocolException {
        Header h = translationHeader(r, f);
        AuthorizationPolicy p = null;
        if (r.bool(f + ".policy.present")) {
            String pf = f + ".policy";
            String ns = r.string(pf + ".namespace");
            String name = r.string(pf + ".name");
            var selector = r.optionalStringMap(pf + ".selector");
            var action = r.enumName(pf + ".action", AuthorizationPolicy.Action.class);
            var rules = r.list(pf + ".rules", 8, (in, rf) -> {
                var from = in.list(rf + ".from", 24, (in2, sf) -> new AuthorizationPolicy.Source(
                        in2.strings(sf + ".principals"), in2.strings(sf + ".notPrincipals"),
                        in2.strings(sf + ".namespaces"), in2.strings(sf + ".notNamespaces"),
                        in2.list(sf + ".ipBlocks", 5, MeshCodec::cidr), in2.list(sf + ".notIpBlocks", 5, MeshCodec::cidr)));
                var to = in.list(rf + ".to", 8, (in2, of) -> new AuthorizationPolicy.Operation(
                        in2.list(of + ".ports", 2, WireReader::u16), in2.list(of + ".notPorts", 2, WireReader::u16)));
                return new AuthorizationPolicy.Rule(from, to);
            });
            p = build(pf, () -> new AuthorizationPolicy(ns, name, selector, action, rules));
        }
        AuthorizationPolicy policy = p;
        return build(f, () -> new Translation<>(h.kind, h.namespace, h.name, policy, h.errors, h.selector, h.action));
    }

    public static void peerAuthentication(WireWriter w, Translation<PeerAuthentication> t) {
        translationHeader(w, t);
        PeerAuthentication p = t.policy();
        w.bool(p != null);
        if (p != null) {
            w.string(p.namespace()).string(p.name()).optionalStringMap(p.selector()).string(p.mode().name());
        }
    }

    public static Translation<PeerAuthentication> peerAuthentication(WireReader r, String f) throws ProtocolException {
        Header h = translationHeader(r, f);
        PeerAuthentication p = null;
        if (r.bool(f + ".policy.present")) {
            String pf = f + ".policy";
            String ns = r.string(pf + ".namespace");
            String name = r.string(pf + ".name");
            var selector = r.optionalStringMap(pf + ".selector");
            var mode = r.enumName(pf + ".mode", PeerAuthentication.Mode.class);
            p = build(pf, () -> new PeerAuthentication(ns, name, selector, mode));
        }
        PeerAuthentication policy = p;
        return build(f, () -> new Translation<>(h.kind, h.namespace, h.name, policy, h.errors, h.selector, h.action));
    }

    private record Header(String kind, String namespace, String name, List<String> errors,
            java.util.Map<String, String> selector, AuthorizationPolicy.Action action) {}

    private static void translationHeader(WireWriter w, Translation<?> t) {
        w.string(t.kind()).string(t.namespace()).string(t.name()).strings(t.errors()).optionalStringMap(t.selector())
                .optionalString(t.action() == null ? null : t.action().name());
    }

    private static Header translationHeader(WireReader r, String f) throws ProtocolException {
        String kind = r.string(f + ".kind");
        String ns = r.string(f + ".namespace");
        String name = r.string(f + ".name");
        var errors = r.strings(f + ".errors");
        var selector = r.optionalStringMap(f + ".selector");
        AuthorizationPolicy.Action action = null;
        if (r.bool(f + ".action.present")) {
            action = r.enumName(f + ".action", AuthorizationPolicy.Action.class);
        }
        return new Header(kind, ns, name, errors, selector, action);
    }

    private static void cidr(WireWriter w, Ipv4Cidr c) {
        w.u32(c.network()).u8(c.prefix());
    }

    private static Ipv4Cidr cidr(WireReader r, String f) throws ProtocolException {
        int network = r.i32(f + ".network");
        int prefix = r.u8(f + ".prefix");
        return build(f, () -> new Ipv4Cidr(network, prefix));
    }

    // ---- whole configuration

    /** Nodes, workloads, services, then both policy kinds (the version is written by the caller). */
    public static void config(WireWriter w, MeshConfig c) {
        w.list(c.mesh().nodes().values(), MeshCodec::node);
        w.list(c.mesh().workloads(), MeshCodec::workload);
        w.list(c.mesh().services(), MeshCodec::service);
        w.list(c.policies().authorizationPolicies(), MeshCodec::authorizationPolicy);
        w.list(c.policies().peerAuthentications(), MeshCodec::peerAuthentication);
    }

    public static MeshConfig config(WireReader r, String f, long version) throws ProtocolException {
        var nodes = r.list(f + ".nodes", 13, MeshCodec::node);
        var workloads = r.list(f + ".workloads", 30, MeshCodec::workload);
        var services = r.list(f + ".services", 20, MeshCodec::service);
        var aps = r.list(f + ".authorizationPolicies", 18, MeshCodec::authorizationPolicy);
        var pas = r.list(f + ".peerAuthentications", 18, MeshCodec::peerAuthentication);
        MeshSnapshot mesh = build(f, () -> new MeshSnapshot(version, nodes, workloads, services));
        return new MeshConfig(version, mesh, new PolicySet(version, aps, pas));
    }
}
