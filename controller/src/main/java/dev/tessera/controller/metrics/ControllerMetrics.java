package dev.tessera.controller.metrics;

import dev.tessera.api.push.MeshConfig;
import dev.tessera.controller.core.ControllerCore;
import dev.tessera.controller.identity.RefusalReason;
import io.prometheus.metrics.core.metrics.CounterWithCallback;
import io.prometheus.metrics.core.metrics.GaugeWithCallback;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.util.function.Supplier;

/**
 * The controller's Prometheus registry ({@code tessera_controller_*}). Values other components already
 * hold (issuer counters, the current state) are read at scrape time, never copied.
 *
 * <table>
 * <caption>series</caption>
 * <tr><td>{@code tessera_controller_certificate_refusals_total{reason}}</td><td>refused CSRs by {@link RefusalReason}</td></tr>
 * <tr><td>{@code tessera_controller_certificates_issued_total}</td><td>signed workload certificates</td></tr>
 * <tr><td>{@code tessera_controller_mesh_version}</td><td>version of the published state</td></tr>
 * <tr><td>{@code tessera_controller_agent_acked_version{node,protocol_version}}</td><td>per connected agent, the
 * version it acknowledged ({@link #push})</td></tr>
 * <tr><td>{@code tessera_controller_workloads{meshed}}</td><td>workloads in the state</td></tr>
 * <tr><td>{@code tessera_controller_services}</td><td>services in the state</td></tr>
 * <tr><td>{@code tessera_controller_policies{kind}}</td><td>policies in the state, valid or not</td></tr>
 * <tr><td>{@code tessera_controller_invalid_policies}</td><td>policies rejected by validation</td></tr>
 * <tr><td>{@code tessera_controller_is_leader}</td><td>1 on the replica that writes</td></tr>
 * <tr><td>{@code tessera_controller_reconcile_duration_seconds}</td><td>time per reconcile batch (Kubernetes mode)</td></tr>
 * <tr><td>{@code jvm_*}, {@code process_*}</td><td>the Prometheus client's JVM and process metrics</td></tr>
 * </table>
 */
public final class ControllerMetrics {

    private final PrometheusRegistry registry;
    private final Histogram reconcile;

    /** Registers the controller's metrics in {@code registry}, reading {@code core} at scrape time. */
    public ControllerMetrics(PrometheusRegistry registry, ControllerCore core) {
        this.registry = java.util.Objects.requireNonNull(registry, "registry");
        java.util.Objects.requireNonNull(core, "core");
        Supplier<MeshConfig> state = () -> core.source().current();
        io.prometheus.metrics.core.metrics.Info.builder().name(dev.tessera.api.config.BuildInfo.METRIC_BASE)
                .help("This controller's build, value 1 (tessera version reads it)").labelNames("component", "version")
                .register(registry).setLabelValues("controller", dev.tessera.api.config.BuildInfo.VERSION);
        // JVM and process metrics (jvm_*, process_*), the Prometheus client's full set: one controller per cluster,
        // so its few MB (JMX for the native-memory collector, class metadata) do not matter as the agent's do
        // (AgentMetrics.jvm() registers a lean subset).
        try {
            io.prometheus.metrics.instrumentation.jvm.JvmMetrics.builder().register(registry);
        } catch (RuntimeException | LinkageError e) { // e.g. the JDK's OperatingSystemMXBean with an odd cgroup view
            org.slf4j.LoggerFactory.getLogger(ControllerMetrics.class)
                    .warn("JVM metrics left out: the JVM could not provide them ({})", e.toString());
        }
        CounterWithCallback.builder().name("tessera_controller_certificate_refusals_total")
                .help("Workload certificate requests refused, by reason").labelNames("reason")
                .callback(cb -> core.issuer().refusals().forEach((r, n) -> cb.call(n, r.name())))
                .register(registry);
        CounterWithCallback.builder().name("tessera_controller_certificates_issued_total")
                .help("Workload certificates signed").callback(cb -> cb.call(core.issuer().issuedCount()))
                .register(registry);
        GaugeWithCallback.builder().name("tessera_controller_mesh_version")
                .help("Version of the mesh state last published").callback(cb -> cb.call(state.get().version()))
                .register(registry);
        GaugeWithCallback.builder().name("tessera_controller_workloads")
                .help("Workloads (running pods with an address) in the mesh state, by whether they are meshed")
                .labelNames("meshed")
                .callback(cb -> {
                    long meshed = state.get().mesh().workloads().stream().filter(w -> w.meshed()).count();
                    cb.call(meshed, "true");
                    cb.call(state.get().mesh().workloads().size() - meshed, "false");
                }).register(registry);
        GaugeWithCallback.builder().name("tessera_controller_services")
                .help("Services in the mesh state").callback(cb -> cb.call(state.get().mesh().services().size()))
                .register(registry);
        GaugeWithCallback.builder().name("tessera_controller_policies")
                .help("Policies in the mesh state (valid or not), by kind").labelNames("kind")
                .callback(cb -> {
                    cb.call(state.get().policies().authorizationPolicies().size(), "AuthorizationPolicy");
                    cb.call(state.get().policies().peerAuthentications().size(), "PeerAuthentication");
                }).register(registry);
        GaugeWithCallback.builder().name("tessera_controller_invalid_policies")
                .help("Policies rejected by validation (enforced fail-closed by the agents)")
                .callback(cb -> cb.call(core.invalidPolicies())).register(registry);
        GaugeWithCallback.builder().name("tessera_controller_is_leader")
                .help("1 when this replica is the leader (performs the writes)")
                .callback(cb -> cb.call(core.isLeader() ? 1 : 0)).register(registry);
        if (core.authenticator() instanceof dev.tessera.controller.identity.CachingAuthenticator cache) {
            CounterWithCallback.builder().name("tessera_controller_token_authentications_total")
                    .help("Agent token authentications (HELLO and CSR), by result: cached or reviewed (a TokenReview)")
                    .labelNames("result")
                    .callback(cb -> {
                        cb.call(cache.hits(), "cached");
                        cb.call(cache.misses(), "reviewed");
                    }).register(registry);
        }
        reconcile = Histogram.builder().name("tessera_controller_reconcile_duration_seconds")
                .help("Time to reconcile one batch of changed objects into a new mesh state")
                .classicUpperBounds(0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5)
                .withoutExemplars().register(registry);
    }

    /** Registers the config push server's metrics (agents connected, handshakes refused, frames sent, lag). */
    public void push(dev.tessera.controller.push.PushServer server) {
        java.util.Objects.requireNonNull(server, "server");
        var c = server.counters();
        GaugeWithCallback.builder().name("tessera_controller_connected_agents")
                .help("Agents connected on the config push port (15012)")
                .callback(cb -> cb.call(server.connectedAgents().size())).register(registry);
        CounterWithCallback.builder().name("tessera_controller_push_connections_total")
                .help("Connections accepted on the config push port").callback(cb -> cb.call(c.connections()))
                .register(registry);
        CounterWithCallback.builder().name("tessera_controller_push_rejected_total")
                .help("Agent connections refused before streaming, by reason").labelNames("reason")
                .callback(cb -> c.rejectedHandshakes().forEach((r, n) -> cb.call(n, r))).register(registry);
        CounterWithCallback.builder().name("tessera_controller_push_refused_total")
                .help("Connections and requests refused for overload (limits on strangers, full HELLO/CSR queues), by reason")
                .labelNames("reason")
                .callback(cb -> c.refusals().forEach((r, n) -> cb.call(n, r))).register(registry);
        CounterWithCallback.builder().name("tessera_controller_push_version_refused_total")
                .help("Agents refused for sharing no push-protocol version with this controller (also in"
                        + " tessera_controller_push_rejected_total{reason=\"PROTOCOL_VERSION\"}), by agent: newer"
                        + " (upgrade the controller first) or older (upgrade the agent)")
                .labelNames("agent")
                .callback(cb -> c.versionRefusals().forEach((r, n) -> cb.call(n, r))).register(registry);
        GaugeWithCallback.builder().name("tessera_controller_connected_agents_by_protocol")
                .help("Agents connected on the config push port, by negotiated push-protocol version (agents of"
                        + " the previous version must reach 0 before the next controller drops it)")
                .labelNames("protocol_version")
                .callback(cb -> {
                    var byVersion = new java.util.TreeMap<Integer, Integer>();
                    server.connectedAgents().forEach(a -> byVersion.merge(a.protocolVersion(), 1, Integer::sum));
                    byVersion.forEach((v, n) -> cb.call(n, String.valueOf(v)));
                }).register(registry);
        GaugeWithCallback.builder().name("tessera_controller_push_unauthenticated_connections")
                .help("Connections on the config push port that have not authenticated yet")
                .callback(cb -> cb.call(server.unauthenticatedConnections())).register(registry);
        GaugeWithCallback.builder().name("tessera_controller_push_queued")
                .help("HELLOs waiting for authentication and CSRs waiting for signing (both bounded), by queue")
                .labelNames("queue")
                .callback(cb -> {
                    cb.call(server.queuedHellos(), "hello");
                    cb.call(server.queuedCsrs(), "csr");
                }).register(registry);
        CounterWithCallback.builder().name("tessera_controller_push_malformed_frames_total")
                .help("Connections closed for a malformed frame").callback(cb -> cb.call(c.malformedFrames()))
                .register(registry);
        CounterWithCallback.builder().name("tessera_controller_push_frames_total")
                .help("State frames sent to agents, by type").labelNames("type")
                .callback(cb -> {
                    cb.call(c.snapshotsSent(), "snapshot");
                    cb.call(c.deltasSent(), "delta");
                }).register(registry);
        CounterWithCallback.builder().name("tessera_controller_push_nacks_total")
                .help("Versions agents could not apply (answered with a snapshot)").callback(cb -> cb.call(c.nacks()))
                .register(registry);
        GaugeWithCallback.builder().name("tessera_controller_agent_acked_version")
                .help("Per connected agent: the last config version it acknowledged (-1: none yet) and its"
                        + " push-protocol version; one series per node (bounded by the cluster's node count), read"
                        + " by tessera proxy-status against tessera_controller_mesh_version")
                .labelNames("node", "protocol_version")
                .callback(cb -> {
                    // an agent being upgraded holds two sessions for a moment: report its furthest one, once
                    var byNode = new java.util.TreeMap<String, dev.tessera.controller.push.PushServer.ConnectedAgent>();
                    server.connectedAgents().forEach(a -> byNode.merge(a.node(), a,
                            (x, y) -> y.ackedVersion() > x.ackedVersion() ? y : x));
                    byNode.forEach((node, a) -> cb.call(a.ackedVersion(), node, String.valueOf(a.protocolVersion())));
                }).register(registry);
        GaugeWithCallback.builder().name("tessera_controller_agents_behind")
                .help("Connected agents whose acknowledged version is older than the latest published one")
                .callback(cb -> {
                    long latest = server.version();
                    cb.call(server.ackedVersions().values().stream().filter(v -> v < latest).count());
                }).register(registry);
    }

    /**
     * Registers the trust and root-rotation metrics: {@code tessera_trust_roots} (roots in the bundle, also
     * exported by agents), {@code tessera_controller_trust_rotation_phase{phase}} (1 for the current phase),
     * {@code tessera_controller_trust_bundle_generation}, {@code tessera_controller_certificates_under_old_issuers}
     * (held certificates an issuer other than the signer signed) and
     * {@code tessera_controller_agents_without_current_bundle}.
     */
    public void trust(dev.tessera.controller.identity.SvidIssuer issuer, dev.tessera.controller.push.PushServer server) {
        java.util.Objects.requireNonNull(issuer, "issuer");
        java.util.Objects.requireNonNull(server, "server");
        var trust = issuer.trust();
        GaugeWithCallback.builder().name("tessera_trust_roots")
                .help("Roots in the trust bundle sent to agents (2 or more during a root rotation)")
                .callback(cb -> cb.call(trust.bundle().size())).register(registry);
        GaugeWithCallback.builder().name("tessera_controller_trust_rotation_phase")
                .help("Root rotation phase: STABLE, PUBLISHING (new root trusted, old CA signs) or RENEWING (new CA"
                        + " signs, old roots trusted until no certificate under them is held); 1 for the current one")
                .labelNames("phase")
                .callback(cb -> {
                    var now = trust.phase();
                    for (var p : dev.tessera.controller.identity.TrustRotation.Phase.values()) {
                        cb.call(p == now ? 1 : 0, p.name());
                    }
                }).register(registry);
        GaugeWithCallback.builder().name("tessera_controller_trust_bundle_generation")
                .help("Generation of the trust bundle (bumped on every change)")
                .callback(cb -> cb.call(trust.generation())).register(registry);
        GaugeWithCallback.builder().name("tessera_controller_certificates_under_old_issuers")
                .help("Workload certificates agents hold that an issuer other than the current signer signed")
                .callback(cb -> cb.call(issuer.heldUnderOtherIssuers(trust.signer().issuingCertificate())))
                .register(registry);
        GaugeWithCallback.builder().name("tessera_controller_agents_without_current_bundle")
                .help("Connected agents that have not yet answered for the current trust bundle")
                .callback(cb -> cb.call(server.agentsWithoutCurrentBundle())).register(registry);
    }

    /**
     * Registers {@code tessera_controller_ca_rejected} (1 while the CA source, e.g. the CA Secret, holds input
     * that was rejected and the current roots stay) and {@code tessera_controller_ca_rejections_total}.
     */
    public void rotationRequests(dev.tessera.controller.identity.RotationDriver.Requests requests) {
        java.util.Objects.requireNonNull(requests, "requests");
        GaugeWithCallback.builder().name("tessera_controller_ca_rejected")
                .help("1 while the CA source (Kubernetes: the CA Secret; local: the rotation request) holds input that"
                        + " was rejected; the current roots stay (the reason is logged)")
                .callback(cb -> cb.call(requests.rejected() != null ? 1 : 0)).register(registry);
        CounterWithCallback.builder().name("tessera_controller_ca_rejections")
                .help("CA inputs rejected (malformed certificate or key, key not matching, not a CA, expired, not"
                        + " chaining to ca.crt, refused rotation annotation)")
                .callback(cb -> cb.call(requests.rejections())).register(registry);
    }

    /** Records one reconcile batch. */
    public void reconciled(long nanos) {
        reconcile.observe(nanos / 1e9);
    }

    public PrometheusRegistry registry() {
        return registry;
    }
}
