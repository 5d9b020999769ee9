package dev.tessera.agent.policy;

import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.CounterWithCallback;
import io.prometheus.metrics.core.metrics.GaugeWithCallback;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.util.List;
import java.util.function.Supplier;

/**
 * Policy metrics. Labels are bounded: {@code policy} is a configured policy ({@code namespace/name}) or
 * {@code none}, {@code rule} its index or {@code -1}; identities never become labels (they are in the
 * access log).
 * <ul>
 *   <li>{@code tessera_policy_decisions_total{decision=allow|deny|audit, policy, rule, stage=connect|recheck|plaintext}}:
 *       {@code plaintext} counts the kernel's verdicts on plaintext connection attempts (SYNs, retransmissions
 *       included) to pods that policies select, read from the eBPF rule entries' hits</li>
 *   <li>{@code tessera_policies{kind, status=accepted|rejected}}</li>
 *   <li>{@code tessera_plaintext_connections_total{destination_workload, destination_workload_namespace,
 *       connection_security_policy="none", mode, result=allowed|dropped}}: connection attempts from outside the
 *       mesh seen by the PeerAuthentication eBPF program, dropped by STRICT or by a plaintext policy denial
 *       (series of pods that left the node disappear)</li>
 * </ul>
 */
public final class PolicyMetrics {

    /** One series of the plaintext counter. */
    public record Plaintext(String workload, String namespace, String mode, String result, long value) {}

    private final PrometheusRegistry registry;
    private final Counter decisions;

    public PolicyMetrics(PrometheusRegistry registry) {
        this.registry = registry;
        decisions = Counter.builder().name("tessera_policy_decisions_total")
                .help("Inbound authorization decisions by decision, deciding policy and rule, at connect time, on "
                        + "re-check of an open connection after a policy change, or in the kernel for plaintext "
                        + "connection attempts (stage=plaintext)")
                .labelNames("decision", "policy", "rule", "stage").withoutExemplars().register(registry);
    }

    void decision(Decision d, String stage) {
        decision(d, stage, 1);
    }

    void decision(Decision d, String stage, long times) {
        decisions.labelValues(d.label(), d.policyLabel(), Integer.toString(d.rule()), stage).inc(times);
        for (String audit : d.audits()) {
            int hash = audit.lastIndexOf('#');
            decisions.labelValues("audit", audit.substring(0, hash), audit.substring(hash + 1), stage).inc(times);
        }
    }

    /** Registers the policy-count gauge: {@code [kind, status, count]} rows. */
    public void policies(Supplier<List<Object[]>> rows) {
        GaugeWithCallback.builder().name("tessera_policies")
                .help("Policies known to the agent, by kind and status (rejected ones are enforced fail-closed)")
                .labelNames("kind", "status")
                .callback(cb -> rows.get().forEach(r -> cb.call(((Number) r[2]).doubleValue(), (String) r[0], (String) r[1])))
                .register(registry);
    }

    /** Registers the plaintext counter read from the kernel at scrape time. */
    public void plaintext(Supplier<List<Plaintext>> series) {
        CounterWithCallback.builder().name("tessera_plaintext_connections_total")
                .help("Plaintext connection attempts from outside the mesh to meshed pods of this node, by result "
                        + "(allowed under PERMISSIVE, dropped under STRICT or denied by AuthorizationPolicy)")
                .labelNames("destination_workload", "destination_workload_namespace", "connection_security_policy",
                        "mode", "result")
                .callback(cb -> series.get().forEach(s -> cb.call(s.value(), s.workload(), s.namespace(), "none",
                        s.mode(), s.result())))
                .register(registry);
    }
}
