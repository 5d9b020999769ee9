package dev.tessera.cli;

import dev.tessera.api.netns.NetworkAttachments;
import dev.tessera.cli.local.Names;
import dev.tessera.cli.local.NetnsCluster;
import dev.tessera.localcluster.ClusterDescription;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code tessera local up -f PATH}: builds the cluster the manifests describe and starts its agents. */
@Command(name = "up", mixinStandardHelpOptions = true,
        description = "Create the cluster described by Kubernetes manifests (a file or a folder) and start one agent per node.")
final class LocalUp implements Callable<Integer> {

    @Option(names = {"-f", "--file"}, required = true, paramLabel = "PATH", description = "Manifests: a YAML file or a folder.")
    Path file;

    @Option(names = "--name", defaultValue = NetnsCluster.DEFAULT_NAME, description = "Cluster name (default: ${DEFAULT-VALUE}).")
    String name;

    @Option(names = "--no-agents", description = "Only build the network; start no agents.")
    boolean noAgents;

    @Option(names = "--dual-stack", description = "Give every node and pod an IPv6 address too (2001:db8::/96, embedding"
            + " its IPv4 address) and capture IPv6 as well.")
    boolean dualStack;

    @Option(names = "--timeout", defaultValue = "90s", description = "How long to wait for the agents to be ready (default: ${DEFAULT-VALUE}).")
    Duration timeout;

    @Override
    public Integer call() throws IOException {
        NetnsCluster cluster = up(file, name, !noAgents, timeout, dualStack);
        System.out.println("cluster " + cluster.name() + " is up (state: " + cluster.stateDir() + ")");
        LocalStatus.print(cluster, System.out);
        return 0;
    }

    /** Creates the cluster and (optionally) starts its agents; rolls everything back on failure. */
    static NetnsCluster up(Path manifests, String name, boolean agents, Duration timeout) throws IOException {
        return up(manifests, name, agents, timeout, false);
    }

    /** As {@link #up(Path, String, boolean, Duration)}, dual-stack when asked. */
    static NetnsCluster up(Path manifests, String name, boolean agents, Duration timeout, boolean dualStack)
            throws IOException {
        NetnsCluster.requireRoot();
        Path abs = manifests.toAbsolutePath().normalize();
        ClusterDescription description = ClusterDescription.load(abs);
        NetworkAttachments network = Names.plan(description, name).withDualStack(dualStack);
        NetnsCluster cluster = NetnsCluster.create(network, abs, description.localCpus());
        if (agents) {
            try {
                System.out.println("starting the controller and " + network.nodes().size() + " agent(s)...");
                cluster.startAgents(timeout);
            } catch (IOException | RuntimeException e) {
                try {
                    cluster.destroy();
                } catch (IOException rollback) {
                    e.addSuppressed(rollback);
                }
                throw e;
            }
        }
        return cluster;
    }
}
