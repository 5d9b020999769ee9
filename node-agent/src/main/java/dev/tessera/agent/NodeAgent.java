package dev.tessera.agent;

import dev.tessera.agent.admin.AdminRoutes;
import dev.tessera.agent.admin.AgentView;
import dev.tessera.agent.admin.HttpEndpoints;
import dev.tessera.agent.admin.Readiness;
import dev.tessera.agent.config.AgentConfig;
import dev.tessera.agent.config.NetnsSource;
import dev.tessera.agent.control.ControllerClient;
import dev.tessera.agent.control.ControllerSigner;
import dev.tessera.agent.identity.CertificateManager;
import dev.tessera.agent.metrics.AgentMetrics;
import dev.tessera.agent.metrics.CoverageCheck;
import dev.tessera.agent.metrics.NodeMetricsBinding;
import dev.tessera.agent.policy.PlaintextDecisions;
import dev.tessera.agent.policy.PlaintextKernel;
import dev.tessera.agent.policy.PolicyEnforcer;
import dev.tessera.agent.policy.PolicyMetrics;
import dev.tessera.agent.redirect.BpfRedirector;
import dev.tessera.agent.redirect.Enrollment;
import dev.tessera.agent.redirect.LocalNetnsResolver;
import dev.tessera.agent.redirect.PeerAuthProgram;
import dev.tessera.agent.redirect.ReplyRouting;
import dev.tessera.agent.redirect.PodNetnsResolver;
import dev.tessera.agent.redirect.RedirectSettings;
import dev.tessera.agent.redirect.TimeWaitReuse;
import dev.tessera.agent.redirect.cri.CriNetnsResolver;
import dev.tessera.agent.state.StateStore;
import dev.tessera.agent.warmup.DataPathWarmUp;
import dev.tessera.api.policy.PolicySet;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One node agent: the composition root that wires the parts from an {@link AgentConfig}; the parts do the
 * work. Start-up order: the controller session and certificate manager are created (nothing connects yet);
 * the listeners bind first, or are adopted from the running agent through the handoff socket (a port clash
 * fails start-up before anything is changed); the policy stage (denying until policies arrive), the HTTP
 * endpoints and the admin API follow; then the eBPF programs attach or are re-adopted from their pins, pods
 * are enrolled as the controller's state arrives, and certificates are requested. The listeners start
 * accepting only once the first state and its certificates are in ({@link #GATE_TIMEOUT}). Readiness turns
 * green when programs are attached, state is synced and every local meshed identity holds a certificate.
 */
public final class NodeAgent implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(NodeAgent.class);

    /** Longest the listeners hold connections in the backlog waiting for certificates at start-up. */
    static final java.time.Duration GATE_TIMEOUT = java.time.Duration.ofSeconds(10);

    private final AgentConfig config;
    private final StateStore state = new StateStore();
    private final List<AutoCloseable> closeables = new ArrayList<>();
    private final CountDownLatch terminated = new CountDownLatch(1);
    private PodNetnsResolver netns;
    private BpfRedirector redirector;
    private Enrollment enrollment;
    private volatile CertificateManager certificates;
    private AgentMetrics metrics;
    private DataPath dataPath;
    private HttpEndpoints http;
    private CoverageCheck coverage;
    private NodeMetricsBinding nodeMetrics;
    private volatile java.time.Instant lastStateUpdate;
    private PolicyEnforcer policies;
    private PolicyMetrics policyMetrics;
    private volatile PeerAuthProgram peerAuth;
    private volatile PlaintextKernel plaintextKernel;
    private volatile boolean draining;
    /** Counted down once the first state and its policies are applied (opens the listeners' gate). */
    private final CountDownLatch firstApplied = new CountDownLatch(1);
    private ControllerClient controller;
    private final java.nio.file.Path handoffSocket;

    private NodeAgent(AgentConfig config) {
        this.config = config;
        this.handoffSocket = config.handoffSocket();
    }

    /**
     * Starts an agent; on any failure everything already started is closed again. With a handoff socket
     * ({@link AgentConfig#handoffSocket}) it adopts the listeners of the agent serving them there, if one
     * answers, and then serves them there itself for the next one.
     */
    public static NodeAgent start(AgentConfig config) throws Exception {
        var agent = new NodeAgent(config);
        try {
            agent.doStart();
            return agent;
        } catch (Exception | Error e) {
            agent.close();
            throw e;
        }
    }

    /** Done once the start-up warm-up ran ({@link DataPathWarmUp}). */
    private final java.util.concurrent.CompletableFuture<DataPathWarmUp.Result> warmUp =
            new java.util.concurrent.CompletableFuture<>();

    private DataPathWarmUp.Result warmUp() {
        var warm = DataPathWarmUp.run(config.warmUpConnections(), WARM_UP_BUDGET);
        if (warm.connections() > 0) {
            log.info("data path warmed up: {} connections over loopback in {} ms ({} failed; {})", warm.connections(),
                    warm.millis(), warm.failed(), warm.settled() ? "the JIT settled" : "stopped at its limit");
        }
        int nice = dev.tessera.agent.warmup.CompilerPriority.configuredNice();
        int threads = dev.tessera.agent.warmup.CompilerPriority.yieldToDataPath(nice);
        if (threads > 0) {
            log.info("the JIT's C2 compiler yields to the data path from now on ({} thread(s) at nice {})", threads, nice);
        }
        return warm;
    }

    /** Admin routes (the HTTP endpoints are bound once this agent accepts). */
    private AdminRoutes adminRoutes;

    /** Binds and starts the metrics, readiness and admin endpoints, waiting up to {@code wait} for their ports. */
    private void startHttp(java.time.Duration wait) throws Exception {
        http = httpEndpoints(adminRoutes, wait);
        closeables.add(http);
        adminRoutes.installInteractive(http);
        PlaintextKernel pk = plaintextKernel;
        http.beforeScrape(() -> {
            metrics.connections().flush();
            pk.countHits();
        });
        http.start();
    }

    /**
     * Everything between binding the listeners and accepting on them, except the wait for state and
     * certificates: policy stage, kernel programs, controller session.
     */
    private void startComponents() throws Exception {
        adminRoutes = new AdminRoutes(adminView());
        policyMetrics = new PolicyMetrics(metrics.registry());
        policies = new PolicyEnforcer(state, policyMetrics); // denies until policies load
        dataPath.useInboundGate(policies);

        // 2. Where pods' network namespaces are found: the container runtime, or a local cluster's network.json.
        netns = config.netnsSource() == NetnsSource.CRI ? new CriNetnsResolver(config.hostRoot())
                : new LocalNetnsResolver(config.networkFile());

        // 3. Kernel capture: attach, or adopt the pinned programs of a previous run.
        redirector = BpfRedirector.install(RedirectSettings.of(config));
        closeables.add(redirector);
        dataPath.useOriginalDestinations(redirector);
        // No trusted IPv6 source: IPv6 probes are not SNATed to a probe address yet (ProbeSnat is IPv4), and the
        // node's IPv6 address wholesale would let every host process past STRICT. The agent's own IPv6 deliveries
        // are recorded; kubelet probes go to a pod's primary address (IPv4 in a cluster whose first family is).
        peerAuth = PeerAuthProgram.install(config.bpfPinDir(), RedirectSettings.of(config).cgroupDir(),
                trustedProbeSource(), null, config.maxPods());
        closeables.add(peerAuth);
        PeerAuthProgram pa = peerAuth;
        useTransparentDelivery(pa);
        policyMetrics.plaintext(() -> policies.plaintextSeries(config.nodeName(), pa.counters()));
        PlaintextDecisions pd = new PlaintextDecisions(policyMetrics);
        metrics.plaintextEventsLost(() -> {
            try {
                return pa.plainEventsLost();
            } catch (RuntimeException e) { // the map closed by a shutdown: the scrape still answers
                return 0L;
            }
        });
        closeables.add(new dev.tessera.agent.inbound.PlaintextEvents(pa, state::current, pd::decisionFor,
                dataPath.listener(), pd::countUnselected).start()); // closed before the program's maps

        plaintextKernel = new PlaintextKernel(pa, pd, policies, config.nodeName());
        enrollment = new Enrollment(config.nodeName(), redirector, netns, new TimeWaitReuse());
        nodeMetrics = NodeMetricsBinding.bind(metrics, new NodeMetricsBinding.Parts(config.nodeName(), state, netns,
                redirector, enrollment, certificates, () -> lastStateUpdate));
        closeables.add(nodeMetrics);
        coverage = nodeMetrics.coverage();

        certificates.attach(state);
        BpfRedirector capture = redirector;
        state.addListener(capture::syncDestinations); // before enrollment: a new pod's peers are captured
        state.addListener(snapshot -> enrollment.reconcile(snapshot));
        state.addListener(snapshot -> lastStateUpdate = java.time.Instant.now());
        closeables.add(controller); // closed before the certificate manager that uses it
        controller.start();
        closeables.add(Observability.start(config, metrics, coverage, () -> {
            nodeMetrics.evictTcpHealth();
            return nodeMetrics.localWorkloadKeys();
        }));
    }

    /** Longest the start-up warm-up may take ({@link DataPathWarmUp}). */
    static final java.time.Duration WARM_UP_BUDGET = java.time.Duration.ofSeconds(15);

    private void doStart() throws Exception {
        // State, policies and certificates come from the controller.
        controller = new ControllerClient(ControllerClient.Settings.of(config.controller(), config.nodeName(),
                config.controllerToken(), config.controllerCa()), this::onControllerConfig,
                this::onTrustBundle);
        var signer = new ControllerSigner(controller, () -> controllerRoots(config.controllerCa()));
        certificates = new CertificateManager(config.nodeName(), signer).rotationWindow(config.rootRotationWindow());
        closeables.add(certificates);
        metrics = new AgentMetrics();
        metrics.jvm();
        metrics.controllerSession(controller::protocolVersion, controller::versionSkewRefusals);

        // 1. Bind every listener before anything else runs, or adopt those of the running agent (handoff:
        // the kernel sockets and their backlogs pass from one process to the other, no connection refused).
        // An upgrade: everything below up to the acknowledgement (warm-up, kernel programs, controller session,
        // state, certificates) runs while the running agent still accepts on its copies of the listeners; only
        // then does it stop, and this agent accepts at once. A failure before the acknowledgement leaves the
        // running agent serving (the handoff connection closes unacknowledged), and so does an upgrade that never
        // gets state or certificates: it waits for them without a limit until it is stopped.
        var handoff = handoffSocket == null ? null
                : dev.tessera.agent.handoff.HandoffClient.request(handoffSocket, java.time.Duration.ofSeconds(5));
        long gateWait;
        try {
            dataPath = DataPath.bind(new DataPath.Inputs(config, state, certificates, metrics), handoff);
            closeables.add(dataPath);
            if (handoff != null) {
                warmUp.complete(warmUp());
            }
            startComponents();
            if (handoff == null) {
                startHttp(java.time.Duration.ZERO); // readiness and metrics say why while the gate waits
            }
            gateWait = handoff != null ? awaitStateAndCertificatesToTakeOver(handoff) : awaitStateAndCertificates();
            if (handoff != null && !handoff.peerGone()) {
                handoff.acknowledge(); // the old agent stops accepting, releases its HTTP ports and drains
            }
        } finally {
            if (handoff != null) {
                handoff.close();
            }
        }
        dataPath.acceptConnections();
        log.info("accepting connections (waited {} ms for state and certificates)", gateWait);
        if (handoff != null) {
            startHttp(HTTP_HANDOFF_WAIT); // the old agent answered probes and scrapes until the acknowledgement
        }

        if (!warmUp.isDone()) {
            // First start or after a crash: pods' connections flow from here on; the warm-up runs behind them
            // (never delaying a recovery) and readiness waits for it.
            var t = new Thread(() -> warmUp.complete(warmUp()), "tessera-warmup");
            t.setDaemon(true);
            t.start();
        }
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
        log.info("node agent {} started on {}{} (outbound :{}, HBONE :{}, metrics :{}, ready :{}, admin 127.0.0.1:{})",
                config.nodeName(), config.nodeIp().getHostAddress(),
                config.nodeIp6() == null ? "" : " and " + config.nodeIp6().getHostAddress(), config.outboundPort(),
                config.inboundPort(), config.metricsPort(), config.readyPort(), config.adminPort());
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

    /**
     * Waits until the first state is applied and the local identities hold certificates, at most
     * {@link #GATE_TIMEOUT}; returns how long, in ms. Only then does this agent accept on 15001/15008 (and, in an
     * upgrade, tell the running agent to stop): until then connections wait in the listen backlog. If certificates
     * do not come in time, accepting starts anyway and the affected connections fail with a reason. An upgrade
     * waits without a limit instead: {@link #awaitStateAndCertificatesToTakeOver}.
     */
    private long awaitStateAndCertificates() throws InterruptedException {
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
        return (System.nanoTime() - t0) / 1_000_000;
    }

    /**
     * In an upgrade: waits for the first state and every expected certificate WITHOUT a limit, saying every
     * {@link #GATE_TIMEOUT} what is missing; returns how long, in ms. The running agent serves with its own state
     * until this agent acknowledges the handoff, so taking over without state (as a first start does after
     * {@link #GATE_TIMEOUT}) would only make the node worse: the new agent would not become ready, the orchestrator
     * ({@code tessera local restart-agent}'s ready timeout, a DaemonSet rollout) would stop it, and the running
     * agent would already have stopped accepting. Unacknowledged, stopping this agent leaves the running one
     * serving. If the running agent goes away meanwhile (crash), nobody serves the listeners: then a first
     * start's limit applies.
     */
    private long awaitStateAndCertificatesToTakeOver(dev.tessera.agent.handoff.HandoffClient handoff)
            throws InterruptedException {
        long t0 = System.nanoTime();
        long lastSaid = t0;
        java.time.Duration slice = java.time.Duration.ofMillis(200);
        while (true) {
            if (firstApplied.await(slice.toNanos(), java.util.concurrent.TimeUnit.NANOSECONDS)
                    && certificates.awaitAll(slice)) {
                return (System.nanoTime() - t0) / 1_000_000;
            }
            if (handoff.peerGone()) { // nobody serves the listeners any more: a first start's rules
                log.warn("upgrade: the running agent is gone before this agent had state and certificates;"
                        + " taking over with at most {} s more wait", GATE_TIMEOUT.toSeconds());
                return (System.nanoTime() - t0) / 1_000_000 + awaitStateAndCertificates();
            }
            if (System.nanoTime() - lastSaid >= GATE_TIMEOUT.toNanos()) {
                lastSaid = System.nanoTime();
                log.warn("upgrade: after {} s still waiting for {}, so the running agent keeps serving: {}",
                        (lastSaid - t0) / 1_000_000_000L, firstApplied.getCount() > 0 ? "cluster state" : "certificates",
                        unmetReadiness());
            }
        }
    }

    /** A state pushed by the controller (on the controller client's thread). */
    private void onControllerConfig(dev.tessera.api.push.MeshConfig c) {
        apply(c.mesh(), c.policies());
    }

    private void apply(dev.tessera.api.model.MeshSnapshot snapshot, PolicySet policySet) {
        state.update(snapshot);
        policies.update(policySet); // after the state: re-checks open connections against the new workloads
        PlaintextKernel pk = plaintextKernel;
        if (pk != null) { // set before the controller connection starts
            pk.sync();
        }
        firstApplied.countDown(); // after both: the listeners open on a state whose certificates are expected
    }

    private void onTrustBundle(List<java.security.cert.X509Certificate> bundle) {
        log.info("controller trust bundle: {} root(s)", bundle.size());
        CertificateManager c = certificates;
        if (c != null) {
            c.trustBundleChanged(bundle);
        }
    }

    private static List<java.security.cert.X509Certificate> controllerRoots(java.nio.file.Path caFile) {
        try {
            return dev.tessera.api.identity.CertificateAuthority.Pem.readCertificates(
                    java.nio.file.Files.readString(caFile));
        } catch (java.io.IOException | RuntimeException e) {
            log.warn("cannot read --controller-ca {}: {}", caFile, e.toString());
            return List.of();
        }
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
        List<String> unmet = Readiness.unmet(programs, state.synced(),
                certificates == null ? List.of() : certificates.expected(),
                certificates == null ? java.util.Set.of() : certificates.certificates().keySet(),
                enrollment == null ? Map.of() : enrollment.refused(),
                controller == null ? null : controller.versionSkew());
        if (redirector != null && redirector.captureGap().isPresent()) {
            unmet = new ArrayList<>(unmet);
            unmet.add(redirector.captureGap().get());
        }
        PeerAuthProgram pa = peerAuth;
        if (pa != null && !pa.refused().isEmpty()) {
            unmet = new ArrayList<>(unmet);
            unmet.add(Readiness.plaintextPolicyRefused(pa.refused()));
        }
        if (warmUp.isDone()) {
            return unmet;
        }
        var out = new ArrayList<String>();
        out.add("warming up the data path (at most " + WARM_UP_BUDGET.toSeconds() + " s)");
        out.addAll(unmet);
        return out;
    }

    /** The admin API's view of this agent. */
    private AgentView adminView() {
        NodeAgent a = this;
        return new AgentView() {
            @Override
            public AgentConfig config() {
                return a.config;
            }

            @Override
            public StateStore state() {
                return a.state;
            }

            @Override
            public PolicyEnforcer policies() {
                return a.policies;
            }

            @Override
            public AgentMetrics metrics() {
                return a.metrics;
            }

            @Override
            public Enrollment enrollment() {
                return a.enrollment;
            }

            @Override
            public CoverageCheck coverage() {
                return a.coverage;
            }

            @Override
            public CertificateManager certificates() {
                return a.certificates;
            }

            @Override
            public BpfRedirector redirector() {
                return a.redirector;
            }

            @Override
            public Map<String, Object> connectionStats() {
                DataPath dp = a.dataPath;
                return dp == null ? null : dp.stats();
            }

            @Override
            public List<String> unmetReadiness() {
                return a.unmetReadiness();
            }
        };
    }

    /** The certificate manager (tests). */
    CertificateManager certificates() {
        return certificates;
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
        // the records of connections closed above (a drain's cut ones) before the process may exit
        dev.tessera.agent.connection.JsonAccessLog.flushPending();
        terminated.countDown();
    }

    /**
     * The one source address STRICT and plaintext policy trust besides the pod itself and recorded deliveries:
     * the probe address when the kubelet's connections are SNATed to it, else (no such cgroup, no iptables) the
     * node address, as before, said at WARN.
     */
    private java.net.InetAddress trustedProbeSource() {
        java.net.Inet4Address probe = config.probeAddress();
        List<String> v4 = config.meshCidrs().stream().filter(c -> !c.contains(":")).toList();
        java.nio.file.Path root = RedirectSettings.of(config).cgroupDir();
        String why;
        try {
            why = dev.tessera.agent.redirect.ProbeSnat.install(root, config.probeCgroup(), v4, probe,
                    config.probeMark());
        } catch (RuntimeException e) {
            why = e.getMessage();
        }
        if (why != null) {
            redirector.markProbes(0, 0);
            log.warn("kubelet probes not recognised by cgroup, so STRICT and plaintext policy trust the node address"
                    + " {}: {}", config.nodeIp().getHostAddress(), why);
            return config.nodeIp();
        }
        followProbeCgroup(root);
        return probe;
    }

    /**
     * Writes the kubelet cgroup's id to the kernel program now and whenever systemd recreated the cgroup (a
     * kubelet restart gives it a new id): checked every {@link #PROBE_CGROUP_CHECK}.
     */
    private void followProbeCgroup(java.nio.file.Path root) {
        BpfRedirector r = redirector;
        Runnable sync = () -> {
            long id = dev.tessera.agent.redirect.ProbeSnat.cgroupId(root, config.probeCgroup());
            if (id != r.probeCgroupId()) {
                r.markProbes(id, config.probeMark());
                if (id == 0) {
                    log.warn("kubelet cgroup {} is gone: its probes are not marked until it is back",
                            config.probeCgroup());
                } else {
                    log.info("kubelet probes: cgroup {} has id {}", config.probeCgroup(), id);
                }
            }
        };
        sync.run();
        var timer = java.util.concurrent.Executors.newSingleThreadScheduledExecutor(task -> {
            Thread t = new Thread(task, "tessera-probe-cgroup");
            t.setDaemon(true);
            return t;
        });
        timer.scheduleWithFixedDelay(() -> {
            try {
                sync.run();
            } catch (RuntimeException e) { // the map closed by a shutdown
                log.debug("probe cgroup check: {}", e.toString());
            }
        }, PROBE_CGROUP_CHECK.toMillis(), PROBE_CGROUP_CHECK.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS);
        closeables.add(timer::shutdownNow);
    }

    /** How often the kubelet cgroup's id is re-read. */
    static final java.time.Duration PROBE_CGROUP_CHECK = java.time.Duration.ofSeconds(10);

    /**
     * Local pods are dialled from the client pod's address once the reply routing is in place and the kernel
     * records deliveries (so STRICT and plaintext rules never judge them); otherwise from the node address.
     */
    private void useTransparentDelivery(PeerAuthProgram pa) {
        if (!config.transparentDelivery()) {
            log.info("transparent delivery off: local pods are dialled from the node address");
            return;
        }
        String why = ReplyRouting.install(config.replyMark(), config.replyRouteTable());
        if (why != null) {
            log.warn("transparent delivery off, local pods are dialled from the node address: reply routing not"
                    + " installed: {}", why);
            return;
        }
        boolean transparent6 = false;
        if (config.nodeIp6() != null) { // an IPv6 node: the same rules for IPv6 replies
            String why6 = ReplyRouting.install6(config.replyMark(), config.replyRouteTable());
            transparent6 = why6 == null;
            if (!transparent6) {
                log.warn("IPv6 pods are dialled from the node's IPv6 address: IPv6 reply routing not installed: {}",
                        why6);
            }
        }
        boolean ipv6Replies = transparent6;
        dataPath.useDeliveries(new dev.tessera.agent.netty.Delivery.Registry() {
            // recorded in tsp_deliveries or tsp_deliveries6, by family: STRICT and plaintext rules never judge them
            @Override
            public boolean add(java.net.InetSocketAddress local, java.net.InetSocketAddress remote) {
                return pa.addDelivery(local, remote);
            }

            @Override
            public void remove(java.net.InetSocketAddress local, java.net.InetSocketAddress remote) {
                pa.removeDelivery(local, remote);
            }

            @Override
            public java.net.InetAddress nodeAddress() {
                return config.nodeIp();
            }

            @Override
            public java.net.InetAddress nodeAddress6() {
                return config.nodeIp6();
            }

            @Override
            public boolean transparentIpv6() {
                return ipv6Replies;
            }
        });
    }
}
