package dev.tessera.agent.redirect;

import static java.util.Objects.requireNonNull;

import dev.tessera.agent.redirect.ffi.Bpf;
import dev.tessera.agent.redirect.ffi.BpfException;
import dev.tessera.agent.redirect.ffi.BpfMap;
import dev.tessera.agent.redirect.ffi.LibBpf;
import dev.tessera.agent.redirect.ffi.LinkInfo;
import dev.tessera.api.net.Ipv4Cidr;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import jnr.ffi.Pointer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * PeerAuthentication and the policy of plaintext connections in the kernel: loads {@code peerauth.bpf.o}
 * (cgroup_skb/ingress, see {@code ebpf-programs/src/peerauth.bpf.c}), attaches it to the cgroup v2 root with
 * a pinned bpf_link ({@code <pinDir>/peerauth/links/tsp_ingress}, re-adopted and switched atomically on
 * restart like the redirect programs) and keeps its maps in sync: {@code tsp_pods} (pod IP -> node IP, mode,
 * flags, counters) with the effective mode of this node's meshed pods, {@code tsp_plain_rules} (pod, port,
 * source network -> allow/deny, hits) with the plaintext decisions compiled by the policy stage.
 * {@link #close()} releases file descriptors only (STRICT and the plaintext rules stay enforced while the
 * agent is down); {@link #uninstall(Path)} detaches and removes the pins.
 */
public final class PeerAuthProgram implements AutoCloseable {

    /** The object inside the ebpf-programs jar. */
    static final String OBJECT_RESOURCE = "/ebpf/peerauth.bpf.o";
    static final String PROGRAM = "tsp_ingress";
    static final String MAP = "tsp_pods";
    static final String RULES_MAP = "tsp_plain_rules";
    static final String DELIVERIES_MAP = "tsp_deliveries";
    /** {@code sizeof(struct tsp_delivery_key)}. */
    static final int DELIVERY_KEY_SIZE = 12;
    static final String EVENTS_MAP = "tsp_plain_events";
    static final String LOST_MAP = "tsp_plain_events_lost";
    /** {@code sizeof(struct tsp_plain_event)}. */
    static final int EVENT_SIZE = 16;
    /** {@code max_entries} of {@code tsp_plain_events}: at most this many events wait between two drains. */
    public static final int MAX_QUEUED_EVENTS = 4096;
    /** {@code max_entries} of {@code tsp_plain_rules}. */
    public static final int MAX_RULES = 16_384;
    /** {@code sizeof(struct tsp_plain_key)} and {@code sizeof(struct tsp_plain_verdict)}. */
    static final int RULE_KEY_SIZE = 16;
    static final int RULE_VALUE_SIZE = 16;
    /** {@code TSP_PLAIN_FIXED_BITS}: pod address, port and pad, before the source address. */
    static final int FIXED_BITS = 64;
    /** {@code TSP_POD_PLAIN_RULES}. */
    static final int FLAG_PLAIN_RULES = 1;
    /** {@code BPF_CGROUP_INET_INGRESS}. */
    static final int ATTACH_INET_INGRESS = 0;
    /** {@code sizeof(struct tsp_pod)}. */
    static final int POD_SIZE = 32;
    private static final Logger log = LoggerFactory.getLogger(PeerAuthProgram.class);

    /** Per-pod kernel counters of connection attempts. */
    public record Counters(long plaintext, long dropped, long mesh) {}

    /**
     * What the kernel enforces for one meshed pod of this node.
     *
     * @param name the pod ({@code namespace/name}), for messages
     * @param strict PeerAuthentication STRICT: every plaintext SYN is dropped (the rules are not consulted)
     * @param plaintextRules the decisions of plaintext SYNs, or {@code null}: no policy selects the pod and
     *     plaintext is passed (PERMISSIVE). An empty list denies every plaintext SYN.
     */
    public record Pod(String name, boolean strict, List<PlainRule> plaintextRules) {
        public Pod {
            requireNonNull(name, "name");
            plaintextRules = plaintextRules == null ? null : List.copyOf(plaintextRules);
        }
    }

    /**
     * One entry of {@code tsp_plain_rules} for a pod: plaintext SYNs to {@code port} (0: a port no entry of
     * the pod names) whose source's longest match among the pod's entries is {@code source}.
     */
    public record PlainRule(int port, Ipv4Cidr source, boolean allow) {
        public PlainRule {
            requireNonNull(source, "source");
            if (port < 0 || port > 65535) {
                throw new IllegalArgumentException("port: " + port + " (expected: 0-65535)");
            }
        }
    }

    /** How the kernel decided one plaintext connection attempt ({@code TSP_PLAIN_EV_*}). */
    public enum PlainVerdict {
        /** Passed by a {@code tsp_plain_rules} entry (an AuthorizationPolicy allows it). */
        ALLOWED(true),
        /** Dropped by a {@code tsp_plain_rules} entry or a miss (an AuthorizationPolicy denies it). */
        DENIED(false),
        /** Dropped: the pod's PeerAuthentication is STRICT. */
        STRICT(false),
        /** Passed: PERMISSIVE and no AuthorizationPolicy selects the pod. */
        PERMISSIVE(true);

        private final boolean allowed;

        PlainVerdict(boolean allowed) {
            this.allowed = allowed;
        }

        /** Whether the SYN reached the pod. */
        public boolean allowed() {
            return allowed;
        }
    }

    /**
     * One plaintext SYN to a meshed pod of this node as {@code tsp_ingress} decided it ({@code struct
     * tsp_plain_event}). A client's retransmitted SYN is a separate event.
     */
    public record PlainEvent(InetSocketAddress source, InetSocketAddress pod, PlainVerdict verdict) {
        public PlainEvent {
            requireNonNull(source, "source");
            requireNonNull(pod, "pod");
            requireNonNull(verdict, "verdict");
        }
    }

    /** The key of one {@code tsp_plain_rules} entry, as the metrics name it. */
    public record RuleKey(InetAddress pod, int port, Ipv4Cidr source) {}

    private final BpfMap pods;
    private final BpfMap rules;
    private final BpfMap deliveries;
    private final BpfMap events;
    private final BpfMap lost;
    private final byte[] nodeIp;
    private volatile Map<String, String> refused = Map.of();
    private String lastWriteError = "";

    private PeerAuthProgram(BpfMap pods, BpfMap rules, BpfMap deliveries, BpfMap events, BpfMap lost,
            byte[] nodeIp) {
        this.pods = pods;
        this.rules = rules;
        this.deliveries = deliveries;
        this.events = events;
        this.lost = lost;
        this.nodeIp = nodeIp;
    }

    /**
     * Loads and attaches (or re-adopts) the program. {@code nodeIp} is the one trusted plaintext source written to
     * {@code tsp_pod.node_ip}: the probe address kubelet probes are SNATed to ({@link ProbeSnat}), or the node IP
     * when that SNAT is not in place.
     */
    public static PeerAuthProgram install(Path pinDir, Path cgroupDir, InetAddress nodeIp) {
        return install(pinDir, cgroupDir, nodeIp, RedirectSettings.DEFAULT_MAX_PODS);
    }

    /** As {@link #install(Path, Path, InetAddress)} with {@code tsp_pods} sized for {@code maxPods} pods. */
    public static PeerAuthProgram install(Path pinDir, Path cgroupDir, InetAddress nodeIp, int maxPods) {
        requireNonNull(nodeIp, "nodeIp");
        if (!(nodeIp instanceof Inet4Address)) {
            throw new IllegalArgumentException("nodeIp: " + nodeIp + " (expected: an IPv4 address)");
        }
        Path root = root(pinDir);
        BpfFs.ensureMounted(root);
        Path mapPin = root.resolve("maps").resolve(MAP);
        Path rulesPin = root.resolve("maps").resolve(RULES_MAP);
        Path deliveriesPin = root.resolve("maps").resolve(DELIVERIES_MAP);
        Path eventsPin = root.resolve("maps").resolve(EVENTS_MAP);
        Path lostPin = root.resolve("maps").resolve(LOST_MAP);
        Path linkPin = root.resolve("links").resolve(PROGRAM);
        try {
            Files.createDirectories(mapPin.getParent());
            Files.createDirectories(linkPin.getParent());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create pin dir " + root + " (hint: is bpffs mounted?)", e);
        }
        Bpf bpf = Bpf.get();
        LibBpf lib = bpf.lib();
        Path object = extract();
        Pointer obj = null;
        int cgroupFd = -1;
        try {
            obj = lib.bpf_object__open_file(object.toString(), null);
            if (obj == null) {
                throw new BpfException("bpf_object__open_file(" + OBJECT_RESOURCE + ")", bpf.lastErrno());
            }
            Pointer map = lib.bpf_object__find_map_by_name(obj, MAP);
            if (map == null) {
                throw new IllegalStateException(OBJECT_RESOURCE + " has no map " + MAP);
            }
            Bpf.check(lib.bpf_map__set_pin_path(map, mapPin.toString()), "map " + MAP + ": set pin path");
            bpf.sizeMap(map, MAP, mapPin.toString(), maxPods);
            Pointer rulesMap = lib.bpf_object__find_map_by_name(obj, RULES_MAP);
            if (rulesMap == null) {
                throw new IllegalStateException(OBJECT_RESOURCE + " has no map " + RULES_MAP);
            }
            Bpf.check(lib.bpf_map__set_pin_path(rulesMap, rulesPin.toString()), "map " + RULES_MAP + ": set pin path");
            Pointer deliveriesMap = lib.bpf_object__find_map_by_name(obj, DELIVERIES_MAP);
            if (deliveriesMap == null) {
                throw new IllegalStateException(OBJECT_RESOURCE + " has no map " + DELIVERIES_MAP);
            }
            Bpf.check(lib.bpf_map__set_pin_path(deliveriesMap, deliveriesPin.toString()),
                    "map " + DELIVERIES_MAP + ": set pin path");
            for (String name : new String[] {EVENTS_MAP, LOST_MAP}) {
                Pointer m = lib.bpf_object__find_map_by_name(obj, name);
                if (m == null) {
                    throw new IllegalStateException(OBJECT_RESOURCE + " has no map " + name);
                }
                Bpf.check(lib.bpf_map__set_pin_path(m, root.resolve("maps").resolve(name).toString()),
                        "map " + name + ": set pin path");
            }
            Bpf.check(lib.bpf_object__load(obj), "bpf_object__load(" + OBJECT_RESOURCE + ")");
            Pointer prog = lib.bpf_object__find_program_by_name(obj, PROGRAM);
            if (prog == null) {
                throw new IllegalStateException(OBJECT_RESOURCE + " has no program " + PROGRAM);
            }
            cgroupFd = bpf.openDirectory(cgroupDir.toString());
            attachOrAdopt(bpf, prog, cgroupFd, Cgroups.id(cgroupDir), linkPin);
            BpfMap pods = BpfMap.openPinned(MAP, mapPin.toString(), 4, POD_SIZE);
            List<BpfMap> opened = new ArrayList<>(List.of(pods));
            try {
                BpfMap rules = BpfMap.openPinned(RULES_MAP, rulesPin.toString(), RULE_KEY_SIZE, RULE_VALUE_SIZE);
                opened.add(rules);
                BpfMap deliveries = BpfMap.openPinned(DELIVERIES_MAP, deliveriesPin.toString(), DELIVERY_KEY_SIZE, 4);
                opened.add(deliveries);
                BpfMap events = BpfMap.openPinned(EVENTS_MAP, eventsPin.toString(), 0, EVENT_SIZE);
                opened.add(events);
                BpfMap lost = BpfMap.openPinned(LOST_MAP, lostPin.toString(), 4, 8);
                return new PeerAuthProgram(pods, rules, deliveries, events, lost, nodeIp.getAddress());
            } catch (RuntimeException e) {
                opened.forEach(BpfMap::close);
                throw e;
            }
        } finally {
            if (obj != null) {
                lib.bpf_object__close(obj);
            }
            bpf.close(cgroupFd);
            try {
                Files.deleteIfExists(object);
            } catch (IOException ignored) {
                // a temp file
            }
        }
    }

    private static void attachOrAdopt(Bpf bpf, Pointer prog, int cgroupFd, long cgroupId, Path linkPin) {
        LibBpf lib = bpf.lib();
        if (Files.exists(linkPin)) {
            Pointer link = lib.bpf_link__open(linkPin.toString());
            if (link == null) {
                throw new BpfException("program " + PROGRAM + ": bpf_link__open(" + linkPin + ")", bpf.lastErrno());
            }
            try {
                LinkInfo info = bpf.linkInfo(lib.bpf_link__fd(link), "link " + linkPin);
                if (info.cgroupId() == cgroupId && info.attachType() == ATTACH_INET_INGRESS) {
                    Bpf.check(lib.bpf_link__update_program(link, prog), "program " + PROGRAM + ": update " + linkPin);
                    log.info("re-adopted link {} (id {})", linkPin, info.linkId());
                    return;
                }
                Bpf.check(lib.bpf_link_detach(lib.bpf_link__fd(link)), "detach stale link " + linkPin);
            } finally {
                lib.bpf_link__destroy(link);
            }
            deleteQuietly(linkPin);
        }
        Pointer link = lib.bpf_program__attach_cgroup(prog, cgroupFd);
        if (link == null) {
            throw new BpfException("program " + PROGRAM + ": attach to cgroup fd " + cgroupFd, bpf.lastErrno());
        }
        try {
            Bpf.check(lib.bpf_link__pin(link, linkPin.toString()), "program " + PROGRAM + ": pin link at " + linkPin);
        } finally {
            lib.bpf_link__destroy(link);
        }
    }

    /**
     * Makes {@code tsp_pods} and {@code tsp_plain_rules} hold exactly {@code wanted} (pod IPv4 address ->
     * what to enforce), keeping the pods' counters and the entries' hits. Returns (and keeps, see
     * {@link #refused()}) the pods whose plaintext rules the kernel could not hold: they get the rules flag
     * and no entries, so every plaintext SYN to them is dropped (fail closed).
     *
     * <p>Order, so that no moment is more permissive than both the old and the new policy: (1) new and
     * changed DENY entries, (2) pods without rules (flag off) and removed pods, (3) stale entries, (4) new
     * and changed ALLOW entries, (5) pods with rules (flag on, after all their entries are in).
     */
    public synchronized Map<String, String> sync(Map<InetAddress, Pod> wanted) {
        var podsWanted = new java.util.LinkedHashMap<ByteBuffer, Pod>();
        var entries = new java.util.LinkedHashMap<ByteBuffer, Map<ByteBuffer, Boolean>>(); // pod -> key -> allow
        var out = new java.util.TreeMap<String, String>();
        int total = 0;
        for (var e : new java.util.TreeMap<>(keyed(wanted)).values()) { // by pod name: who fits is stable
            Pod pod = e.getValue();
            ByteBuffer podKey = ByteBuffer.wrap(e.getKey().getAddress());
            podsWanted.put(podKey, pod);
            if (pod.strict() || pod.plaintextRules() == null) {
                continue;
            }
            var mine = new java.util.LinkedHashMap<ByteBuffer, Boolean>();
            for (PlainRule r : pod.plaintextRules()) {
                mine.put(ByteBuffer.wrap(ruleKey(podKey.array(), r.port(), r.source())), r.allow());
            }
            if (total + mine.size() > MAX_RULES) {
                out.put(pod.name(), "its plaintext policy needs " + mine.size() + " entries of " + RULES_MAP + ", "
                        + (MAX_RULES - total) + " of " + MAX_RULES + " are left (plaintext to it is denied)");
                mine.clear();
            }
            total += mine.size();
            entries.put(podKey, mine);
        }
        Map<ByteBuffer, byte[]> inKernel = new HashMap<>();
        for (byte[] k : rules.keys()) {
            rules.lookup(k).ifPresent(v -> inKernel.put(ByteBuffer.wrap(k), v));
        }
        var retry = new HashSet<ByteBuffer>();
        for (var e : entries.entrySet()) { // (1)
            if (!writeRules(e.getValue(), inKernel, false)) {
                retry.add(e.getKey()); // e.g. E2BIG while the stale entries are still in: again after (3)
            }
        }
        for (var e : podsWanted.entrySet()) { // (2)
            if (!entries.containsKey(e.getKey())) {
                writePod(e.getKey().array(), e.getValue(), false);
            }
        }
        for (byte[] key : pods.keys()) {
            if (!podsWanted.containsKey(ByteBuffer.wrap(key))) {
                pods.delete(key);
            }
        }
        var keep = new HashSet<ByteBuffer>();
        entries.forEach((pod, mine) -> {
            if (!retry.contains(pod)) {
                keep.addAll(mine.keySet());
            }
        });
        for (ByteBuffer k : inKernel.keySet()) { // (3); a retried pod's entries go too: it starts clean
            if (!keep.contains(k)) {
                rules.delete(k.array());
            }
        }
        for (var e : entries.entrySet()) { // (4)
            boolean again = retry.contains(e.getKey());
            Map<ByteBuffer, byte[]> current = again ? Map.of() : inKernel;
            boolean ok = (!again || writeRules(e.getValue(), current, false)) && writeRules(e.getValue(), current, true);
            if (!ok) {
                Pod pod = podsWanted.get(e.getKey());
                out.put(pod.name(), "the kernel refused its plaintext rules (plaintext to it is denied): "
                        + lastWriteError);
                for (ByteBuffer k : e.getValue().keySet()) {
                    rules.delete(k.array());
                }
            }
        }
        for (var e : entries.entrySet()) { // (5)
            writePod(e.getKey().array(), podsWanted.get(e.getKey()), true);
        }
        for (var e : out.entrySet()) {
            if (!refused.containsKey(e.getKey())) { // once per pod, not every sync
                log.error("pod {}: plaintext policy not enforceable in the kernel, every plaintext connection to it "
                        + "is denied (readiness fails): {}", e.getKey(), e.getValue());
            }
        }
        refused = Map.copyOf(out);
        return refused;
    }

    /** Pods whose plaintext rules did not fit at the last {@link #sync} (pod -> why); they deny all plaintext. */
    public Map<String, String> refused() {
        return refused;
    }

    /** Writes the entries of {@code allow} (true) or deny decisions that are new or changed; false on a kernel error. */
    private boolean writeRules(Map<ByteBuffer, Boolean> mine, Map<ByteBuffer, byte[]> inKernel, boolean allow) {
        for (var r : mine.entrySet()) {
            if (r.getValue() != allow) {
                continue;
            }
            byte[] old = inKernel.get(r.getKey());
            if (old != null && verdictAllows(old) == allow) {
                continue; // unchanged: keep its hits untouched
            }
            try {
                rules.update(r.getKey().array(), verdict(allow, old == null ? 0 : hits(old)));
            } catch (RuntimeException e) {
                lastWriteError = String.valueOf(e.getMessage());
                return false;
            }
        }
        return true;
    }

    private void writePod(byte[] key, Pod pod, boolean withRules) {
        Counters old = pods.lookup(key).map(PeerAuthProgram::counters).orElse(new Counters(0, 0, 0));
        pods.update(key, encode(nodeIp, pod.strict(), withRules ? FLAG_PLAIN_RULES : 0, old));
    }

    private static Map<String, Map.Entry<Inet4Address, Pod>> keyed(Map<InetAddress, Pod> wanted) {
        var out = new HashMap<String, Map.Entry<Inet4Address, Pod>>();
        for (var e : wanted.entrySet()) {
            if (e.getKey() instanceof Inet4Address a) {
                out.put(e.getValue().name() + " " + a.getHostAddress(), Map.entry(a, e.getValue()));
            }
        }
        return out;
    }

    /** Hits of every entry of {@code tsp_plain_rules} (plaintext SYNs it decided since it was written). */
    public Map<RuleKey, Long> ruleHits() {
        var out = new HashMap<RuleKey, Long>();
        for (byte[] key : rules.keys()) {
            rules.lookup(key).ifPresent(v -> out.put(ruleKey(key), hits(v)));
        }
        return out;
    }

    /** The kernel counters of every pod in the map. */
    public Map<InetAddress, Counters> counters() {
        var out = new HashMap<InetAddress, Counters>();
        for (byte[] key : pods.keys()) {
            Optional<byte[]> v = pods.lookup(key);
            if (v.isPresent()) {
                try {
                    out.put(InetAddress.getByAddress(key), counters(v.get()));
                } catch (IOException e) {
                    throw new IllegalStateException(e);
                }
            }
        }
        return out;
    }

    /** struct tsp_pod: node_ip (network order), mode (u16), flags (u16), plaintext, dropped, mesh (host order). */
    static byte[] encode(byte[] nodeIp, boolean strict, int flags, Counters c) {
        ByteBuffer b = ByteBuffer.allocate(POD_SIZE).order(ByteOrder.nativeOrder());
        b.put(nodeIp).putShort((short) (strict ? 1 : 0)).putShort((short) flags).putLong(c.plaintext())
                .putLong(c.dropped()).putLong(c.mesh());
        return b.array();
    }

    /**
     * struct tsp_plain_key: prefixlen (host order) = 64 + source prefix; pod address, port, pad and source
     * network in network order.
     */
    static byte[] ruleKey(byte[] podIp, int port, Ipv4Cidr source) {
        ByteBuffer b = ByteBuffer.allocate(RULE_KEY_SIZE).order(ByteOrder.nativeOrder());
        b.putInt(FIXED_BITS + source.prefix()).put(podIp);
        b.order(ByteOrder.BIG_ENDIAN).putShort((short) port).putShort((short) 0).putInt(source.network());
        return b.array();
    }

    static RuleKey ruleKey(byte[] key) {
        ByteBuffer b = ByteBuffer.wrap(key).order(ByteOrder.nativeOrder());
        int prefix = b.getInt(0) - FIXED_BITS;
        byte[] pod = new byte[4];
        b.get(4, pod);
        b.order(ByteOrder.BIG_ENDIAN);
        try {
            return new RuleKey(InetAddress.getByAddress(pod), b.getShort(8) & 0xffff, new Ipv4Cidr(b.getInt(12), prefix));
        } catch (IOException e) {
            throw new IllegalStateException(e); // four bytes are always an IPv4 address
        }
    }

    /** struct tsp_plain_verdict: allow (u32), pad, hits (host order). */
    static byte[] verdict(boolean allow, long hits) {
        return ByteBuffer.allocate(RULE_VALUE_SIZE).order(ByteOrder.nativeOrder()).putInt(allow ? 1 : 0).putInt(0)
                .putLong(hits).array();
    }

    static boolean verdictAllows(byte[] v) {
        return ByteBuffer.wrap(v).order(ByteOrder.nativeOrder()).getInt(0) == 1;
    }

    static long hits(byte[] v) {
        return ByteBuffer.wrap(v).order(ByteOrder.nativeOrder()).getLong(8);
    }

    /**
     * Records a connection the agent is about to dial to a local pod from another address than the node's (the
     * client pod's, IP_TRANSPARENT): called after bind(), before connect(), so its SYN is known as the agent's
     * delivery and never judged as plaintext. Both addresses IPv4.
     *
     * @return false when the kernel refused the entry (the caller then dials from the node address)
     */
    public boolean addDelivery(InetSocketAddress local, InetSocketAddress remote) {
        try {
            deliveries.update(deliveryKey(local, remote), new byte[] {1, 0, 0, 0});
            return true;
        } catch (RuntimeException e) {
            log.debug("cannot record delivery {} -> {}", local, remote, e);
            return false;
        }
    }

    /** Forgets a delivery recorded by {@link #addDelivery} (its connection closed). */
    public void removeDelivery(InetSocketAddress local, InetSocketAddress remote) {
        try {
            deliveries.delete(deliveryKey(local, remote));
        } catch (RuntimeException e) {
            log.debug("cannot forget delivery {} -> {}", local, remote, e);
        }
    }

    /** Deliveries recorded now (open transparent connections to local pods, and what an LRU has not evicted). */
    public int deliveries() {
        return deliveries.count(Integer.MAX_VALUE);
    }

    /** {@code struct tsp_delivery_key}: saddr, daddr, sport, dport, all in network order. */
    static byte[] deliveryKey(InetSocketAddress local, InetSocketAddress remote) {
        if (!(local.getAddress() instanceof Inet4Address) || !(remote.getAddress() instanceof Inet4Address)) {
            throw new IllegalArgumentException("delivery: " + local + " -> " + remote + " (expected: IPv4)");
        }
        return ByteBuffer.allocate(DELIVERY_KEY_SIZE).order(ByteOrder.BIG_ENDIAN)
                .put(local.getAddress().getAddress()).put(remote.getAddress().getAddress())
                .putShort((short) local.getPort()).putShort((short) remote.getPort()).array();
    }

    /**
     * Takes up to {@code max} queued plaintext decisions, oldest first ({@code tsp_plain_events}; the
     * kernel keeps at most {@link #MAX_QUEUED_EVENTS}, later ones are lost and counted).
     */
    public List<PlainEvent> drainPlainEvents(int max) {
        List<PlainEvent> out = new ArrayList<>();
        while (out.size() < max) {
            Optional<byte[]> e = events.pop();
            if (e.isEmpty()) {
                break;
            }
            out.add(plainEvent(e.get()));
        }
        return out;
    }

    /** Plaintext decisions the kernel could not queue (the queue was full) since the map was created. */
    public long plainEventsLost() {
        return lost.lookup(new byte[4])
                .map(v -> ByteBuffer.wrap(v).order(ByteOrder.nativeOrder()).getLong(0))
                .orElse(0L);
    }

    /** Decodes {@code struct tsp_plain_event}; an unknown verdict is refused. */
    static PlainEvent plainEvent(byte[] value) {
        if (value.length != EVENT_SIZE) {
            throw new IllegalArgumentException("event: " + value.length + " bytes (expected: " + EVENT_SIZE + ")");
        }
        ByteBuffer b = ByteBuffer.wrap(value).order(ByteOrder.BIG_ENDIAN); // addresses and ports: network order
        try {
            InetAddress src = InetAddress.getByAddress(Arrays.copyOfRange(value, 0, 4));
            InetAddress pod = InetAddress.getByAddress(Arrays.copyOfRange(value, 4, 8));
            int sport = Short.toUnsignedInt(b.getShort(8));
            int dport = Short.toUnsignedInt(b.getShort(10));
            int v = Byte.toUnsignedInt(value[12]);
            if (v < 1 || v > PlainVerdict.values().length) {
                throw new IllegalArgumentException("event verdict: " + v + " (expected: 1-4)");
            }
            return new PlainEvent(new InetSocketAddress(src, sport), new InetSocketAddress(pod, dport),
                    PlainVerdict.values()[v - 1]);
        } catch (UnknownHostException e) {
            throw new IllegalStateException(e); // 4 bytes are always an address
        }
    }

    static Counters counters(byte[] value) {
        ByteBuffer b = ByteBuffer.wrap(value).order(ByteOrder.nativeOrder());
        return new Counters(b.getLong(8), b.getLong(16), b.getLong(24));
    }

    /** Detaches the program and removes its pins under {@code pinDir} (no-op when absent). */
    public static void uninstall(Path pinDir) {
        Path root = root(pinDir);
        Path linkPin = root.resolve("links").resolve(PROGRAM);
        if (Files.exists(linkPin)) {
            Bpf bpf = Bpf.get();
            int fd = bpf.objGet(linkPin.toString(), "link " + PROGRAM);
            try {
                Bpf.check(bpf.lib().bpf_link_detach(fd), "detach link " + linkPin);
            } finally {
                bpf.close(fd);
            }
        }
        for (Path p : new Path[] {linkPin, root.resolve("maps").resolve(MAP), root.resolve("maps").resolve(RULES_MAP),
            root.resolve("maps").resolve(DELIVERIES_MAP), root.resolve("maps").resolve(EVENTS_MAP),
            root.resolve("maps").resolve(LOST_MAP), root.resolve("links"), root.resolve("maps"), root}) {
            deleteQuietly(p);
        }
    }

    private static Path root(Path pinDir) {
        return requireNonNull(pinDir, "pinDir").toAbsolutePath().normalize().resolve("peerauth");
    }

    private static Path extract() {
        try (InputStream in = PeerAuthProgram.class.getResourceAsStream(OBJECT_RESOURCE)) {
            if (in == null) {
                throw new IllegalStateException(OBJECT_RESOURCE + " is not on the classpath (hint: build ebpf-programs)");
            }
            Path tmp = Files.createTempFile("tessera-peerauth", ".bpf.o");
            Files.copy(in, tmp, StandardCopyOption.REPLACE_EXISTING);
            return tmp;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot extract " + OBJECT_RESOURCE, e);
        }
    }

    private static void deleteQuietly(Path p) {
        try {
            Files.deleteIfExists(p);
        } catch (IOException e) {
            log.warn("cannot remove {}: {}", p, e.toString());
        }
    }

    @Override
    public void close() {
        pods.close();
        rules.close();
        deliveries.close();
        events.close();
        lost.close();
    }
}
