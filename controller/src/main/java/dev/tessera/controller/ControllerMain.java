package dev.tessera.controller;

import dev.tessera.controller.core.ControllerCore;
import dev.tessera.controller.identity.RotationDriver;
import dev.tessera.controller.kube.KubeClients;
import dev.tessera.controller.leader.Leadership;
import dev.tessera.controller.local.LocalController;
import dev.tessera.controller.metrics.ControllerMetrics;
import dev.tessera.controller.metrics.HealthServer;
import dev.tessera.controller.push.PushServer;
import dev.tessera.controller.push.PushServerConfig;
import dev.tessera.controller.watch.MeshWatcher;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import dev.tessera.logging.LevelSpec;
import dev.tessera.logging.LogFormat;
import dev.tessera.logging.TesseraLogging;
import picocli.CommandLine;

/**
 * Command line of the controller. Kubernetes mode by default (in-cluster config or kubeconfig); local
 * mode when {@code --local-cluster} is given. The flag names are a contract of the manifests
 * ({@code daemonset/base/controller-deployment.yaml}) and of {@code tessera local up}.
 */
@Command(name = "tessera-controller", mixinStandardHelpOptions = true,
        description = "Tessera controller: discovery, workload identities with node authorization, config push.")
public final class ControllerMain implements Callable<Integer> {

    private static final Logger log = LoggerFactory.getLogger(ControllerMain.class);

    /** How long a non-leader replica waits for the leader to create the CA Secret. */
    static final Duration CA_WAIT = Duration.ofMinutes(5);

    @Option(names = "--namespace", defaultValue = "tessera-system",
            description = "The controller's namespace: CA Secret, trust bundle ConfigMap, leader Lease (default: ${DEFAULT-VALUE}).")
    String namespace;

    @Option(names = "--trust-domain", defaultValue = "cluster.local", description = "Trust domain (default: ${DEFAULT-VALUE}).")
    String trustDomain;

    @Option(names = "--ca-secret", defaultValue = "tessera-ca", description = "CA Secret name (default: ${DEFAULT-VALUE}).")
    String caSecret;

    @Option(names = "--port", defaultValue = "" + dev.tessera.api.config.Ports.CONTROLLER_PUSH, description = "Agent connections: TLS (the controller's certificate), agents authenticate with their bearer token (default: ${DEFAULT-VALUE}).")
    int port;

    @Option(names = "--metrics-port", defaultValue = "" + dev.tessera.api.config.Ports.CONTROLLER_METRICS, description = "/metrics and /healthz (default: ${DEFAULT-VALUE}).")
    int metricsPort;

    @Option(names = "--listen-address", defaultValue = "0.0.0.0", description = "Address both ports bind (default: ${DEFAULT-VALUE}).")
    String listenAddress;

    @Option(names = "--token-audience", defaultValue = "tessera-controller",
            description = "Audience of the agents' projected tokens (default: ${DEFAULT-VALUE}).")
    String tokenAudience;

    @Option(names = "--agent-service-account", description = "Service accounts allowed to act as agents, namespace/name "
            + "(repeatable; default: <namespace>/tessera-node-agent).")
    Set<String> agentServiceAccounts;

    @Option(names = "--leader-election", arity = "0..1", fallbackValue = "true", defaultValue = "true",
            description = "Elect a leader on Lease " + Leadership.LEASE_NAME + " (Kubernetes mode; default: ${DEFAULT-VALUE}).")
    boolean leaderElection;

    @Option(names = "--pod-name", description = "This replica's pod name (downward API): the Lease holder identity.")
    String podName;

    @Option(names = "--pod-namespace", description = "This replica's pod namespace (downward API).")
    String podNamespace;

    @Option(names = "--pod-ip", description = "This replica's pod IP (downward API): an IP SAN of the 15012 certificate.")
    String podIp;

    @Option(names = "--svid-ttl", defaultValue = "24h", converter = DurationConverter.class,
            description = "Workload certificate lifetime (default: ${DEFAULT-VALUE}).")
    Duration svidTtl;

    @Option(names = "--root-rotation-overlap", defaultValue = "5m", converter = DurationConverter.class,
            description = "Kubernetes mode: how long old roots stay trusted at least after a root rotation's switch"
                    + " to the CA Secret's new root (default: ${DEFAULT-VALUE}).")
    Duration rootRotationOverlap;

    @Option(names = "--trust-bundle-propagation", defaultValue = "90s", converter = DurationConverter.class,
            description = "Kubernetes mode: how long the trust bundle ConfigMap holds a new root before the new CA"
                    + " signs; covers kubelet's refresh of the file agents verify the controller with (default: ${DEFAULT-VALUE}).")
    Duration trustBundlePropagation;

    @Option(names = "--local-cluster", description = "Local mode: Kubernetes manifests (file or folder), watched.")
    Path localCluster;

    @Option(names = "--network", description = "Local mode: network.json written by `tessera local up` (default: "
            + "addresses planned from the manifests).")
    Path network;

    @Option(names = "--ca-dir", description = "Local mode: the CA directory (ca.crt, ca.key) of `tessera local up`.")
    Path caDir;

    @Option(names = "--tokens", description = "Local mode: agent tokens, one `token,node[,namespace/serviceAccount]` a line.")
    Path tokens;

    @Option(names = "--log-level", paramLabel = "LEVEL[,LOGGER=LEVEL...]", defaultValue = "info",
            description = "Log level: trace, debug, info, warn, error or off, optionally followed by levels per logger"
                    + " (name prefix), e.g. info,io.fabric8=debug; io.netty stays at warn unless named"
                    + " (default: ${DEFAULT-VALUE}).")
    String logLevel;

    @Option(names = "--log-format", paramLabel = "text|json", defaultValue = "text",
            description = "Log lines as text or one JSON object per line (ztunnel's keys: level, time, scope,"
                    + " message, plus thread and error) (default: ${DEFAULT-VALUE}).")
    String logFormat;

    private final CountDownLatch stopped = new CountDownLatch(1);

    @Override
    public Integer call() throws Exception {
        applyLogging();
        checkPort("--port", port);
        checkPort("--metrics-port", metricsPort);
        var registry = new PrometheusRegistry();
        var holder = new ControllerCore[1];
        // Bind first: a busy port fails start-up before anything else runs.
        HealthServer http = new HealthServer(new InetSocketAddress(listenAddress, metricsPort), registry,
                () -> holder[0] != null && holder[0].source().current().version() > 0 && holder[0].ca() != null);
        KubernetesClient client = null;
        ControllerCore core;
        try {
            if (localCluster != null) {
                if (caDir == null || tokens == null) {
                    throw new CommandLine.ParameterException(new CommandLine(this),
                            "--ca-dir and --tokens are required with --local-cluster (expected: the files `tessera local up` writes)");
                }
                core = LocalController.start(localCluster, network, caDir, tokens, trustDomain, svidTtl,
                        Duration.ofMillis(300));
            } else {
                client = KubeClients.fromEnvironment();
                String identity = podName != null && !podName.isBlank() ? podName
                        : java.net.InetAddress.getLocalHost().getHostName();
                Set<String> agents = agentServiceAccounts == null || agentServiceAccounts.isEmpty()
                        ? Set.of(namespace + "/tessera-node-agent") : agentServiceAccounts;
                core = KubernetesController.start(client, new KubernetesController.Options(namespace, trustDomain,
                        caSecret, tokenAudience, agents, leaderElection, identity, svidTtl, CA_WAIT, null,
                        rootRotationOverlap, trustBundlePropagation));
            }
        } catch (Exception e) {
            http.close();
            if (client != null) {
                client.close();
            }
            throw e;
        }
        ControllerMetrics metrics = new ControllerMetrics(registry, core);
        if (core.source() instanceof MeshWatcher w) {
            w.onReconcile(metrics::reconciled);
        }

        // Config push to the agents on 15012 (every replica serves; only the leader writes to the API).
        PushServer push;
        try {
            var sanIps = new java.util.ArrayList<java.net.InetAddress>(List.of(java.net.InetAddress.getByName("127.0.0.1")));
            java.net.InetAddress bind = java.net.InetAddress.getByName(listenAddress);
            if (!bind.isAnyLocalAddress() && !bind.isLoopbackAddress()) {
                sanIps.add(bind);
            }
            if (podIp != null && !podIp.isBlank()) {
                sanIps.add(java.net.InetAddress.getByName(podIp));
            }
            push = new PushServer(PushServerConfig.defaults(trustDomain, namespace).withBind(bind, port)
                    .withSans(List.of("localhost"), sanIps), core.source(), core.authenticator(), core.issuer(), core.ca())
                    .start();
        } catch (Exception e) {
            core.close();
            http.close();
            if (client != null) {
                client.close();
            }
            throw e;
        }
        metrics.push(push);
        metrics.trust(core.issuer(), push);
        core.rotationRequests().ifPresent(metrics::rotationRequests);
        final var rotation = rotationDriver(core, push).map(d -> d.start(Duration.ofMillis(500))).orElse(null);
        // Ready only now: 15012 listens and its metrics are registered (an agent told "ready" can connect).
        holder[0] = core;

        log.info("controller ready ({} mode): state version {}, metrics on {}:{}", localCluster != null ? "local" : "Kubernetes",
                core.source().current().version(), listenAddress, http.port());
        final KubernetesClient c = client;
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            if (rotation != null) {
                rotation.close();
            }
            push.close(); // GOAWAY: agents reconnect (to another replica) and keep serving meanwhile
            core.close(); // a leader releases its Lease here
            http.close();
            if (c != null) {
                c.close();
            }
            stopped.countDown();
        }, "controller-shutdown"));
        stopped.await();
        return 0;
    }

    /**
     * The root rotation driver of either mode (not started): it switches the signer once every connected agent
     * holds the new bundle and the mode says it reached what agents reconnect with; every step goes to the
     * agents first, then to the mode (Kubernetes: the bundle ConfigMap).
     */
    static java.util.Optional<RotationDriver> rotationDriver(ControllerCore core, PushServer push) {
        return core.rotationRequests().map(requests -> new RotationDriver(core.issuer().trust(), requests,
                g -> push.agentsHoldBundle(g) && core.trustDistributed(g), core.issuer()::heldUnderOtherIssuers, () -> {
                    push.trustChanged();
                    core.trustChanged();
                }));
    }

    /** Applies --log-level and --log-format before anything else logs; a bad value fails naming the flag. */
    private void applyLogging() {
        try {
            LevelSpec spec = LevelSpec.parse(logLevel);
            if (!spec.prefixes().containsKey("io.netty")) {
                spec = LevelSpec.parse("io.netty=warn," + logLevel);
            }
            TesseraLogging.registry().configure(spec, LogFormat.parse(logFormat));
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(new CommandLine(this), e.getMessage());
        }
    }

    private void checkPort(String flag, int p) {
        if (p < 1 || p > 65535) {
            throw new CommandLine.ParameterException(new CommandLine(this), flag + ": " + p + " (expected: 1-65535)");
        }
    }

    public static void main(String[] args) {
        System.exit(new CommandLine(new ControllerMain()).execute(args));
    }
}
