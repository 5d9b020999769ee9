package dev.tessera.agent;

import dev.tessera.agent.config.AgentConfig;
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

    @Option(names = "--controller-token", defaultValue = "/var/run/secrets/tessera/token",
            description = "The agent's bearer token for the controller, re-read at every reconnect.")
    Path controllerToken;

    @Option(names = "--controller-ca", defaultValue = "/var/run/tessera/ca/root-cert.pem",
            description = "PEM roots the controller's certificate must chain to.")
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
            if (network == null) {
                throw new CommandLine.ParameterException(new CommandLine(this),
                        "--network is required with --controller until a CRI netns resolver lands"
                                + " (expected: network.json written by `tessera local up`)");
            }
        } else if (localCluster == null || network == null || caDir == null) {
            throw new CommandLine.ParameterException(new CommandLine(this),
                    "--local-cluster, --network and --ca-dir are required without --controller"
                            + " (expected: the files `tessera local up` writes, or --controller HOST:PORT)");
        }
        var config = new AgentConfig(node, ip, trustDomain, localCluster, network, caDir, bpfPinDir, cgroup,
                meshCidrs, outboundPort, inboundPort, metricsPort, readyPort, adminPort, controllerAddress,
                controllerToken, controllerCa);
        NodeAgent agent = NodeAgent.start(config);
        Runtime.getRuntime().addShutdownHook(new Thread(agent::close, "agent-shutdown"));
        agent.awaitTermination();
        return 0;
    }

    public static void main(String[] args) {
        System.exit(new CommandLine(new AgentMain()).execute(args));
    }
}
