package dev.tessera.agent.redirect;

import static java.util.Objects.requireNonNull;

import dev.tessera.agent.redirect.ffi.Bpf;
import dev.tessera.agent.redirect.ffi.BpfException;
import dev.tessera.agent.redirect.ffi.BpfMap;
import dev.tessera.agent.redirect.ffi.LibBpf;
import dev.tessera.agent.redirect.ffi.LinkInfo;
import dev.tessera.agent.redirect.ffi.RingBell;
import dev.tessera.api.net.IpCidr;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.Inet4Address;
import java.net.Inet6Address;
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
 * source network -> allow/deny, hits) with the plaintext decisions compiled by the policy stage; for pods'
 * IPv6 addresses their counterparts {@code tsp_pods6} and {@code tsp_plain_rules6} (a dual-stack pod is in
 * both families' maps, see {@code tessera_peerauth.h}).
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
    static final String MAP6 = "tsp_pods6";
    static final String RULES_MAP6 = "tsp_plain_rules6";
    static final String DELIVERIES_MAP6 = "tsp_deliveries6";
    static final String EVENTS_MAP6 = "tsp_plain_events6";
    /** The doorbell rung after each queued event ({@code RINGBUF}, see {@link #plainEventBell()}). */
    static final String BELL_MAP = "tsp_plain_bell";
    /** {@code sizeof(struct tsp_pod6)}. */
    static final int POD6_SIZE = 48;
    /** {@code sizeof(struct tsp_plain_key6)}. */
    static final int RULE_KEY6_SIZE = 40;
    /** {@code TSP_PLAIN_FIXED_BITS6}. */
    static final int FIXED_BITS6 = 160;
    /** {@code sizeof(struct tsp_delivery_key6)}. */
    static final int DELIVERY_KEY6_SIZE = 36;
    /** {@code sizeof(struct tsp_plain_event6)}. */
    static final int EVENT6_SIZE = 40;
    /** {@code max_entries} of {@code tsp_plain_rules6} (a budget of its own next to {@link #MAX_RULES}). */
    public static final int MAX_RULES6 = 16_384;
    /** Every map of the object, pinned under {@code <pin dir>/peerauth/maps/}. */
    static final List<String> MAPS = List.of(MAP, RULES_MAP, DELIVERIES_MAP, EVENTS_MAP, LOST_MAP, MAP6, RULES_MAP6,
            DELIVERIES_MAP6, EVENTS_MAP6, BELL_MAP);
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
    public record PlainRule(int port, IpCidr source, boolean allow) {
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
    public record RuleKey(InetAddress pod, int port, IpCidr source) {}

    /**
     * One family's pod and rule maps: IPv4 ({@code tsp_pods}, {@code tsp_plain_rules}) or IPv6 ({@code tsp_pods6},
     * {@code tsp_plain_rules6}), with the trusted probe source written into each of its pods.
     */
    private record Family(IpCidr.Family family, BpfMap pods, BpfMap rules, String rulesName, int maxRules,
            byte[] trusted) {}

    /** A pod address in one family's map. */
    private record Slot(Family family, ByteBuffer key) {}

    private final Family v4;
    private final Family v6;
    private final BpfMap deliveries;
    private final BpfMap deliveries6;
    private final BpfMap events;
    private final BpfMap events6;
    private final BpfMap lost;
    private final Path bellPin;
    private volatile Map<String, String> refused = Map.of();
    private String lastWriteError = "";

    private PeerAuthProgram(Map<String, BpfMap> maps, byte[] trusted, byte[] trusted6, Path bellPin) {
        this.bellPin = bellPin;
        this.v4 = new Family(IpCidr.Family.IPV4, maps.get(MAP), maps.get(RULES_MAP), RULES_MAP, MAX_RULES, trusted);
        this.v6 = new Family(IpCidr.Family.IPV6, maps.get(MAP6), maps.get(RULES_MAP6), RULES_MAP6, MAX_RULES6,
                trusted6);
        this.deliveries = maps.get(DELIVERIES_MAP);
        this.deliveries6 = maps.get(DELIVERIES_MAP6);
        this.events = maps.get(EVENTS_MAP);
        this.events6 = maps.get(EVENTS_MAP6);
        this.lost = maps.get(LOST_MAP);
    }

    /**
     * Loads and attaches (or re-adopts) the program. {@code nodeIp} is the one trusted plaintext source written to
     * {@code tsp_pod.node_ip}: the probe address kubelet probes are SNATed to ({@link ProbeSnat}), or the node IP
     * when that SNAT is not in place. IPv6 pods get no trusted probe source (see
     * {@link #install(Path, Path, InetAddress, InetAddress, int)}).
     */
    public static PeerAuthProgram install(Path pinDir, Path cgroupDir, InetAddress nodeIp) {
        return install(pinDir, cgroupDir, nodeIp, null, RedirectSettings.DEFAULT_MAX_PODS);
    }

    /** As {@link #install(Path, Path, InetAddress)} with {@code tsp_pods} sized for {@code maxPods} pods. */
    public static PeerAuthProgram install(Path pinDir, Path cgroupDir, InetAddress nodeIp, int maxPods) {
        return install(pinDir, cgroupDir, nodeIp, null, maxPods);
    }

    /**
     * Loads and attaches (or re-adopts) the program, {@code tsp_pods} and {@code tsp_pods6} sized for {@code maxPods}.
     *
     * @param trusted the trusted IPv4 probe source ({@code tsp_pod.node_ip}): the probe SNAT address, or the node's
     *     IPv4 address when that SNAT is not in place
     * @param trusted6 the trusted IPv6 probe source ({@code tsp_pod6.probe_ip}): the IPv6 probe SNAT address when
     *     the node SNATs the kubelet's IPv6 probes, else the node's IPv6 address (the same fallback as IPv4), or
     *     {@code null}: no IPv6 source but the pod itself and recorded deliveries is trusted (STRICT then refuses
     *     kubelet probes over IPv6)
     */
    public static PeerAuthProgram install(Path pinDir, Path cgroupDir, InetAddress trusted, InetAddress trusted6,
            int maxPods) {
        requireNonNull(trusted, "nodeIp");
        if (!(trusted instanceof Inet4Address)) {
            throw new IllegalArgumentException("nodeIp: " + trusted + " (expected: an IPv4 address)");
        }
        if (trusted6 != null && (!(trusted6 instanceof Inet6Address) || IpCidr.Family.of(trusted6) != IpCidr.Family.IPV6
                || trusted6.isAnyLocalAddress())) {
            throw new IllegalArgumentException("trusted6: " + trusted6 + " (expected: an IPv6 address, or null)");
        }
        Path root = root(pinDir);
        BpfFs.ensureMounted(root);
        Path maps = root.resolve("maps");
        Path linkPin = root.resolve("links").resolve(PROGRAM);
        try {
            Files.createDirectories(maps);
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
            for (String name : MAPS) {
                Pointer m = lib.bpf_object__find_map_by_name(obj, name);
                if (m == null) {
                    throw new IllegalStateException(OBJECT_RESOURCE + " has no map " + name);
                }
                String pin = maps.resolve(name).toString();
                Bpf.check(lib.bpf_map__set_pin_path(m, pin), "map " + name + ": set pin path");
                if (name.equals(MAP) || name.equals(MAP6)) {
                    bpf.sizeMap(m, name, pin, maxPods);
                }
            }
            Bpf.check(lib.bpf_object__load(obj), "bpf_object__load(" + OBJECT_RESOURCE + ")");
            Pointer prog = lib.bpf_object__find_program_by_name(obj, PROGRAM);
            if (prog == null) {
                throw new IllegalStateException(OBJECT_RESOURCE + " has no program " + PROGRAM);
            }
            cgroupFd = bpf.openDirectory(cgroupDir.toString());
            attachOrAdopt(bpf, prog, cgroupFd, Cgroups.id(cgroupDir), linkPin);
            var opened = new java.util.LinkedHashMap<String, BpfMap>();
            try {
                open(opened, maps, MAP, 4, POD_SIZE);
                open(opened, maps, RULES_MAP, RULE_KEY_SIZE, RULE_VALUE_SIZE);
                open(opened, maps, DELIVERIES_MAP, DELIVERY_KEY_SIZE, 4);
                open(opened, maps, EVENTS_MAP, 0, EVENT_SIZE);
                open(opened, maps, LOST_MAP, 4, 8);
                open(opened, maps, MAP6, 16, POD6_SIZE);
                open(opened, maps, RULES_MAP6, RULE_KEY6_SIZE, RULE_VALUE_SIZE);
                open(opened, maps, DELIVERIES_MAP6, DELIVERY_KEY6_SIZE, 4);
                open(opened, maps, EVENTS_MAP6, 0, EVENT6_SIZE);
                return new PeerAuthProgram(opened, trusted.getAddress(),
                        trusted6 == null ? new byte[16] : trusted6.getAddress(), maps.resolve(BELL_MAP));
            } catch (RuntimeException e) {
                opened.values().forEach(BpfMap::close);
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

    private static void open(Map<String, BpfMap> opened, Path maps, String name, int keySize, int valueSize) {
        opened.put(name, BpfMap.openPinned(name, maps.resolve(name).toString(), keySize, valueSize));
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
     * Makes {@code tsp_pods} and {@code tsp_plain_rules} (IPv4 pod addresses) and {@code tsp_pods6} and
     * {@code tsp_plain_rules6} (IPv6 pod addresses) hold exactly {@code wanted} (pod address -> what to enforce;
     * a dual-stack pod appears under both of its addresses, each with the rules of its address's family),
     * keeping the pods' counters and the entries' hits. Returns (and keeps, see {@link #refused()}) the pods
     * whose plaintext rules the kernel could not hold, or whose rules name a source of the other family than the
     * address: they get the rules flag and no entries, so every plaintext SYN to them is dropped (fail closed).
     *
     * <p>Order, so that no moment is more permissive than both the old and the new policy: (1) new and
     * changed DENY entries, (2) pods without rules (flag off) and removed pods, (3) stale entries, (4) new
     * and changed ALLOW entries, (5) pods with rules (flag on, after all their entries are in). Each step runs
     * for both families before the next.
     */
    public synchronized Map<String, String> sync(Map<InetAddress, Pod> wanted) {
        var podsWanted = new java.util.LinkedHashMap<Slot, Pod>();
        var entries = new java.util.LinkedHashMap<Slot, Map<ByteBuffer, Boolean>>(); // pod -> key -> allow
        var out = new java.util.TreeMap<String, String>();
        var total = new HashMap<Family, Integer>();
        for (var e : new java.util.TreeMap<>(keyed(wanted)).values()) { // by pod name: who fits is stable
            Pod pod = e.getValue();
            Family f = IpCidr.Family.of(e.getKey()) == IpCidr.Family.IPV4 ? v4 : v6;
            Slot slot = new Slot(f, ByteBuffer.wrap(e.getKey().getAddress()));
            podsWanted.put(slot, pod);
            if (pod.strict() || pod.plaintextRules() == null) {
                continue;
            }
            var mine = new java.util.LinkedHashMap<ByteBuffer, Boolean>();
            for (PlainRule r : pod.plaintextRules()) {
                if (r.source().family() != f.family()) {
                    out.put(pod.name(), "its plaintext rule for " + r.source() + " is not of the family of "
                            + e.getKey().getHostAddress() + " (plaintext to it is denied)");
                    mine.clear();
                    break;
                }
                mine.put(ByteBuffer.wrap(ruleKey(slot.key().array(), r.port(), r.source())), r.allow());
            }
            int used = total.getOrDefault(f, 0);
            if (used + mine.size() > f.maxRules()) {
                out.put(pod.name(), "its plaintext policy needs " + mine.size() + " entries of " + f.rulesName() + ", "
                        + (f.maxRules() - used) + " of " + f.maxRules() + " are left (plaintext to it is denied)");
                mine.clear();
            }
            total.put(f, used + mine.size());
            entries.put(slot, mine);
        }
        var inKernel = new HashMap<Family, Map<ByteBuffer, byte[]>>();
        for (Family f : List.of(v4, v6)) {
            var current = new HashMap<ByteBuffer, byte[]>();
            for (byte[] k : f.rules().keys()) {
                f.rules().lookup(k).ifPresent(v -> current.put(ByteBuffer.wrap(k), v));
            }
            inKernel.put(f, current);
        }
        var retry = new HashSet<Slot>();
        for (var e : entries.entrySet()) { // (1)
            if (!writeRules(e.getKey().family(), e.getValue(), inKernel.get(e.getKey().family()), false)) {
                retry.add(e.getKey()); // e.g. E2BIG while the stale entries are still in: again after (3)
            }
        }
        for (var e : podsWanted.entrySet()) { // (2)
            if (!entries.containsKey(e.getKey())) {
                writePod(e.getKey(), e.getValue(), false);
            }
        }
        for (Family f : List.of(v4, v6)) {
            for (byte[] key : f.pods().keys()) {
                if (!podsWanted.containsKey(new Slot(f, ByteBuffer.wrap(key)))) {
                    f.pods().delete(key);
                }
            }
        }
        var keep = new HashSet<ByteBuffer>(); // the families' keys differ in length: one set holds both
        entries.forEach((pod, mine) -> {
            if (!retry.contains(pod)) {
                keep.addAll(mine.keySet());
            }
        });
        for (Family f : List.of(v4, v6)) { // (3); a retried pod's entries go too: it starts clean
            for (ByteBuffer k : inKernel.get(f).keySet()) {
                if (!keep.contains(k)) {
                    f.rules().delete(k.array());
                }
            }
        }
        for (var e : entries.entrySet()) { // (4)
            Family f = e.getKey().family();
            boolean again = retry.contains(e.getKey());
            Map<ByteBuffer, byte[]> current = again ? Map.of() : inKernel.get(f);
            boolean ok = (!again || writeRules(f, e.getValue(), current, false)) && writeRules(f, e.getValue(), current, true);
            if (!ok) {
                Pod pod = podsWanted.get(e.getKey());
                out.put(pod.name(), "the kernel refused its plaintext rules (plaintext to it is denied): "
                        + lastWriteError);
                for (ByteBuffer k : e.getValue().keySet()) {
                    f.rules().delete(k.array());
                }
            }
        }
        for (var e : entries.entrySet()) { // (5)
            writePod(e.getKey(), podsWanted.get(e.getKey()), true);
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
    private boolean writeRules(Family f, Map<ByteBuffer, Boolean> mine, Map<ByteBuffer, byte[]> inKernel, boolean allow) {
        for (var r : mine.entrySet()) {
            if (r.getValue() != allow) {
                continue;
            }
            byte[] old = inKernel.get(r.getKey());
            if (old != null && verdictAllows(old) == allow) {
                continue; // unchanged: keep its hits untouched
            }
            try {
                f.rules().update(r.getKey().array(), verdict(allow, old == null ? 0 : hits(old)));
            } catch (RuntimeException e) {
                lastWriteError = String.valueOf(e.getMessage());
                return false;
            }
        }
        return true;
    }

    private void writePod(Slot slot, Pod pod, boolean withRules) {
        Family f = slot.family();
        byte[] key = slot.key().array();
        int flags = withRules ? FLAG_PLAIN_RULES : 0;
        if (f == v4) {
            Counters old = f.pods().lookup(key).map(PeerAuthProgram::counters).orElse(new Counters(0, 0, 0));
            f.pods().update(key, encode(f.trusted(), pod.strict(), flags, old));
        } else {
            Counters old = f.pods().lookup(key).map(PeerAuthProgram::counters6).orElse(new Counters(0, 0, 0));
            f.pods().update(key, encode6(f.trusted(), pod.strict(), flags, old));
        }
    }

    /**
     * {@code wanted} by "name address" (a stable order); IPv4-mapped addresses as IPv4; scoped and link-local IPv6
     * addresses are left out with a warning (a pod's link-local address is no key of {@code tsp_pods6}).
     */
    private static Map<String, Map.Entry<InetAddress, Pod>> keyed(Map<InetAddress, Pod> wanted) {
        var out = new HashMap<String, Map.Entry<InetAddress, Pod>>();
        for (var e : wanted.entrySet()) {
            InetAddress a = IpCidr.unmapped(e.getKey());
            if (a instanceof Inet6Address six && (six.getScopeId() != 0 || six.isLinkLocalAddress())) {
                log.warn("pod {}: {} is not enforced (expected: a global IPv6 address or an IPv4 address)",
                        e.getValue().name(), a);
                continue;
            }
            out.put(e.getValue().name() + " " + a.getHostAddress(), Map.entry(a, e.getValue()));
        }
        return out;
    }

    /** Hits of every entry of {@code tsp_plain_rules} and {@code tsp_plain_rules6} (SYNs each decided since written). */
    public Map<RuleKey, Long> ruleHits() {
        var out = new HashMap<RuleKey, Long>();
        for (Family f : List.of(v4, v6)) {
            for (byte[] key : f.rules().keys()) {
                f.rules().lookup(key).ifPresent(v -> out.put(ruleKey(key), hits(v)));
            }
        }
        return out;
    }

    /** The kernel counters of every pod address in {@code tsp_pods} and {@code tsp_pods6}. */
    public Map<InetAddress, Counters> counters() {
        var out = new HashMap<InetAddress, Counters>();
        for (Family f : List.of(v4, v6)) {
            for (byte[] key : f.pods().keys()) {
                Optional<byte[]> v = f.pods().lookup(key);
                if (v.isPresent()) {
                    out.put(address(key), f == v4 ? counters(v.get()) : counters6(v.get()));
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
     * struct tsp_pod6: probe_ip (16 bytes, network order; zero: none), mode (u16), flags (u16), pad (u32), plaintext,
     * dropped, mesh (host order).
     */
    static byte[] encode6(byte[] probeIp, boolean strict, int flags, Counters c) {
        if (probeIp.length != 16) {
            throw new IllegalArgumentException("probe address: " + probeIp.length + " bytes (expected: 16)");
        }
        ByteBuffer b = ByteBuffer.allocate(POD6_SIZE).order(ByteOrder.nativeOrder());
        b.put(probeIp).putShort((short) (strict ? 1 : 0)).putShort((short) flags).putInt(0).putLong(c.plaintext())
                .putLong(c.dropped()).putLong(c.mesh());
        return b.array();
    }

    /**
     * struct tsp_plain_key (4-byte pod address) or struct tsp_plain_key6 (16 bytes): prefixlen (host order) = fixed
     * bits + source prefix; pod address, port, pad and source network in network order.
     */
    static byte[] ruleKey(byte[] podIp, int port, IpCidr source) {
        boolean six = podIp.length == 16;
        if (source.networkBytes().length != podIp.length) {
            throw new IllegalArgumentException("source: " + source + " (expected: the family of the pod address)");
        }
        ByteBuffer b = ByteBuffer.allocate(six ? RULE_KEY6_SIZE : RULE_KEY_SIZE).order(ByteOrder.nativeOrder());
        b.putInt((six ? FIXED_BITS6 : FIXED_BITS) + source.prefix()).put(podIp);
        b.order(ByteOrder.BIG_ENDIAN).putShort((short) port).putShort((short) 0).put(source.networkBytes());
        return b.array();
    }

    /** Decodes a key of {@code tsp_plain_rules} (16 bytes) or {@code tsp_plain_rules6} (40 bytes). */
    static RuleKey ruleKey(byte[] key) {
        boolean six = key.length == RULE_KEY6_SIZE;
        int len = six ? 16 : 4;
        ByteBuffer b = ByteBuffer.wrap(key).order(ByteOrder.nativeOrder());
        int prefix = b.getInt(0) - (six ? FIXED_BITS6 : FIXED_BITS);
        InetAddress pod = address(Arrays.copyOfRange(key, 4, 4 + len));
        int port = Short.toUnsignedInt(b.order(ByteOrder.BIG_ENDIAN).getShort(4 + len));
        return new RuleKey(pod, port, new IpCidr(address(Arrays.copyOfRange(key, 8 + len, 8 + 2 * len)), prefix));
    }

    /** 4 or 16 bytes as an address; 16 bytes stay IPv6 (the JDK would unmap an IPv4-mapped one). */
    private static InetAddress address(byte[] b) {
        try {
            return b.length == 16 ? Inet6Address.getByAddress(null, b, -1) : InetAddress.getByAddress(b);
        } catch (UnknownHostException e) {
            throw new IllegalStateException(e); // 4 or 16 bytes are always an address
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
     * Records a connection the agent is about to dial to a local pod, so its SYN is known as the agent's delivery
     * and never judged as plaintext: called after bind(), before connect(). Both addresses IPv4
     * ({@code tsp_deliveries}) or both IPv6 ({@code tsp_deliveries6}; an IPv4-mapped address counts as IPv4).
     *
     * @return false when the kernel refused the entry or the families differ (the caller then dials otherwise)
     */
    public boolean addDelivery(InetSocketAddress local, InetSocketAddress remote) {
        try {
            byte[] key = deliveryKey(local, remote);
            (key.length == DELIVERY_KEY6_SIZE ? deliveries6 : deliveries).update(key, new byte[] {1, 0, 0, 0});
            return true;
        } catch (RuntimeException e) {
            log.debug("cannot record delivery {} -> {}", local, remote, e);
            return false;
        }
    }

    /** Forgets a delivery recorded by {@link #addDelivery} (its connection closed). */
    public void removeDelivery(InetSocketAddress local, InetSocketAddress remote) {
        try {
            byte[] key = deliveryKey(local, remote);
            (key.length == DELIVERY_KEY6_SIZE ? deliveries6 : deliveries).delete(key);
        } catch (RuntimeException e) {
            log.debug("cannot forget delivery {} -> {}", local, remote, e);
        }
    }

    /** Deliveries recorded now, both families (open connections to local pods, and what an LRU has not evicted). */
    public int deliveries() {
        return deliveries.count(Integer.MAX_VALUE) + deliveries6.count(Integer.MAX_VALUE);
    }

    /**
     * {@code struct tsp_delivery_key} (both IPv4) or {@code struct tsp_delivery_key6} (both IPv6): saddr, daddr,
     * sport, dport, all in network order.
     */
    static byte[] deliveryKey(InetSocketAddress local, InetSocketAddress remote) {
        InetAddress src = local.getAddress() == null ? null : IpCidr.unmapped(local.getAddress());
        InetAddress dst = remote.getAddress() == null ? null : IpCidr.unmapped(remote.getAddress());
        boolean four = src instanceof Inet4Address && dst instanceof Inet4Address;
        boolean six = src instanceof Inet6Address && dst instanceof Inet6Address;
        if (!four && !six) {
            throw new IllegalArgumentException("delivery: " + local + " -> " + remote
                    + " (expected: both IPv4 or both IPv6)");
        }
        return ByteBuffer.allocate(four ? DELIVERY_KEY_SIZE : DELIVERY_KEY6_SIZE).order(ByteOrder.BIG_ENDIAN)
                .put(src.getAddress()).put(dst.getAddress())
                .putShort((short) local.getPort()).putShort((short) remote.getPort()).array();
    }

    /**
     * Takes up to {@code max} queued plaintext decisions, oldest first per family ({@code tsp_plain_events}, then
     * {@code tsp_plain_events6}; the kernel keeps at most {@link #MAX_QUEUED_EVENTS} in each, later ones are lost
     * and counted).
     */
    public List<PlainEvent> drainPlainEvents(int max) {
        List<PlainEvent> out = new ArrayList<>();
        for (BpfMap queue : List.of(events, events6)) {
            while (out.size() < max) {
                Optional<byte[]> e = queue.pop();
                if (e.isEmpty()) {
                    break;
                }
                out.add(plainEvent(e.get()));
            }
        }
        return out;
    }

    /**
     * A new doorbell on the plaintext event queues (the caller closes it): {@link RingBell#await} returns once an
     * event was queued since the last one, without polling; then {@link #drainPlainEvents} reads them.
     */
    public RingBell plainEventBell() {
        return RingBell.openPinned(BELL_MAP, bellPin.toString());
    }

    /** Plaintext decisions the kernel could not queue (a queue was full) since the map was created. */
    public long plainEventsLost() {
        return lost.lookup(new byte[4])
                .map(v -> ByteBuffer.wrap(v).order(ByteOrder.nativeOrder()).getLong(0))
                .orElse(0L);
    }

    /**
     * Decodes {@code struct tsp_plain_event} (16 bytes) or {@code struct tsp_plain_event6} (40 bytes); an unknown
     * verdict is refused.
     */
    static PlainEvent plainEvent(byte[] value) {
        if (value.length != EVENT_SIZE && value.length != EVENT6_SIZE) {
            throw new IllegalArgumentException("event: " + value.length + " bytes (expected: " + EVENT_SIZE + " or "
                    + EVENT6_SIZE + ")");
        }
        int len = value.length == EVENT_SIZE ? 4 : 16;
        ByteBuffer b = ByteBuffer.wrap(value).order(ByteOrder.BIG_ENDIAN); // addresses and ports: network order
        InetAddress src = address(Arrays.copyOfRange(value, 0, len));
        InetAddress pod = address(Arrays.copyOfRange(value, len, 2 * len));
        int sport = Short.toUnsignedInt(b.getShort(2 * len));
        int dport = Short.toUnsignedInt(b.getShort(2 * len + 2));
        int v = Byte.toUnsignedInt(value[2 * len + 4]);
        if (v < 1 || v > PlainVerdict.values().length) {
            throw new IllegalArgumentException("event verdict: " + v + " (expected: 1-4)");
        }
        return new PlainEvent(new InetSocketAddress(src, sport), new InetSocketAddress(pod, dport),
                PlainVerdict.values()[v - 1]);
    }

    static Counters counters(byte[] value) {
        ByteBuffer b = ByteBuffer.wrap(value).order(ByteOrder.nativeOrder());
        return new Counters(b.getLong(8), b.getLong(16), b.getLong(24));
    }

    /** The counters of struct tsp_pod6 (after probe_ip, mode, flags and pad). */
    static Counters counters6(byte[] value) {
        ByteBuffer b = ByteBuffer.wrap(value).order(ByteOrder.nativeOrder());
        return new Counters(b.getLong(24), b.getLong(32), b.getLong(40));
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
        var pins = new ArrayList<Path>(List.of(linkPin));
        MAPS.forEach(m -> pins.add(root.resolve("maps").resolve(m)));
        pins.addAll(List.of(root.resolve("links"), root.resolve("maps"), root));
        for (Path p : pins) {
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
        for (BpfMap m : List.of(v4.pods(), v4.rules(), deliveries, events, lost, v6.pods(), v6.rules(), deliveries6,
                events6)) {
            m.close();
        }
    }
}
