package dev.tessera.agent.policy;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tessera.agent.redirect.PeerAuthProgram.RuleKey;
import dev.tessera.api.net.IpCidr;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import io.prometheus.metrics.model.snapshots.CounterSnapshot;
import java.net.InetAddress;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Kernel hits become {@code tessera_policy_decisions_total{stage="plaintext"}} deltas, credited to the right decision. */
class PlaintextDecisionsTest {

    private final PrometheusRegistry registry = new PrometheusRegistry();
    private final PlaintextDecisions decisions = new PlaintextDecisions(new PolicyMetrics(registry));
    private final RuleKey key;
    private final Decision deny = new Decision(false, "shop/front-only", -1, "no ALLOW rule matched", List.of());
    private final Decision allow = new Decision(true, "shop/lan", 0, "matched an ALLOW rule", List.of("shop/audit#1"));

    PlaintextDecisionsTest() throws Exception {
        key = new RuleKey(InetAddress.getByName("198.18.2.5"), 0, IpCidr.parse("0.0.0.0/0"));
    }

    @Test
    void hitsFoundBeforeAnyDecisionAreABaselineThenDeltasCount() {
        decisions.count(Map.of(key, 40L)); // an earlier agent's hits
        decisions.expect(Map.of(key, deny));
        decisions.count(Map.of(key, 43L));
        assertThat(value("deny", "shop/front-only", "-1")).isEqualTo(3);
        decisions.count(Map.of(key, 43L));
        assertThat(value("deny", "shop/front-only", "-1")).isEqualTo(3);
    }

    @Test
    void aNewEntryCountsFromZeroAndAChangedDecisionTakesOnlyLaterHits() {
        decisions.expect(Map.of(key, deny));
        decisions.count(Map.of(key, 2L));
        decisions.expect(Map.of(key, allow)); // hits kept by the kernel across the rewrite
        decisions.count(Map.of(key, 5L));
        assertThat(value("deny", "shop/front-only", "-1")).isEqualTo(2);
        assertThat(value("allow", "shop/lan", "0")).isEqualTo(3);
        assertThat(value("audit", "shop/audit", "1")).isEqualTo(3);
    }

    private double value(String decision, String policy, String rule) {
        for (var s : registry.scrape()) {
            if (s instanceof CounterSnapshot c && c.getMetadata().getName().equals("tessera_policy_decisions")) {
                for (var d : c.getDataPoints()) {
                    var l = d.getLabels();
                    if (l.get("decision").equals(decision) && l.get("policy").equals(policy) && l.get("rule").equals(rule)
                            && l.get("stage").equals("plaintext")) {
                        return d.getValue();
                    }
                }
            }
        }
        return 0;
    }

    @Test
    void decisionForFindsTheEntryTheKernelUsedLongestSourceMatchThenPortZero() throws Exception {
        InetAddress pod = InetAddress.getByName("198.18.2.5");
        Decision allow7000 = new Decision(true, "shop/lan", 1, "matched an ALLOW rule", List.of());
        decisions.expect(Map.of(key, deny,
                new RuleKey(pod, 7000, IpCidr.parse("198.18.0.0/15")), allow7000,
                new RuleKey(pod, 7000, IpCidr.parse("0.0.0.0/0")), deny,
                new RuleKey(pod, 0, IpCidr.parse("198.18.1.0/24")), allow));
        var p7000 = new java.net.InetSocketAddress(pod, 7000);
        var p7001 = new java.net.InetSocketAddress(pod, 7001);
        assertThat(decisions.decisionFor(p7000, InetAddress.getByName("198.18.1.9"))).contains(allow7000);
        assertThat(decisions.decisionFor(p7000, InetAddress.getByName("203.0.113.1"))).contains(deny);
        assertThat(decisions.decisionFor(p7001, InetAddress.getByName("198.18.1.9"))).contains(allow);
        assertThat(decisions.decisionFor(p7001, InetAddress.getByName("198.19.1.9"))).contains(deny);
        assertThat(decisions.decisionFor(new java.net.InetSocketAddress("198.18.2.6", 7000),
                InetAddress.getByName("198.18.1.9"))).isEmpty();
    }

    @Test
    void decisionForAnIpv6PodLooksAmongItsIpv6Entries() throws Exception {
        InetAddress pod4 = InetAddress.getByName("198.18.2.5");
        InetAddress pod6 = InetAddress.getByName("2001:db8:2::5");
        Decision allowLab = new Decision(true, "shop/lab", 0, "matched an ALLOW rule", List.of());
        decisions.expect(Map.of(key, deny,
                new RuleKey(pod6, 7000, IpCidr.parse("2001:db8:4::/48")), allowLab,
                new RuleKey(pod6, 7000, IpCidr.parse("::/0")), deny,
                new RuleKey(pod6, 0, IpCidr.parse("::/0")), deny));
        var p6 = new java.net.InetSocketAddress(pod6, 7000);
        assertThat(decisions.decisionFor(p6, InetAddress.getByName("2001:db8:4::9"))).contains(allowLab);
        assertThat(decisions.decisionFor(p6, InetAddress.getByName("2001:db8:5::9"))).contains(deny);
        assertThat(decisions.decisionFor(new java.net.InetSocketAddress(pod6, 7001), InetAddress.getByName("2001:db8:4::9")))
                .contains(deny);
        assertThat(decisions.decisionFor(new java.net.InetSocketAddress(pod4, 7000), InetAddress.getByName("2001:db8:4::9")))
                .as("an IPv4 pod's entries never hold an IPv6 source").isEmpty();
    }
}
