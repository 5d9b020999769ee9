package dev.tessera.agent;

import dev.tessera.agent.admin.HttpEndpoints;
import dev.tessera.agent.admin.Readiness;
import dev.tessera.agent.config.AgentConfig;
import dev.tessera.agent.config.NetnsSource;
import dev.tessera.agent.control.ControllerClient;
import dev.tessera.agent.control.ControllerSigner;
import dev.tessera.agent.identity.LocalCaSigner;
import dev.tessera.agent.identity.LocalCertificateManager;
import dev.tessera.agent.metrics.AgentMetrics;
import dev.tessera.agent.metrics.ConnectionMetrics;
import dev.tessera.agent.metrics.CoverageCheck;
import dev.tessera.agent.policy.PolicyEnforcer;
import dev.tessera.agent.policy.PolicyMetrics;
import dev.tessera.agent.redirect.PeerAuthProgram;
import dev.tessera.agent.redirect.BpfRedirector;
import dev.tessera.agent.redirect.Enrollment;
import dev.tessera.agent.redirect.LocalNetnsResolver;
import dev.tessera.agent.redirect.PodNetnsResolver;
import dev.tessera.agent.redirect.cri.CriNetnsResolver;
import dev.tessera.agent.redirect.RedirectSettings;
import dev.tessera.agent.state.StateStore;
import dev.tessera.common.local.ClusterDescription;
import dev.tessera.common.local.LocalClusterWatcher;
import dev.tessera.common.local.LocalSnapshots;
import dev.tessera.common.policy.PolicySet;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One node agent, wired from an {@link AgentConfig}. Start-up order: listeners bind first (a port clash
 * fails start-up before anything is changed), then the cluster state loads (a bad description fails
 * fast), then the eBPF programs attach or are re-adopted from their pins, then pods are enrolled and
 * certificates issued. Readiness turns green only when programs are attached, state is synced and every
 * local meshed identity holds a certificate.
 */
public final class NodeAgent implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(NodeAgent.class);

    /** Longest the listeners hold connections in the backlog waiting for certificates at start-up. */
    static final java.time.Duration GATE_TIMEOUT = java.time.Duration.ofSeconds(10);

    private final AgentConfig config;
    private final StateStore state = new StateStore();
    private final AtomicLong version = new AtomicLong();
    private final List<AutoCloseable> closeables = new ArrayList<>();
    private final CountDownLatch terminated = new CountDownLatch(1);
    private LocalNetnsResolver localNetwork;
    private PodNetnsResolver netns;
    private BpfRedirector redirector;
    private Enrollment enrollment;
    private LocalCertificateManager certificates;
    private AgentMetrics metrics;
    private DataPath dataPath;
    private HttpEndpoints http;
    private CoverageCheck coverage;
    private dev.tessera.agent.redirect.TcpHealthMap tcpHealth;
    private volatile java.time.Instant lastStateUpdate;
    private PolicyEnforcer policies;
    private PolicyMetrics policyMetrics;
    private volatile PeerAuthProgram peerAuth;
    private volatile boolean draining;
    /** Counted down once the first state and its policies are applied (opens the listeners' gate). */
    private final CountDownLatch firstApplied = new CountDownLatch(1);
    private ControllerClient controller;
    private final java.nio.file.Path handoffSocket;
    private volatile boolean handedOff;

    private NodeAgent(AgentConfig config, java.nio.file.Path handoffSocket) {
        this.config = config;
        this.handoffSocket = handoffSocket;
    }

    /** Starts an agent without listener handoff; on any failure everything already started is closed again. */
    public static NodeAgent start(AgentConfig config) throws Exception {
        return start(config, null);
    }

    /**
     * Starts an agent; on any failure everything already started is closed again.
     *
     * @param handoffSocket where the running agent of this node serves its listeners (adopted instead of
     *     bound when one answers) and where this agent serves them to the next one; null: no handoff
     */
    public static NodeAgent start(AgentConfig config, java.nio.file.Path handoffSocket) throws Exception {
        var agent = new NodeAgent(config, handoffSocket);
        try {
            agent.doStart();
            return agent;
        } catch (Exception | Error e) {
            agent.close();
            throw e;
        }
    }

    private void doStart() throws Exception {
        dev.tessera.agent.identity.CertificateSigner signer;
        if (config.controller() != null) { // state, policies and certificates from the controller
            controller = new ControllerClient(ControllerClient.Settings.of(config.controller(), config.nodeName(),
                    config.controllerToken(), config.controllerCa()), this::onControllerConfig,
                    bundle -> log.info("controller trust bundle: {} root(s)", bundle.size()));
            signer = new ControllerSigner(controller, () -> controllerRoots(config.controllerCa()));
        } else {
            signer = LocalCaSigner.load(config.caDir());
        }
        certificates = new LocalCertificateManager(config.nodeName(), signer);
        closeables.add(certificates);
        metrics = new AgentMetrics();

        // 1. Bind every listener before anything else runs, or adopt those of the running agent (handoff:
        // the kernel sockets and their backlogs pass from one process to the other, no connection refused).
        var handoff = handoffSocket == null ? null
                : dev.tessera.agent.handoff.HandoffClient.request(handoffSocket, java.time.Duration.ofSeconds(5));
        try {
            dataPath = DataPath.bind(config, state, certificates, metrics, handoff);
            closeables.add(dataPath);
            if (handoff != null) {
                handoff.acknowledge(); // the old agent stops accepting, releases its HTTP ports and drains
            }
        } finally {
            if (handoff != null) {
                handoff.close();
            }
        }
        var adminRoutes = new AdminRoutes(this);
        policyMetrics = new PolicyMetrics(metrics.registry());
        policies = new PolicyEnforcer(state, policyMetrics); // denies until policies load
        dataPath.useInboundGate(policies);
        http = httpEndpoints(adminRoutes, handoff == null ? java.time.Duration.ZERO : HTTP_HANDOFF_WAIT);
        closeables.add(http);
        adminRoutes.installInteractive(http);
        http.beforeScrape(metrics.connections()::flush);

        // 2. State: from the controller, or (local mode) the cluster description, re-read when it changes.
        localNetwork = config.networkFile() == null ? null : new LocalNetnsResolver(config.networkFile());
        if (config.netnsSource() == NetnsSource.CRI) {
            netns = new CriNetnsResolver(config.hostRoot());
        } else if (localNetwork != null) {
            netns = localNetwork;
        } else {
            throw new IllegalArgumentException("--netns-source local needs --network (expected: network.json written by"
                    + " `tessera local up`), or use --netns-source cri on a Kubernetes node");
        }
        LocalClusterWatcher watcher = null;
        if (controller == null) {
            watcher = new LocalClusterWatcher(config.localCluster(), this::onDescription);
            closeables.add(watcher);
        }

        // 3. Kernel capture: attach, or adopt the pinned programs of a previous run.
        redirector = BpfRedirector.install(RedirectSettings.of(config));
        closeables.add(redirector);
        dataPath.useOriginalDestinations(redirector);
        peerAuth = PeerAuthProgram.install(config.bpfPinDir(), RedirectSettings.of(config).cgroupDir(), config.nodeIp());
        closeables.add(peerAuth);
        PeerAuthProgram pa = peerAuth;
        policyMetrics.plaintext(() -> policies.plaintextSeries(config.nodeName(), pa.counters()));
        enrollment = new Enrollment(config.nodeName(), redirector, netns);
        registerMetrics();

        certificates.attach(state);
        state.addListener(snapshot -> enrollment.reconcile(snapshot));
        state.addListener(snapshot -> lastStateUpdate = java.time.Instant.now());
        if (watcher != null) {
            watcher.start();
        } else {
            closeables.add(controller); // closed before the certificate manager that uses it
            controller.start();
        }
        closeables.add(Observability.start(metrics, coverage, () -> {
            evictTcpHealth();
            return localWorkloadKeys();
        }));

        http.start();
        openTheGate();
        if (handoffSocket != null) { // the next agent of this node takes the listeners from us
            try {
                var server = dev.tessera.agent.handoff.HandoffServer.serve(handoffSocket, dataPath::listenerFds,
                        this::handedOff);
                if (server != null) {
                    closeables.add(server);
                }
            } catch (java.io.IOException e) { // not fatal: the next agent then binds after this one stopped
                log.warn("listener handoff disabled (an upgrade will refuse connections while agents change): {}",
                        e.getMessage());
            }
        }
        log.info("node agent {} started on {} (outbound :{}, HBONE :{}, metrics :{}, ready :{}, admin 127.0.0.1:{})",
                config.nodeName(), config.nodeIp().getHostAddress(), config.outboundPort(), config.inboundPort(),
                config.metricsPort(), config.readyPort(), config.adminPort());
    }

    /** Longest a new agent waits for the previous one to release 15020/15021/15000 after a handoff. */
    static final java.time.Duration HTTP_HANDOFF_WAIT = java.time.Duration.ofSeconds(10);

    /** Binds the HTTP endpoints, retrying for up to {@code wait} while the previous agent still holds them. */
    private HttpEndpoints httpEndpoints(AdminRoutes adminRoutes, java.time.Duration wait) throws Exception {
        long deadline = System.nanoTime() + wait.toNanos();
        while (true) {
            try {
                return new HttpEndpoints(config.metricsPort(), config.readyPort(), config.adminPort(),
                        metrics.registry(), this::unmetReadiness, adminRoutes.routes());
            } catch (java.net.BindException e) {
                if (System.nanoTime() > deadline) {
                    throw e;
                }
                Thread.sleep(20); // the previous agent releases its ports right after our acknowledgement
            }
        }
    }

    /**
     * A new agent adopted 15001/15008: stop accepting on our copies (the kernel sockets live on in it), send
     * GOAWAY to HBONE peers, release the HTTP ports for it; open connections keep running until they end or
     * until SIGTERM drains them ({@link #shutdown}). The process waits for SIGTERM rather than exiting: a
     * container that exits by itself is restarted by Kubernetes.
     */
    private void handedOff() {
        handedOff = true;
        draining = true;
        DataPath dp = dataPath;
        if (dp != null) {
            dp.stopAccepting();
        }
        synchronized (this) {
            if (http != null && closeables.remove(http)) {
                http.close();
            }
        }
        log.info("handed the listeners to the next agent; serving open connections until SIGTERM");
    }

    /** True once the next agent of this node adopted the listeners. */
    boolean isHandedOff() {
        return handedOff;
    }

    /**
     * Starts accepting on 15001/15008 once the local identities hold certificates. Until then connections
     * wait in the listen backlog (an agent restart fails no new connection); if certificates do not come
     * within {@link #GATE_TIMEOUT}, accepting starts anyway and the affected connections fail with a reason.
     */
    private void openTheGate() throws InterruptedException {
        long t0 = System.nanoTime();
        // The first state and its policies first (from the controller they arrive asynchronously): without
        // them every pod is unknown and "every certificate held" would be trivially true.
        if (!firstApplied.await(GATE_TIMEOUT.toNanos(), java.util.concurrent.TimeUnit.NANOSECONDS)) {
            log.warn("accepting connections without cluster state after {} s", GATE_TIMEOUT.toSeconds());
        }
        java.time.Duration left = GATE_TIMEOUT.minusNanos(System.nanoTime() - t0);
        if (!certificates.awaitAll(left.isNegative() ? java.time.Duration.ZERO : left)) {
            log.warn("accepting connections without every certificate: {}", unmetReadiness());
        }
        dataPath.acceptConnections();
        log.info("accepting connections (waited {} ms for state and certificates)", (System.nanoTime() - t0) / 1_000_000);
    }

    /** {@code namespace/workload} of the pods on this node, as the workload series label them. */
    private java.util.Set<String> localWorkloadKeys() {
        var out = new java.util.HashSet<String>();
        state.current().workloadsOnNode(config.nodeName()).forEach(w -> out.add(ConnectionMetrics.workloadKey(w)));
        return out;
    }

    /** Kernel TCP health from the sockops program (observability; skipped if the maps cannot be opened). */
    private void registerTcpHealth() {
        try {
            tcpHealth = dev.tessera.agent.redirect.TcpHealthMap.open(redirector.settings().pinDir());
            closeables.add(tcpHealth);
            tcpHealth.watchTunnelsOf(dev.tessera.common.netns.Netns.currentCookie());
        } catch (java.io.IOException | RuntimeException e) {
            log.warn("kernel TCP health metrics disabled: {}", e.toString());
            tcpHealth = null;
            return;
        }
        dev.tessera.agent.metrics.TcpHealthMetrics.register(metrics.registry(), tcpHealth::read, ip -> {
            var snapshot = state.current();
            var w = snapshot.workloadByIp(ip);
            if (w.isPresent()) {
                return new String[] {dev.tessera.agent.metrics.ConnectionMetrics.workloadKey(w.get())
                        .substring(w.get().namespace().length() + 1), w.get().namespace()};
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
    private void evictTcpHealth() {
        if (tcpHealth == null) {
            return;
        }
        var local = new java.util.HashSet<java.net.InetAddress>();
        state.current().workloadsOnNode(config.nodeName()).forEach(w -> local.add(w.ip()));
        for (var p : tcpHealth.read()) {
            if (p.kind() == dev.tessera.agent.redirect.TcpHealthMap.Kind.POD && !local.contains(p.source())) {
                tcpHealth.remove(p);
            }
        }
    }

    private CoverageCheck coverageCheck() {
        return new CoverageCheck(new CoverageCheck.Inputs() {
            @Override
            public List<dev.tessera.common.model.Workload> expected() {
                return state.current().workloadsOnNode(config.nodeName()).stream()
                        .filter(dev.tessera.common.model.Workload::meshed).toList();
            }

            @Override
            public java.util.Optional<Long> netnsCookie(dev.tessera.common.model.Workload pod) {
                return netns.netnsOf(pod).flatMap(path -> {
                    try {
                        return java.util.Optional.of(dev.tessera.common.netns.Netns.cookie(path));
                    } catch (java.io.IOException | RuntimeException e) {
                        return java.util.Optional.empty();
                    }
                });
            }

            @Override
            public java.util.Set<Long> enrolledCookies() {
                return redirector.enrolled();
            }

            @Override
            public java.util.Optional<java.security.cert.X509Certificate> certificate(
                    dev.tessera.common.model.Workload pod) {
                var k = certificates.certificates().get(pod.identity());
                return k == null ? java.util.Optional.empty() : java.util.Optional.of(k.leaf());
            }
        }, java.time.Clock.systemUTC(), () -> {
            // Under the enrollment's lock, so the snapshot read is never older than one a concurrent state
            // update applies after us (the state store publishes before it notifies).
            synchronized (enrollment) {
                enrollment.reconcile(state.current());
            }
        });
    }

    private void registerMetrics() {
        coverage = coverageCheck();
        metrics.coverageGap(() -> coverage.last() == null ? 0 : coverage.last().gap(),
                () -> coverage.last() == null ? null : coverage.last().checkedAt());
        metrics.coverageRepairs(coverage::repairs);
        metrics.certificateExpiry(() -> {
            var out = new java.util.TreeMap<String, java.time.Instant>();
            certificates.certificates().forEach((id, k) -> out.put(id.toString(), k.leaf().getNotAfter().toInstant()));
            return out;
        });
        metrics.configUpdated(() -> lastStateUpdate);
        metrics.mapOccupancy(redirector::occupancy);
        registerTcpHealth();
        metrics.kernelCounters(redirector::kernelCounters);
        metrics.originalDestinationLookups(() -> {
            var s = redirector.stats();
            return new long[] {s.lookups(), s.misses()};
        });
        metrics.certificates(() -> new long[] {certificates.issuedTotal(), certificates.failedTotal()});
        metrics.stateVersion(() -> state.current().version());
        metrics.meshPods(() -> {
            var checked = coverage.last();
            if (checked != null) { // proven against the kernel map and certificate validity
                return java.util.Map.of("expected", checked.expected(), "captured", checked.captured(),
                        "certified", checked.certified());
            }
            var local = state.current().workloadsOnNode(config.nodeName()).stream().filter(w -> w.meshed()).toList();
            var captured = enrollment.captured();
            var held = certificates.certificates().keySet();
            return java.util.Map.of(
                    "expected", local.size(),
                    "captured", (int) local.stream().filter(w -> captured.contains(w.key())).count(),
                    "certified", (int) local.stream().filter(w -> held.contains(w.identity())).count());
        });
    }

    private void onDescription(ClusterDescription description) {
        var conversion = LocalSnapshots.convert(description, localNetwork.attachments(), config.trustDomain(),
                version.incrementAndGet());
        conversion.warnings().forEach(w -> log.warn("cluster description: {}", w));
        apply(conversion.snapshot(), PolicySet.translate(conversion.snapshot().version(), description.others()));
    }

    /** A state pushed by the controller (on the controller client's thread). */
    private void onControllerConfig(dev.tessera.common.model.MeshConfig c) {
        apply(c.mesh(), c.policies());
    }

    private void apply(dev.tessera.common.model.MeshSnapshot snapshot, PolicySet policySet) {
        state.update(snapshot);
        policies.update(policySet); // after the state: re-checks open connections against the new workloads
        PeerAuthProgram pa = peerAuth;
        if (pa != null) {
            pa.sync(policies.strictPods(config.nodeName()));
        }
        firstApplied.countDown(); // after both: the listeners open on a state whose certificates are expected
    }

    private static List<java.security.cert.X509Certificate> controllerRoots(java.nio.file.Path caFile) {
        try {
            return dev.tessera.common.identity.CertificateAuthority.Pem.readCertificates(
                    java.nio.file.Files.readString(caFile));
        } catch (java.io.IOException | RuntimeException e) {
            log.warn("cannot read --controller-ca {}: {}", caFile, e.toString());
            return List.of();
        }
    }

    /** The controller session, or null in local mode. */
    ControllerClient controller() {
        return controller;
    }

    /** Unmet readiness conditions; empty when ready. */
    List<String> unmetReadiness() {
        if (draining) {
            return List.of("draining: the agent is shutting down");
        }
        Map<String, Boolean> programs = null;
        if (redirector != null) {
            programs = new java.util.LinkedHashMap<>();
            for (var a : redirector.attachments()) {
                programs.put(a.program(), a.effective());
            }
        }
        return Readiness.unmet(programs, state.synced(),
                certificates == null ? List.of() : certificates.expected(),
                certificates == null ? java.util.Set.of() : certificates.certificates().keySet(),
                enrollment == null ? Map.of() : enrollment.refused());
    }

    AgentConfig config() {
        return config;
    }

    StateStore state() {
        return state;
    }

    BpfRedirector redirector() {
        return redirector;
    }

    Enrollment enrollment() {
        return enrollment;
    }

    LocalCertificateManager certificates() {
        return certificates;
    }

    PolicyEnforcer policies() {
        return policies;
    }

    DataPath dataPath() {
        return dataPath;
    }

    AgentMetrics metrics() {
        return metrics;
    }

    CoverageCheck coverage() {
        return coverage;
    }

    /** Blocks until {@link #close()}. */
    public void awaitTermination() throws InterruptedException {
        terminated.await();
    }

    /**
     * SIGTERM: readiness turns red, the listeners stop accepting (captured pods' new connections fail
     * closed until the next agent listens; the pinned programs stay), HBONE peers get GOAWAY, and open
     * connections get up to {@code grace} to finish by themselves before everything is closed; those still
     * open then are cut with reason SHUTDOWN, counted and logged ({@link DataPath#drain}).
     */
    public void shutdown(java.time.Duration grace) {
        draining = true;
        DataPath dp = dataPath;
        if (dp != null && !grace.isZero() && !grace.isNegative()) {
            long t0 = System.nanoTime();
            int cut = dp.drain(grace);
            log.info("drained in {} ms ({} connection(s) cut at the {} ms timeout)", (System.nanoTime() - t0) / 1_000_000,
                    cut, grace.toMillis());
        }
        close();
    }

    /**
     * Stops listening and releases the agent's handles. The eBPF programs stay attached through their
     * pins: meshed pods keep failing closed until an agent is back.
     */
    @Override
    public synchronized void close() {
        for (int i = closeables.size() - 1; i >= 0; i--) {
            try {
                closeables.get(i).close();
            } catch (Exception e) {
                log.warn("closing {} failed", closeables.get(i), e);
            }
        }
        closeables.clear();
        terminated.countDown();
    }
}
