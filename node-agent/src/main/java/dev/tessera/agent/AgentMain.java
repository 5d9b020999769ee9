package dev.tessera.agent;

import dev.tessera.agent.config.AgentConfig;
import dev.tessera.agent.config.NetnsSource;
import dev.tessera.agent.control.ControllerAddress;
import dev.tessera.common.net.Addresses;
import java.net.InetAddress;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** Command line of the node agent: parses {@link AgentConfig} and runs a {@link NodeAgent}. */
@Command(name = "tessera-node-agent", mixinStandardHelpOptions = true,
        description = "Tessera node agent: eBPF capture, HBONE mTLS tunnels, L4 policy, metrics.")
public final class AgentMain implements Callable<Integer> {

    @Option(names = "--node", description = "This node's name.")
    String node;

    @Option(names = "--node-ip", description = "The node's address (redirect target, HBONE bind).")
    String nodeIp;

    @Option(names = "--trust-domain", defaultValue = "cluster.local")
    String trustDomain;

    @Option(names = "--local-cluster", description = "Local mode: Kubernetes manifests (file or folder).")
    Path localCluster;

    @Option(names = "--network", description = "Local mode: network.json written by `tessera local up`.")
    Path network;

    @Option(names = "--ca-dir", description = "Local mode: the local certificate authority directory.")
    Path caDir;

    @Option(names = "--controller", description = "The controller's agent endpoint HOST:PORT (state, policies and"
            + " certificates come from it instead of --local-cluster/--ca-dir).")
    String controller;

    @Option(names = "--controller-token", defaultValue = AgentConfig.CONTROLLER_TOKEN,
            description = "The agent's bearer token for the controller (projected service-account token), re-read at"
                    + " every reconnect. Default: ${DEFAULT-VALUE}.")
    Path controllerToken;

    @Option(names = "--controller-ca", defaultValue = AgentConfig.CONTROLLER_CA,
            description = "PEM roots the controller's certificate must chain to. Default: ${DEFAULT-VALUE}.")
    Path controllerCa;

    @Option(names = "--bpf-pin-dir", defaultValue = "/sys/fs/bpf/tessera")
    Path bpfPinDir;

    @Option(names = "--cgroup", description = "cgroup v2 directory to attach to (default: the cgroup2 mount).")
    Path cgroup;

    @Option(names = "--mesh-cidr", description = "Captured destination CIDRs (repeatable).", defaultValue = "0.0.0.0/0")
    List<String> meshCidrs;

    @Option(names = "--outbound-port", defaultValue = "" + AgentConfig.OUTBOUND_PORT)
    int outboundPort;

    @Option(names = "--inbound-port", defaultValue = "" + AgentConfig.INBOUND_PORT)
    int inboundPort;

    @Option(names = "--metrics-port", defaultValue = "" + AgentConfig.METRICS_PORT)
    int metricsPort;

    @Option(names = "--ready-port", defaultValue = "" + AgentConfig.READY_PORT)
    int readyPort;

    @Option(names = "--admin-port", defaultValue = "" + AgentConfig.ADMIN_PORT)
    int adminPort;

    @Option(names = "--netns-source", defaultValue = "local", converter = NetnsSourceConverter.class,
            description = "Where pods' network namespaces come from: local (network.json) or cri (containerd/CRI-O"
                    + " sandbox specs under --host-root). Default: ${DEFAULT-VALUE}.")
    NetnsSource netnsSource;

    @Option(names = "--host-root", defaultValue = AgentConfig.HOST_ROOT,
            description = "Where the host's / is mounted (for --netns-source cri). Default: ${DEFAULT-VALUE}.")
    Path hostRoot;

    @Option(names = "--drain-timeout", defaultValue = "5s", converter = DurationConverter.class,
            description = "On SIGTERM, how long open connections may take to finish before they are closed"
                    + " (0s: close at once). Keep it below the pod's termination grace period. Default: ${DEFAULT-VALUE}.")
    java.time.Duration drainTimeout;

    @Option(names = "--handoff-socket", description = "Unix socket of the listener handoff: a starting agent takes"
            + " 15001/15008 from the agent serving it (no connection refused during an upgrade), then serves it"
            + " itself. 'none' disables. Default: " + AgentMain.HANDOFF_DIR + "/<node>.sock.")
    String handoffSocket;

    /** Directory of the default listener handoff socket (a hostPath in the DaemonSet). */
    public static final String HANDOFF_DIR = "/var/run/tessera/handoff";

    @Option(names = "--uninstall", description = "Detach every program and remove every pin under --bpf-pin-dir, then"
            + " exit (meshed pods' traffic goes direct again). Uninstall only: an agent restart keeps capture pinned.")
    boolean uninstall;

    @Option(names = "--then-wait", description = "With --uninstall: keep running until terminated (the cleanup"
            + " DaemonSet's main container).")
    boolean thenWait;

    @Override
    public Integer call() throws Exception {
        if (uninstall) {
            return uninstall();
        }
        if (node == null || nodeIp == null) {
            throw new CommandLine.ParameterException(new CommandLine(this),
                    "--node and --node-ip are required (expected: this node's name and address)");
        }
        InetAddress ip;
        try {
            ip = Addresses.parse("--node-ip", nodeIp);
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(new CommandLine(this), e.getMessage());
        }
        ControllerAddress controllerAddress = null;
        if (controller != null) {
            try {
                controllerAddress = ControllerAddress.parse(controller);
            } catch (IllegalArgumentException e) {
                throw new CommandLine.ParameterException(new CommandLine(this), e.getMessage());
            }
            if (network == null && netnsSource != NetnsSource.CRI) {
                throw new CommandLine.ParameterException(new CommandLine(this),
                        "--network is required with --controller and --netns-source local"
                                + " (expected: network.json written by `tessera local up`, or --netns-source cri)");
            }
        } else if (localCluster == null || network == null || caDir == null) {
            throw new CommandLine.ParameterException(new CommandLine(this),
                    "--local-cluster, --network and --ca-dir are required without --controller"
                            + " (expected: the files `tessera local up` writes, or --controller HOST:PORT)");
        }
        var config = new AgentConfig(node, ip, trustDomain, localCluster, network, caDir, bpfPinDir, cgroup,
                meshCidrs, outboundPort, inboundPort, metricsPort, readyPort, adminPort, netnsSource, hostRoot,
                controllerAddress, controllerToken, controllerCa);
        Path handoff = handoffSocket == null ? Path.of(HANDOFF_DIR, node + ".sock")
                : "none".equals(handoffSocket) ? null : Path.of(handoffSocket);
        NodeAgent agent = NodeAgent.start(config, handoff);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> agent.shutdown(drainTimeout), "agent-shutdown"));
        agent.awaitTermination();
        return 0;
    }

    /** Detaches and unpins everything a previous agent left under the pin directory. */
    private int uninstall() throws InterruptedException {
        dev.tessera.agent.redirect.BpfRedirector.uninstall(bpfPinDir); // with the STRICT program's pins
        System.out.println("tessera-node-agent: detached every program and removed the pins under " + bpfPinDir);
        if (thenWait) {
            var done = new java.util.concurrent.CountDownLatch(1);
            Runtime.getRuntime().addShutdownHook(new Thread(done::countDown, "uninstall-exit"));
            done.await();
        }
        return 0;
    }

    /** {@code 500ms}, {@code 5s}, {@code 1m}. */
    static final class DurationConverter implements CommandLine.ITypeConverter<java.time.Duration> {
        @Override
        public java.time.Duration convert(String value) {
            var m = java.util.regex.Pattern.compile("(\\d{1,6})(ms|s|m)").matcher(value.strip());
            if (!m.matches()) {
                throw new CommandLine.TypeConversionException("--drain-timeout: " + value
                        + " (expected: a duration like 500ms, 5s or 1m)");
            }
            long n = Long.parseLong(m.group(1));
            return switch (m.group(2)) {
                case "ms" -> java.time.Duration.ofMillis(n);
                case "s" -> java.time.Duration.ofSeconds(n);
                default -> java.time.Duration.ofMinutes(n);
            };
        }
    }

    /** {@code local} or {@code cri}, lower case on the command line. */
    static final class NetnsSourceConverter implements CommandLine.ITypeConverter<NetnsSource> {
        @Override
        public NetnsSource convert(String value) {
            for (NetnsSource s : NetnsSource.values()) {
                if (s.name().equalsIgnoreCase(value)) {
                    return s;
                }
            }
            throw new CommandLine.TypeConversionException(
                    "--netns-source: " + value + " (expected: local or cri)");
        }
    }

    public static void main(String[] args) {
        System.exit(new CommandLine(new AgentMain()).execute(args));
    }
}
