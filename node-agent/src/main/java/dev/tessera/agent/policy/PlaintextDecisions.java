package dev.tessera.agent.policy;

import static java.util.Objects.requireNonNull;

import dev.tessera.agent.redirect.PeerAuthProgram.RuleKey;
import java.util.HashMap;
import java.util.Map;

/**
 * Turns the kernel's plaintext verdicts into {@code tessera_policy_decisions_total{stage="plaintext"}}: each
 * {@code tsp_plain_rules} entry counts its hits, and the entry's {@link Decision} (kept here from the last
 * compilation) names the decision, policy and rule. Hits are read as deltas: before each scrape and before
 * every rewrite of the entries (so hits are credited to the decision that was in force). Hits found at the
 * first read (an earlier agent's, or counted before any decision was known here) are only a baseline.
 */
public final class PlaintextDecisions {

    /** The decision for a plaintext attempt no policy selects, as the Authorizer gives it for mTLS. */
    public static final Decision NO_POLICY = new Decision(true, null, -1, "no ALLOW policy selects the workload",
            java.util.List.of());

    private final PolicyMetrics metrics;
    private final Map<RuleKey, Long> last = new HashMap<>();
    private Map<RuleKey, Decision> decisions = Map.of();
    private Map<java.net.InetAddress, java.util.List<RuleKey>> byPod = Map.of();

    public PlaintextDecisions(PolicyMetrics metrics) {
        this.metrics = requireNonNull(metrics, "metrics");
    }

    /**
     * Counts {@code n} plaintext attempts that passed because no AuthorizationPolicy selects their pod
     * (PERMISSIVE): the kernel has no entry for such a pod, so they come from its event queue (attempts lost to
     * a full queue are counted in {@code tessera_plaintext_events_lost_total}, not here).
     */
    public void countUnselected(long n) {
        metrics.decision(NO_POLICY, "plaintext", n);
    }

    /** Credits the hits since the last call ({@code hits}: every entry's current total) to their decisions. */
    public synchronized void count(Map<RuleKey, Long> hits) {
        for (var e : hits.entrySet()) {
            Long before = last.put(e.getKey(), e.getValue());
            Decision d = decisions.get(e.getKey());
            if (before == null || d == null) {
                continue; // a baseline
            }
            long delta = e.getValue() >= before ? e.getValue() - before : e.getValue(); // rewritten from 0
            if (delta > 0) {
                metrics.decision(d, "plaintext", delta);
            }
        }
        last.keySet().retainAll(hits.keySet());
    }

    /**
     * The decision of the entry the kernel used for a plaintext SYN from {@code source} to {@code pod}, found as
     * {@code tsp_plain_rules} (IPv4) or {@code tsp_plain_rules6} (IPv6) finds it (longest source match for the
     * port, then for port 0; the pod's entries are all of its address's family), or empty when the pod has no
     * entries (STRICT, no policy selects it) or none matches.
     */
    public synchronized java.util.Optional<Decision> decisionFor(java.net.InetSocketAddress pod,
            java.net.InetAddress source) {
        for (int port : new int[] {pod.getPort(), 0}) {
            RuleKey best = null;
            for (RuleKey k : byPod.getOrDefault(pod.getAddress(), java.util.List.of())) {
                if (k.port() == port && k.source().contains(source)
                        && (best == null || k.source().prefix() > best.source().prefix())) {
                    best = k;
                }
            }
            if (best != null) {
                return java.util.Optional.of(decisions.get(best));
            }
        }
        return java.util.Optional.empty();
    }

    /**
     * The decisions of the entries now in the kernel (after a sync); entries new to the kernel start from no
     * hits.
     */
    public synchronized void expect(Map<RuleKey, Decision> next) {
        for (RuleKey k : next.keySet()) {
            if (!decisions.containsKey(k)) {
                last.putIfAbsent(k, 0L);
            }
        }
        decisions = Map.copyOf(next);
        var index = new HashMap<java.net.InetAddress, java.util.List<RuleKey>>();
        for (RuleKey k : decisions.keySet()) {
            index.computeIfAbsent(k.pod(), p -> new java.util.ArrayList<>()).add(k);
        }
        byPod = index;
        last.keySet().retainAll(decisions.keySet());
    }
}
