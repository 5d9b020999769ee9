package dev.tessera.agent.metrics;

import static java.util.Objects.requireNonNull;

import dev.tessera.agent.identity.CertificateManager;
import dev.tessera.agent.redirect.BpfRedirector;
import dev.tessera.agent.redirect.Enrollment;
import dev.tessera.agent.redirect.PodNetnsResolver;
import dev.tessera.agent.redirect.TcpHealthMap;
import dev.tessera.agent.state.StateStore;
import dev.tessera.api.model.Workload;
import dev.tessera.api.netns.Netns;
import java.net.InetAddress;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Instant;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Binds the agent's gauges and callback metrics to the parts they observe: mesh coverage (kernel map and
 * certificates, {@link CoverageCheck}), certificate expiry and counters, state version and age, map
 * occupancy and kernel counters, and the sockops program's TCP health. The composition root passes the
 * parts; every closure lives here.
 */
public final class NodeMetricsBinding implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(NodeMetricsBinding.class);

    /**
     * What the metrics observe.
     *
     * @param node this node's name
     * @param lastStateUpdate when the state last changed (null before the first)
     */
    public record Parts(String node, StateStore state, PodNetnsResolver netns, BpfRedirector redirector,
            Enrollment enrollment, CertificateManager certificates, Supplier<Instant> lastStateUpdate) {
        public Parts {
            requireNonNull(node, "node");
            requireNonNull(state, "state");
            requireNonNull(netns, "netns");
            requireNonNull(redirector, "redirector");
            requireNonNull(enrollment, "enrollment");
            requireNonNull(certificates, "certificates");
            requireNonNull(lastStateUpdate, "lastStateUpdate");
        }
    }

    private final Parts parts;
    private final CoverageCheck coverage;
    private TcpHealthMap tcpHealth;

    private NodeMetricsBinding(AgentMetrics metrics, Parts parts) {
        this.parts = parts;
        this.coverage = coverageCheck(parts);
        metrics.coverageGap(() -> coverage.last() == null ? 0 : coverage.last().gap(),
                () -> coverage.last() == null ? null : coverage.last().checkedAt());
        metrics.coverageRepairs(coverage::repairs);
        metrics.certificateExpiry(() -> {
            var out = new TreeMap<String, Instant>();
            parts.certificates().certificates().forEach((id, k) -> out.put(id.toString(),
                    k.leaf().getNotAfter().toInstant()));
            return out;
        });
        metrics.trust(() -> parts.certificates().trustBundle().size(), () -> parts.certificates().byRoot());
        metrics.configUpdated(parts.lastStateUpdate());
        metrics.mapOccupancy(parts.redirector()::occupancy);
        registerTcpHealth(metrics);
        metrics.kernelCounters(parts.redirector()::kernelCounters);
        metrics.originalDestinationLookups(() -> {
            var s = parts.redirector().stats();
            return new long[] {s.lookups(), s.misses()};
        });
        metrics.certificates(() -> new long[] {parts.certificates().issuedTotal(), parts.certificates().failedTotal()});
        metrics.stateVersion(() -> parts.state().current().version());
        metrics.meshPods(this::meshPods);
    }

    /** Registers every node metric on {@code metrics}; close the result to release the kernel map it reads. */
    public static NodeMetricsBinding bind(AgentMetrics metrics, Parts parts) {
        return new NodeMetricsBinding(requireNonNull(metrics, "metrics"), requireNonNull(parts, "parts"));
    }

    /** The coverage check the metrics report (run it periodically). */
    public CoverageCheck coverage() {
        return coverage;
    }

    private Map<String, Integer> meshPods() {
        var checked = coverage.last();
        if (checked != null) { // proven against the kernel map and certificate validity
            return Map.of("expected", checked.expected(), "captured", checked.captured(), "certified",
                    checked.certified());
        }
        var local = parts.state().current().workloadsOnNode(parts.node()).stream().filter(Workload::meshed).toList();
        var captured = parts.enrollment().captured();
        var held = parts.certificates().certificates().keySet();
        return Map.of(
                "expected", local.size(),
                "captured", (int) local.stream().filter(w -> captured.contains(w.key())).count(),
                "certified", (int) local.stream().filter(w -> held.contains(w.identity())).count());
    }

    private static CoverageCheck coverageCheck(Parts p) {
        return new CoverageCheck(new CoverageCheck.Inputs() {
            @Override
            public List<Workload> expected() {
                return p.state().current().workloadsOnNode(p.node()).stream().filter(Workload::meshed).toList();
            }

            @Override
            public Optional<Long> netnsCookie(Workload pod) {
                return p.netns().netnsOf(pod).flatMap(path -> {
                    try {
                        return Optional.of(Netns.cookie(path));
                    } catch (java.io.IOException | RuntimeException e) {
                        return Optional.empty();
                    }
                });
            }

            @Override
            public Set<Long> enrolledCookies() {
                return p.redirector().enrolled();
            }

            @Override
            public Optional<X509Certificate> certificate(Workload pod) {
                var k = p.certificates().certificates().get(pod.identity());
                return k == null ? Optional.empty() : Optional.of(k.leaf());
            }
        }, Clock.systemUTC(), () -> {
            // Under the enrollment's lock, so the snapshot read is never older than one a concurrent state
            // update applies after us (the state store publishes before it notifies).
            synchronized (p.enrollment()) {
                p.enrollment().reconcile(p.state().current());
            }
        });
    }

    /** Kernel TCP health from the sockops program (observability; skipped if the maps cannot be opened). */
    private void registerTcpHealth(AgentMetrics metrics) {
        try {
            tcpHealth = TcpHealthMap.open(parts.redirector().settings().pinDir());
            tcpHealth.watchTunnelsOf(Netns.currentCookie());
        } catch (java.io.IOException | RuntimeException e) {
            log.warn("kernel TCP health metrics disabled: {}", e.toString());
            if (tcpHealth != null) {
                tcpHealth.close();
            }
            tcpHealth = null;
            return;
        }
        TcpHealthMetrics.register(metrics.registry(), tcpHealth::read, ip -> {
            var snapshot = parts.state().current();
            var w = snapshot.workloadByIp(ip);
            if (w.isPresent()) {
                return new String[] {ConnectionMetrics.workloadKey(w.get()).substring(w.get().namespace().length() + 1),
                        w.get().namespace()};
            }
            for (var n : snapshot.nodes().values()) {
                if (ip.equals(n.ip())) {
                    return new String[] {n.name(), ""};
                }
            }
            return new String[] {"unknown", "unknown"};
        });
    }

    /** Drops TCP health pairs of pods that are no longer on this node (bounded cardinality). */
    public void evictTcpHealth() {
        if (tcpHealth == null) {
            return;
        }
        var local = new HashSet<InetAddress>();
        parts.state().current().workloadsOnNode(parts.node()).forEach(w -> local.addAll(w.addresses()));
        for (var p : tcpHealth.read()) {
            if (p.kind() == TcpHealthMap.Kind.POD && !local.contains(p.source())) {
                tcpHealth.remove(p);
            }
        }
    }

    /** {@code namespace/workload} of the pods on this node, as the workload series label them. */
    public Set<String> localWorkloadKeys() {
        var out = new HashSet<String>();
        parts.state().current().workloadsOnNode(parts.node()).forEach(w -> out.add(ConnectionMetrics.workloadKey(w)));
        return out;
    }

    @Override
    public void close() {
        if (tcpHealth != null) {
            tcpHealth.close();
        }
    }
}
