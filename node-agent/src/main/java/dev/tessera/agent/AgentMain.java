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

    @Option(names = "--node", required = true, description = "This node's name.")
    String node;

    @Option(names = "--node-ip", required = true, description = "The node's address (redirect target, HBONE bind).")
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

    @Override
    public Integer call() throws Exception {
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
        NodeAgent agent = NodeAgent.start(config);
        Runtime.getRuntime().addShutdownHook(new Thread(agent::close, "agent-shutdown"));
        agent.awaitTermination();
        return 0;
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
