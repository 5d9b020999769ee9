package dev.tessera.api.push;

import dev.tessera.api.identity.SpiffeId;
import dev.tessera.api.model.MeshSnapshot;
import dev.tessera.api.model.Service;
import dev.tessera.api.model.Workload;
import dev.tessera.api.policy.PolicySet;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.Unpooled;
import java.net.InetAddress;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Protocol version 3's per-node frames: what the agent of one node needs, its own pods whole and every other
 * pod as its {@link Workload#routingView() routing view}. Each frame is a small per-node head followed by a
 * part shared by every node, so the controller encodes the shared part once and sends
 * {@code head + shared} (two buffers, no copy) to each agent:
 * <pre>
 * NODE_SNAPSHOT: head   u64 epoch, u64 version, certificates trustBundle, list&lt;workload&gt; local (MeshCodec, whole)
 *                shared strings table, list&lt;node&gt;, list&lt;compact workload&gt;, list&lt;compact service&gt;,
 *                       list&lt;authorizationPolicy&gt;, list&lt;peerAuthentication&gt;
 * NODE_DELTA:    head   u64 epoch, u64 fromVersion, u64 toVersion, list&lt;workload&gt; local upserts (whole)
 *                shared strings table, nodes + removed, compact workloads + removed, compact services + removed,
 *                       authorizationPolicies + removed, peerAuthentications + removed
 * strings table:   varint count, then each string as varint length + UTF-8 (namespaces, nodes, service accounts,
 *                   trust domains, workload names, canonical values, endpoint pod keys), referenced by index
 * compact workloads: varint groups; per group varint node (string), varint count, then per pod (sorted by name):
 *                   u8 flags (1 meshed, 2 workload name = pod name, 4 canonical service, 8 canonical revision,
 *                   16 identity = trustDomain/ns/namespace/sa/serviceAccount, 32 IPv4, 64 other addresses:
 *                   version 4 only), varint length of the
 *                   name shared with the pod before + short rest of the name, varint namespace, IPv4 as 4 bytes
 *                   or inet, varint serviceAccount, varint trust domain, [varint identity namespace, varint
 *                   identity service account], [varint workload name], [varint canonical service],
 *                   [varint canonical revision], [list&lt;inet&gt; other addresses of a dual-stack pod]
 * compact service:  varint namespace, short name, list&lt;inet&gt; vips, list&lt;port&gt; (MeshCodec),
 *                   varint count of endpoints, each: u8 flags (1 ready, 2 pod by index, 4 pod by name, 8 address
 *                   is the indexed pod's), [inet ip], [varint index into this frame's compact workloads, in the
 *                   order written | varint string]
 * </pre>
 * A decoded frame is the same {@link Message.Snapshot} / {@link Message.Delta} as protocol 2's, holding
 * {@link #view(MeshConfig, String) the node's view}: a pod sent both ways (its own node's) keeps its whole form.
 * A compact workload travels in a delta only when its routing view changed, so a change that only the pod's
 * own node sees (a label that is not a canonical one) reaches the other agents as a version bump alone.
 * Trust-bundle changes keep travelling in protocol-2 DELTA frames, which every version decodes.
 */
public final class NodeFrames {

    private static final int MESHED = 1;
    private static final int OWN_NAME = 2;
    private static final int CANONICAL_SERVICE = 4;
    private static final int CANONICAL_REVISION = 8;
    private static final int DERIVED_IDENTITY = 16;
    private static final int IPV4 = 32;
    private static final int OTHER_IPS = 64;
    private static final int WORKLOAD_FLAGS = 127;
    private static final int READY = 1;
    private static final int BY_INDEX = 2;
    private static final int NAMED = 4;
    private static final int IP_OF_WORKLOAD = 8;

    private NodeFrames() {}

    /** What the agent of {@code node} holds of {@code c}: its own pods whole, the others' routing views. */
    public static MeshConfig view(MeshConfig c, String node) {
        var workloads = c.mesh().workloads().stream()
                .map(w -> w.node().equals(node) ? w : w.routingView()).toList();
        var mesh = new MeshSnapshot(c.version(), c.mesh().nodes().values(), workloads, c.mesh().services());
        return new MeshConfig(c.version(), mesh, c.policies());
    }

    // ---- encoding

    /** The part of every node's NODE_SNAPSHOT of {@code c} that all nodes share, in a buffer from {@code alloc}. */
    public static ByteBuf snapshotShared(ByteBufAllocator alloc, MeshConfig c) {
        return snapshotShared(alloc, c, ProtocolVersions.CURRENT);
    }

    /**
     * As {@link #snapshotShared(ByteBufAllocator, MeshConfig)} for a session of protocol {@code version} (3 or
     * more): version 3 has no other addresses of dual-stack pods (its agents capture IPv4 only).
     */
    public static ByteBuf snapshotShared(ByteBufAllocator alloc, MeshConfig c, int version) {
        var strings = new Strings();
        ByteBuf body = Unpooled.buffer();
        try {
            var w = new WireWriter(body);
            w.list(c.mesh().nodes().values(), MeshCodec::node);
            var written = compactWorkloads(w, c.mesh().workloads(), strings, version);
            compactServices(w, c.mesh().services(), written, strings);
            w.list(c.policies().authorizationPolicies(), MeshCodec::authorizationPolicy);
            w.list(c.policies().peerAuthentications(), MeshCodec::peerAuthentication);
            return withStrings(alloc, strings, body);
        } finally {
            body.release();
        }
    }

    /**
     * The part of every node's NODE_DELTA from {@code from} by {@code delta} that all nodes share: the routing
     * views of the workloads whose view changed, and every other change whole.
     */
    public static ByteBuf deltaShared(ByteBufAllocator alloc, MeshConfig from, MeshDelta delta) {
        return deltaShared(alloc, from, delta, ProtocolVersions.CURRENT);
    }

    /** As {@link #deltaShared(ByteBufAllocator, MeshConfig, MeshDelta)} for a session of protocol {@code version}. */
    public static ByteBuf deltaShared(ByteBufAllocator alloc, MeshConfig from, MeshDelta delta, int version) {
        var strings = new Strings();
        ByteBuf body = Unpooled.buffer();
        try {
            var w = new WireWriter(body);
            w.list(delta.nodes(), MeshCodec::node).strings(delta.removedNodes());
            var changed = new ArrayList<Workload>();
            for (Workload x : delta.workloads()) {
                Workload old = from.mesh().workload(x.namespace(), x.name()).orElse(null);
                if (old == null || !old.routingView().equals(x.routingView())) {
                    changed.add(x);
                }
            }
            var written = compactWorkloads(w, changed, strings, version);
            w.strings(delta.removedWorkloads());
            compactServices(w, delta.services(), written, strings);
            w.strings(delta.removedServices());
            w.list(delta.authorizationPolicies(), MeshCodec::authorizationPolicy)
                    .strings(delta.removedAuthorizationPolicies());
            w.list(delta.peerAuthentications(), MeshCodec::peerAuthentication).strings(delta.removedPeerAuthentications());
            return withStrings(alloc, strings, body);
        } finally {
            body.release();
        }
    }

    /** A node's NODE_SNAPSHOT head (length and type included) for a shared part of {@code sharedBytes}. */
    public static ByteBuf snapshotHead(ByteBufAllocator alloc, long epoch, long version,
            List<X509Certificate> trustBundle, Collection<Workload> local, int sharedBytes) {
        return head(alloc, FrameType.NODE_SNAPSHOT, sharedBytes, w -> {
            w.u64(epoch).u64(version).certificates(trustBundle);
            w.list(local, MeshCodec::workload);
        });
    }

    /** A node's NODE_DELTA head (length and type included) for a shared part of {@code sharedBytes}. */
    public static ByteBuf deltaHead(ByteBufAllocator alloc, long epoch, long fromVersion, long toVersion,
            Collection<Workload> local, int sharedBytes) {
        return head(alloc, FrameType.NODE_DELTA, sharedBytes, w -> {
            w.u64(epoch).u64(fromVersion).u64(toVersion);
            w.list(local, MeshCodec::workload);
        });
    }

    /**
     * One frame: {@code head} followed by {@code shared}, as one buffer that owns {@code head} and a retained
     * duplicate of {@code shared} (the caller keeps its own reference to {@code shared}).
     */
    public static ByteBuf frame(ByteBuf head, ByteBuf shared) {
        return Unpooled.wrappedBuffer(head, shared.retainedDuplicate());
    }

    /** {@code node}'s whole NODE_SNAPSHOT of {@code c} (for tests and tools; the controller shares the part). */
    public static ByteBuf snapshot(ByteBufAllocator alloc, long epoch, List<X509Certificate> trustBundle, MeshConfig c,
            String node) {
        ByteBuf shared = snapshotShared(alloc, c);
        try {
            return frame(snapshotHead(alloc, epoch, c.version(), trustBundle, local(c.mesh().workloads(), node),
                    shared.readableBytes()), shared);
        } finally {
            shared.release();
        }
    }

    /** {@code node}'s whole NODE_DELTA from {@code from} by {@code delta} (for tests and tools). */
    public static ByteBuf delta(ByteBufAllocator alloc, long epoch, MeshConfig from, MeshDelta delta, String node) {
        ByteBuf shared = deltaShared(alloc, from, delta);
        try {
            return frame(deltaHead(alloc, epoch, delta.fromVersion(), delta.toVersion(), local(delta.workloads(), node),
                    shared.readableBytes()), shared);
        } finally {
            shared.release();
        }
    }

    /**
     * Whether protocol 3's shared part of {@code c}'s snapshot differs from protocol 4's: some pod is
     * dual-stack (protocol 3 leaves its other addresses out).
     */
    public static boolean differsBefore4(MeshConfig c) {
        return c.mesh().workloads().stream().anyMatch(w -> !w.otherIps().isEmpty());
    }

    /** Whether protocol 3's shared part of {@code delta} differs from protocol 4's. */
    public static boolean differsBefore4(MeshDelta delta) {
        return delta.workloads().stream().anyMatch(w -> !w.otherIps().isEmpty());
    }

    /** The workloads of {@code workloads} that run on {@code node}. */
    public static List<Workload> local(Collection<Workload> workloads, String node) {
        return workloads.stream().filter(w -> w.node().equals(node)).toList();
    }

    private interface Fields {
        void write(WireWriter w);
    }

    private static ByteBuf head(ByteBufAllocator alloc, FrameType type, int sharedBytes, Fields fields) {
        ByteBuf heap = Unpooled.buffer();
        try {
            heap.writeInt(0);
            heap.writeByte(type.code());
            fields.write(new WireWriter(heap));
            long length = (long) heap.readableBytes() - Frames.LENGTH_FIELD + sharedBytes;
            if (length > Frames.MAX_FRAME_SIZE) {
                throw new IllegalArgumentException("frame length: " + length + " (expected: at most "
                        + Frames.MAX_FRAME_SIZE + "; " + type + " too large)");
            }
            heap.setInt(0, (int) length);
            ByteBuf out = alloc.directBuffer(heap.readableBytes());
            out.writeBytes(heap);
            return out;
        } finally {
            heap.release();
        }
    }

    private static ByteBuf withStrings(ByteBufAllocator alloc, Strings strings, ByteBuf body) {
        ByteBuf table = Unpooled.buffer();
        try {
            new WireWriter(table).varint(strings.list.size());
            strings.list.forEach(s -> new WireWriter(table).shortString(s));
            ByteBuf out = alloc.directBuffer(table.readableBytes() + body.readableBytes());
            out.writeBytes(table).writeBytes(body);
            return out;
        } finally {
            table.release();
        }
    }

    /** The frame's table of repeated strings (namespaces, nodes, identities, workload names), by first use. */
    private static final class Strings {
        final List<String> list = new ArrayList<>();
        final Map<String, Integer> index = new HashMap<>();

        int of(String s) {
            return index.computeIfAbsent(s, k -> {
                list.add(k);
                return list.size() - 1;
            });
        }
    }

    /**
     * Writes the compact workloads grouped by node, each group sorted by name (so that front coding shares
     * most of each name with the one before); returns them in the order written.
     */
    private static List<Workload> compactWorkloads(WireWriter w, Collection<Workload> workloads, Strings strings,
            int version) {
        var groups = new java.util.TreeMap<String, List<Workload>>();
        workloads.forEach(x -> groups.computeIfAbsent(x.node(), k -> new ArrayList<>()).add(x));
        var written = new ArrayList<Workload>(workloads.size());
        w.varint(groups.size());
        for (var g : groups.entrySet()) {
            List<Workload> group = g.getValue();
            group.sort(java.util.Comparator.comparing(Workload::name).thenComparing(Workload::namespace));
            w.varint(strings.of(g.getKey())).varint(group.size());
            String previous = "";
            for (Workload x : group) {
                written.add(x);
                compactWorkload(w, x, previous, strings, version);
                previous = x.name();
            }
        }
        return written;
    }

    private static void compactWorkload(WireWriter w, Workload x, String previousName, Strings strings, int version) {
        String service = x.canonicalService();
        String revision = x.canonicalRevision();
        boolean hasService = !service.equals(x.workloadName());
        boolean hasRevision = !revision.equals("latest");
        boolean ownName = x.workloadName().equals(x.name());
        SpiffeId id = x.identity();
        boolean derived = id.namespace().equals(x.namespace()) && id.serviceAccount().equals(x.serviceAccount());
        byte[] ip = x.ip().getAddress();
        boolean others = version >= 4 && !x.otherIps().isEmpty();
        w.u8((others ? OTHER_IPS : 0) | (x.meshed() ? MESHED : 0) | (ownName ? OWN_NAME : 0) | (hasService ? CANONICAL_SERVICE : 0)
                | (hasRevision ? CANONICAL_REVISION : 0) | (derived ? DERIVED_IDENTITY : 0) | (ip.length == 4 ? IPV4 : 0));
        int shared = 0;
        int max = Math.min(previousName.length(), x.name().length());
        while (shared < max && previousName.charAt(shared) == x.name().charAt(shared)) {
            shared++;
        }
        if (shared > 0 && Character.isHighSurrogate(x.name().charAt(shared - 1))) {
            shared--; // never split a character: the rest is written as UTF-8
        }
        w.varint(shared).shortString(x.name().substring(shared));
        w.varint(strings.of(x.namespace()));
        if (ip.length == 4) {
            w.buffer().writeBytes(ip);
        } else {
            w.inet(x.ip());
        }
        w.varint(strings.of(x.serviceAccount())).varint(strings.of(id.trustDomain()));
        if (!derived) {
            w.varint(strings.of(id.namespace())).varint(strings.of(id.serviceAccount()));
        }
        if (!ownName) {
            w.varint(strings.of(x.workloadName()));
        }
        if (hasService) {
            w.varint(strings.of(service));
        }
        if (hasRevision) {
            w.varint(strings.of(revision));
        }
        if (others) {
            w.list(x.otherIps(), WireWriter::inet);
        }
    }

    private static void compactServices(WireWriter w, Collection<Service> services, List<Workload> written,
            Strings strings) {
        var workloads = new HashMap<String, Integer>(written.size() * 2);
        for (int i = 0; i < written.size(); i++) {
            workloads.put(written.get(i).key(), i);
        }
        w.u32(services.size());
        for (Service s : services) {
            w.varint(strings.of(s.namespace())).shortString(s.name()).list(s.vips(), WireWriter::inet);
            w.list(s.ports(), (o, p) -> o.string(p.name()).u16(p.port()).u16(p.targetPort()));
            w.varint(s.endpoints().size());
            for (Service.Endpoint e : s.endpoints()) {
                Integer at = e.workload().isEmpty() ? null : workloads.get(e.workload());
                boolean sameIp = at != null && written.get(at).ip().equals(e.ip());
                int flags = (e.ready() ? READY : 0) | (at != null ? BY_INDEX : e.workload().isEmpty() ? 0 : NAMED)
                        | (sameIp ? IP_OF_WORKLOAD : 0);
                w.u8(flags);
                if (!sameIp) {
                    w.inet(e.ip());
                }
                if (at != null) {
                    w.varint(at);
                } else if (!e.workload().isEmpty()) {
                    w.varint(strings.of(e.workload()));
                }
            }
        }
    }

    // ---- decoding (the frame type byte already read)

    static Message.Snapshot decodeSnapshot(WireReader r) throws ProtocolException {
        String f = "NODE_SNAPSHOT";
        long epoch = r.u64(f + ".epoch");
        long version = r.u64(f + ".version");
        var bundle = r.certificates(f + ".trustBundle");
        var local = r.list(f + ".local", 30, MeshCodec::workload);
        List<String> strings = strings(r, f);
        var nodes = r.list(f + ".nodes", 13, MeshCodec::node);
        var compact = compactWorkloads(r, f + ".workloads", strings);
        var services = compactServices(r, f + ".services", strings, compact);
        var aps = r.list(f + ".authorizationPolicies", 18, MeshCodec::authorizationPolicy);
        var pas = r.list(f + ".peerAuthentications", 18, MeshCodec::peerAuthentication);
        var workloads = merge(compact, local);
        MeshSnapshot mesh = MeshCodec.build(f, () -> new MeshSnapshot(version, nodes, workloads, services));
        return new Message.Snapshot(epoch, bundle, new MeshConfig(version, mesh, new PolicySet(version, aps, pas)));
    }

    static Message.Delta decodeDelta(WireReader r) throws ProtocolException {
        String f = "NODE_DELTA";
        long epoch = r.u64(f + ".epoch");
        long from = r.u64(f + ".fromVersion");
        long to = r.u64(f + ".toVersion");
        var local = r.list(f + ".local", 30, MeshCodec::workload);
        List<String> strings = strings(r, f);
        var nodes = r.list(f + ".nodes", 13, MeshCodec::node);
        var removedNodes = r.strings(f + ".removedNodes");
        var compact = compactWorkloads(r, f + ".workloads", strings);
        var removedWorkloads = r.strings(f + ".removedWorkloads");
        var services = compactServices(r, f + ".services", strings, compact);
        var removedServices = r.strings(f + ".removedServices");
        var aps = r.list(f + ".authorizationPolicies", 18, MeshCodec::authorizationPolicy);
        var removedAps = r.strings(f + ".removedAuthorizationPolicies");
        var pas = r.list(f + ".peerAuthentications", 18, MeshCodec::peerAuthentication);
        var removedPas = r.strings(f + ".removedPeerAuthentications");
        var delta = new MeshDelta(from, to, nodes, removedNodes, merge(compact, local), removedWorkloads, services,
                removedServices, aps, removedAps, pas, removedPas);
        return new Message.Delta(epoch, null, delta);
    }

    /** The compact workloads with the whole form of the node's own pods in place of theirs. */
    private static List<Workload> merge(List<Workload> compact, List<Workload> local) {
        if (local.isEmpty()) {
            return compact;
        }
        var byKey = new LinkedHashMap<String, Workload>(compact.size() * 2);
        compact.forEach(w -> byKey.put(w.key(), w));
        local.forEach(w -> byKey.put(w.key(), w));
        return new ArrayList<>(byKey.values());
    }

    private static List<String> strings(WireReader r, String f) throws ProtocolException {
        int n = r.varint(f + ".strings.count");
        if (n > r.remaining()) {
            throw new ProtocolException(f + ".strings.count: " + n + " (expected: at most " + r.remaining()
                    + " for the bytes left)");
        }
        var out = new ArrayList<String>(n);
        for (int i = 0; i < n; i++) {
            out.add(r.shortString(f + ".strings[" + i + "]"));
        }
        return out;
    }

    private static String string(WireReader r, String field, List<String> strings) throws ProtocolException {
        int i = r.varint(field);
        if (i >= strings.size()) {
            throw new ProtocolException(field + ": string " + i + " (expected: 0-" + (strings.size() - 1) + ")");
        }
        return strings.get(i);
    }

    private static List<Workload> compactWorkloads(WireReader r, String f, List<String> strings)
            throws ProtocolException {
        int groups = r.varint(f + ".groups");
        var out = new ArrayList<Workload>();
        for (int g = 0; g < groups; g++) {
            String gf = f + ".groups[" + g + "]";
            String node = string(r, gf + ".node", strings);
            int n = r.varint(gf + ".count");
            if ((long) n * 9 > r.remaining()) {
                throw new ProtocolException(gf + ".count: " + n + " (expected: at most " + r.remaining() / 9
                        + " for the bytes left)");
            }
            String previous = "";
            for (int i = 0; i < n; i++) {
                Workload w = compactWorkload(r, gf + "[" + i + "]", node, previous, strings);
                out.add(w);
                previous = w.name();
            }
        }
        return out;
    }

    private static Workload compactWorkload(WireReader in, String wf, String node, String previousName,
            List<String> strings) throws ProtocolException {
        int flags = in.u8(wf + ".flags");
        if ((flags & ~WORKLOAD_FLAGS) != 0) {
            throw new ProtocolException(wf + ".flags: " + flags + " (expected: bits 1-64 only)");
        }
        int shared = in.varint(wf + ".name.shared");
        if (shared > previousName.length()) {
            throw new ProtocolException(wf + ".name.shared: " + shared + " (expected: at most " + previousName.length()
                    + ", the length of the name before)");
        }
        String name = previousName.substring(0, shared) + in.shortString(wf + ".name");
        String ns = string(in, wf + ".namespace", strings);
        InetAddress ip;
        if ((flags & IPV4) != 0) {
            byte[] b = new byte[4];
            for (int i = 0; i < 4; i++) {
                b[i] = (byte) in.u8(wf + ".ip");
            }
            try {
                ip = InetAddress.getByAddress(b);
            } catch (java.net.UnknownHostException e) {
                throw new ProtocolException(wf + ".ip: " + e.getMessage());
            }
        } else {
            ip = in.inet(wf + ".ip");
        }
        String sa = string(in, wf + ".serviceAccount", strings);
        String td = string(in, wf + ".identity.trustDomain", strings);
        String idNs = ns;
        String idSa = sa;
        if ((flags & DERIVED_IDENTITY) == 0) {
            idNs = string(in, wf + ".identity.namespace", strings);
            idSa = string(in, wf + ".identity.serviceAccount", strings);
        }
        String workloadName = (flags & OWN_NAME) != 0 ? name : string(in, wf + ".workloadName", strings);
        Map<String, String> labels = new HashMap<>(2);
        if ((flags & CANONICAL_SERVICE) != 0) {
            labels.put(Workload.CANONICAL_NAME_LABEL, string(in, wf + ".canonicalService", strings));
        }
        if ((flags & CANONICAL_REVISION) != 0) {
            labels.put(Workload.CANONICAL_REVISION_LABEL, string(in, wf + ".canonicalRevision", strings));
        }
        String identityNs = idNs;
        String identitySa = idSa;
        SpiffeId identity = in.cached("spiffe:" + td + "/" + identityNs + "/" + identitySa,
                k -> newSpiffeId(td, identityNs, identitySa));
        if (identity == null) {
            throw new ProtocolException(wf + ".identity: not a SPIFFE id (trust domain '" + td + "', namespace '"
                    + identityNs + "', service account '" + identitySa + "')");
        }
        List<InetAddress> otherIps = (flags & OTHER_IPS) != 0 ? in.list(wf + ".otherIps", 5, WireReader::inet) : List.of();
        boolean meshed = (flags & MESHED) != 0;
        InetAddress address = ip;
        return MeshCodec.build(wf, () -> new Workload(ns, name, node, address, sa, labels, meshed, identity, workloadName,
                otherIps));
    }

    private static SpiffeId newSpiffeId(String trustDomain, String namespace, String serviceAccount) {
        try {
            return new SpiffeId(trustDomain, namespace, serviceAccount);
        } catch (IllegalArgumentException e) {
            return null;
        }
    }

    private static List<Service> compactServices(WireReader r, String f, List<String> strings,
            List<Workload> workloads) throws ProtocolException {
        return r.list(f, 12, (in, sf) -> {
            String ns = string(in, sf + ".namespace", strings);
            String name = in.shortString(sf + ".name");
            var vips = in.list(sf + ".vips", 5, WireReader::inet);
            var ports = in.list(sf + ".ports", 8, (in2, pf) -> {
                String pn = in2.string(pf + ".name");
                int port = in2.u16(pf + ".port");
                int target = in2.u16(pf + ".targetPort");
                return MeshCodec.build(pf, () -> new Service.Port(pn, port, target));
            });
            int n = in.varint(sf + ".endpoints.count");
            if ((long) n * 2 > in.remaining()) {
                throw new ProtocolException(sf + ".endpoints.count: " + n + " (expected: at most "
                        + in.remaining() / 2 + " for the bytes left)");
            }
            var endpoints = new ArrayList<Service.Endpoint>(n);
            for (int i = 0; i < n; i++) {
                String ef = sf + ".endpoints[" + i + "]";
                int flags = in.u8(ef + ".flags");
                if ((flags & ~(READY | BY_INDEX | NAMED | IP_OF_WORKLOAD)) != 0
                        || (flags & (BY_INDEX | NAMED)) == (BY_INDEX | NAMED)
                        || ((flags & IP_OF_WORKLOAD) != 0 && (flags & BY_INDEX) == 0)) {
                    throw new ProtocolException(ef + ".flags: " + flags
                            + " (expected: bit 1; bit 2 or 4; bit 8 only with bit 2)");
                }
                var ip = (flags & IP_OF_WORKLOAD) != 0 ? null : in.inet(ef + ".ip");
                String wl = "";
                if ((flags & BY_INDEX) != 0) {
                    int at = in.varint(ef + ".workload");
                    if (at >= workloads.size()) {
                        throw new ProtocolException(ef + ".workload: " + at + " (expected: 0-" + (workloads.size() - 1)
                                + ", a workload of this frame)");
                    }
                    wl = workloads.get(at).key();
                    if (ip == null) {
                        ip = workloads.get(at).ip();
                    }
                } else if ((flags & NAMED) != 0) {
                    wl = string(in, ef + ".workload", strings);
                }
                endpoints.add(new Service.Endpoint(ip, (flags & READY) != 0, wl));
            }
            return MeshCodec.build(sf, () -> new Service(ns, name, vips, ports, endpoints));
        });
    }
}
