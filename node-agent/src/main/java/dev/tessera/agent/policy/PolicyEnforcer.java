package dev.tessera.agent.policy;

import static java.util.Objects.requireNonNull;

import dev.tessera.agent.redirect.PeerAuthProgram;
import dev.tessera.agent.state.StateStore;
import dev.tessera.api.model.Workload;
import dev.tessera.api.net.IpCidr;
import dev.tessera.api.policy.PeerAuthentication.Mode;
import dev.tessera.api.policy.PolicyScope;
import dev.tessera.api.policy.PolicySet;
import dev.tessera.api.policy.Translation;
import io.netty.channel.Channel;
import io.netty.channel.ChannelOption;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The agent's policy state and inbound policy stage. Holds the current {@link PolicySet}; decides every
 * connection about to reach a local pod with {@link Authorizer}; tracks allowed connections until they
 * close and re-checks them on every {@link #update}, closing those the new policies deny. Until the first
 * update it denies everything (fail closed). Audit matches go to the {@value #AUDIT_LOGGER} logger.
 */
public final class PolicyEnforcer implements InboundGate {

    /** Logger of AUDIT policy matches (INFO). */
    public static final String AUDIT_LOGGER = "tessera.audit";
    private static final Logger log = LoggerFactory.getLogger(PolicyEnforcer.class);
    private static final Logger audit = LoggerFactory.getLogger(AUDIT_LOGGER);

    private final StateStore state;
    private final PolicyMetrics metrics;
    private final Map<Channel, Tracked> live = new ConcurrentHashMap<>();

    /** An admitted connection, re-checked on every policy update until its channel closes. */
    private record Tracked(Connection connection, Consumer<Decision> onRevoke) {}
    private final Set<String> reported = ConcurrentHashMap.newKeySet();
    private volatile PolicySet policies;

    public PolicyEnforcer(StateStore state, PolicyMetrics metrics) {
        this.state = requireNonNull(state, "state");
        this.metrics = requireNonNull(metrics, "metrics");
        metrics.policies(this::counts);
    }

    @Override
    public Decision admit(Connection connection, Channel channel, Consumer<Decision> onRevoke) {
        Decision d = decide(connection);
        metrics.decision(d, "connect");
        logAudits(connection, d);
        if (!d.allowed()) {
            return d;
        }
        live.put(channel, new Tracked(connection, onRevoke));
        channel.closeFuture().addListener(f -> live.remove(channel));
        return d;
    }

    private Decision decide(Connection c) {
        PolicySet set = policies;
        if (set == null) {
            return new Decision(false, null, -1, "policies not loaded yet (fail closed)", List.of());
        }
        Workload dst = c.destinationWorkload();
        if (dst == null || c.destination() == null) {
            return new Decision(false, null, -1, "no destination workload", List.of());
        }
        // The current labels count (a relabelled pod may leave or enter a selector).
        Workload current = state.current().workloadByIp(dst.ip()).orElse(dst);
        InetAddress srcIp = c.client().getAddress();
        return Authorizer.authorize(set, new AuthorizationRequest(current, c.destination().getPort(), c.sourceIdentity(), srcIp));
    }

    /** Replaces the policies, reports newly rejected ones, and re-checks every open connection. */
    public void update(PolicySet set) {
        requireNonNull(set, "set");
        policies = set;
        var now = new HashSet<String>();
        for (Translation<?> t : set.rejected()) {
            String id = t.kind() + " " + t.key() + ": " + String.join("; ", t.errors());
            now.add(id);
            if (reported.add(id)) {
                log.warn("rejected {} (enforced fail-closed: {})", id, enforcedAs(t));
            }
        }
        reported.retainAll(now);
        int closed = recheck();
        if (closed > 0) {
            log.info("policy version {}: closed {} open connection(s) the new policies deny", set.version(), closed);
        }
    }

    /** Re-decides every tracked connection; closes the denied ones. Returns how many were closed. */
    int recheck() {
        int closed = 0;
        for (var e : live.entrySet()) {
            Channel ch = e.getKey();
            Tracked tracked = e.getValue();
            Decision d = decide(tracked.connection());
            if (d.allowed()) {
                continue;
            }
            closed++;
            metrics.decision(d, "recheck");
            live.remove(ch);
            ch.eventLoop().execute(() -> {
                tracked.onRevoke().accept(d);
                if (ch.isOpen()) {
                    if (ch.config().getOptions().containsKey(ChannelOption.SO_LINGER)) {
                        ch.config().setOption(ChannelOption.SO_LINGER, 0); // reset the application's connection
                    }
                    ch.close();
                }
            });
        }
        return closed;
    }

    /** The current policies ({@code null} before the first update). */
    public PolicySet policies() {
        return policies;
    }

    /** Open inbound connections tracked for re-check. */
    public int liveConnections() {
        return live.size();
    }

    /**
     * What the kernel enforces for inbound plaintext (the PeerAuthentication eBPF program's maps): for every
     * meshed workload of {@code node}, its effective mTLS mode and, when PERMISSIVE and selected by an
     * AuthorizationPolicy, its compiled plaintext decisions ({@link PlaintextPolicy}); and the decision behind
     * every kernel entry, which names the policy and rule of each kernel verdict in the metrics. Before the
     * first policies arrive every PERMISSIVE pod gets an empty rule list: plaintext is denied (fail closed,
     * as for mesh connections).
     */
    public KernelPolicy kernelPolicy(String node) {
        PolicySet set = policies;
        var pods = new HashMap<InetAddress, PeerAuthProgram.Pod>();
        var decisions = new HashMap<PeerAuthProgram.RuleKey, Decision>();
        for (Workload w : state.current().workloadsOnNode(node)) {
            if (!w.meshed()) {
                continue;
            }
            var peerAuths = set == null ? PolicySet.EMPTY.peerAuthentications() : set.peerAuthentications();
            boolean strict = PolicyScope.peerAuthentication(w, peerAuths).mode() == Mode.STRICT;
            for (InetAddress ip : addresses(w)) { // a dual-stack pod is enforced under each of its addresses
                List<PeerAuthProgram.PlainRule> rules = null;
                if (set == null) {
                    rules = List.of();
                } else if (!strict) {
                    var compiled = PlaintextPolicy.compile(set, w, IpCidr.Family.of(ip));
                    if (compiled.isPresent()) {
                        rules = new ArrayList<>();
                        for (PlaintextPolicy.Entry e : compiled.get()) {
                            rules.add(new PeerAuthProgram.PlainRule(e.port(), e.source(), e.decision().allowed()));
                            decisions.put(new PeerAuthProgram.RuleKey(ip, e.port(), e.source()), e.decision());
                        }
                    }
                }
                pods.put(ip, new PeerAuthProgram.Pod(w.key(), strict, rules));
            }
        }
        return new KernelPolicy(pods, decisions);
    }

    /**
     * The addresses the kernel enforces for {@code w}: IPv4 and IPv6 alike (an IPv6 address goes to the program's
     * IPv6 maps): every address of a dual-stack pod ({@link Workload#addresses()}).
     */
    static List<InetAddress> addresses(Workload w) {
        return w.addresses();
    }

    /**
     * The kernel's share of inbound policy.
     *
     * @param pods pod address -> what the PeerAuthentication program enforces for it
     * @param decisions the decision of each plaintext rule entry
     */
    public record KernelPolicy(Map<InetAddress, PeerAuthProgram.Pod> pods, Map<PeerAuthProgram.RuleKey, Decision> decisions) {
        public KernelPolicy {
            pods = Map.copyOf(pods);
            decisions = Map.copyOf(decisions);
        }
    }

    /**
     * The plaintext counter's series: kernel counters of the PeerAuthentication program by pod address,
     * named by the current workloads of {@code node} (pods no longer here have no series).
     */
    public List<PolicyMetrics.Plaintext> plaintextSeries(String node,
            Map<InetAddress, PeerAuthProgram.Counters> counters) {
        PolicySet set = policies == null ? PolicySet.EMPTY : policies;
        var out = new ArrayList<PolicyMetrics.Plaintext>();
        for (Workload w : state.current().workloadsOnNode(node)) {
            if (!w.meshed()) {
                continue;
            }
            long plaintext = 0;
            long dropped = 0;
            boolean any = false;
            for (InetAddress ip : addresses(w)) { // a dual-stack pod's series sums both families
                var c = counters.get(ip);
                if (c != null) {
                    any = true;
                    plaintext += c.plaintext();
                    dropped += c.dropped();
                }
            }
            if (!any) {
                continue;
            }
            String mode = PolicyScope.peerAuthentication(w, set.peerAuthentications()).mode().name();
            out.add(new PolicyMetrics.Plaintext(w.name(), w.namespace(), mode, "allowed", plaintext));
            out.add(new PolicyMetrics.Plaintext(w.name(), w.namespace(), mode, "dropped", dropped));
        }
        return out;
    }

    /** The admin API's {@code /policies} view: status of every policy and the mTLS mode of local pods. */
    public Map<String, Object> status(String node) {
        PolicySet set = policies;
        var out = new LinkedHashMap<String, Object>();
        out.put("loaded", set != null);
        if (set == null) {
            return out;
        }
        out.put("version", set.version());
        out.put("rootNamespace", PolicyScope.ROOT_NAMESPACE);
        var list = new ArrayList<Map<String, Object>>();
        for (Translation<?> t : set.all()) {
            var m = new LinkedHashMap<String, Object>();
            m.put("kind", t.kind());
            m.put("namespace", t.namespace());
            m.put("name", t.name());
            m.put("status", t.valid() ? "accepted" : "rejected");
            if (!t.valid()) {
                m.put("errors", t.errors());
                m.put("enforcedAs", enforcedAs(t));
            }
            list.add(m);
        }
        out.put("policies", list);
        var modes = new ArrayList<Map<String, Object>>();
        for (Workload w : state.current().workloadsOnNode(node)) {
            if (w.meshed()) {
                var eff = PolicyScope.peerAuthentication(w, set.peerAuthentications());
                modes.add(Map.of("workload", w.key(), "mode", eff.mode().name(),
                        "policy", eff.policy() == null ? "default" : eff.policy(),
                        "plaintext", plaintextView(set, w, eff.mode() == Mode.STRICT)));
            }
        }
        out.put("mtls", modes);
        out.put("liveConnections", live.size());
        return out;
    }

    /** How plaintext connections to {@code w} are decided, for the admin view. */
    private static String plaintextView(PolicySet set, Workload w, boolean strict) {
        if (strict) {
            return "dropped (STRICT)";
        }
        int entries = 0;
        for (InetAddress ip : addresses(w)) {
            var compiled = PlaintextPolicy.compile(set, w, IpCidr.Family.of(ip));
            if (compiled.isEmpty()) {
                return "passed (PERMISSIVE, no AuthorizationPolicy selects the pod)";
            }
            entries += compiled.get().size();
        }
        return "decided in the kernel by AuthorizationPolicy (" + entries + " entries)";
    }

    private static String enforcedAs(Translation<?> t) {
        if ("PeerAuthentication".equals(t.kind())) {
            return "STRICT at its level";
        }
        return switch (t.action()) {
            case DENY -> "DENY everything it selects";
            case ALLOW -> "ALLOW with no matching rule (selected workloads deny by default)";
            case AUDIT -> "ignored (AUDIT never changes a decision)";
        };
    }

    private List<Object[]> counts() {
        PolicySet set = policies;
        var rows = new ArrayList<Object[]>();
        if (set == null) {
            return rows;
        }
        for (String kind : List.of("AuthorizationPolicy", "PeerAuthentication")) {
            long ok = set.all().stream().filter(t -> t.kind().equals(kind) && t.valid()).count();
            long bad = set.all().stream().filter(t -> t.kind().equals(kind) && !t.valid()).count();
            rows.add(new Object[] {kind, "accepted", ok});
            rows.add(new Object[] {kind, "rejected", bad});
        }
        return rows;
    }

    private static void logAudits(Connection c, Decision d) {
        if (!d.audits().isEmpty() && audit.isInfoEnabled()) {
            audit.info("audit {} src={} ({}) dst={} ({}) decision={}", d.audits(), c.sourceIdentity(), c.client(),
                    c.destinationWorkload() == null ? null : c.destinationWorkload().identity(), c.destination(), d.label());
        }
    }
}
