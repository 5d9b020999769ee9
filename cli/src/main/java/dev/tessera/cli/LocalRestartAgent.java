package dev.tessera.cli;

import dev.tessera.cli.local.NetnsCluster;
import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code tessera local restart-agent NODE}: upgrades (restarts) one node's agent the way a DaemonSet with
 * {@code maxSurge: 1} does, without refusing a new connection: the new agent takes the listening sockets
 * from the old one, which drains its open connections and exits.
 */
@Command(name = "restart-agent", mixinStandardHelpOptions = true,
        description = "Restart a node's agent without refusing connections: start the new agent next to the old one"
                + " (it takes over the listening sockets), wait until it is ready, then SIGTERM the old one and wait"
                + " until it has drained its open connections and exited.")
final class LocalRestartAgent implements Callable<Integer> {

    @Option(names = "--name", description = "Cluster name (default: the only cluster, or 'tessera').")
    String name;

    @Option(names = "--ready-timeout", defaultValue = "60", description = "Seconds to wait for the new agent. Default:"
            + " ${DEFAULT-VALUE}.")
    int readyTimeout;

    @Option(names = "--exit-timeout", defaultValue = "30", description = "Seconds the old agent gets to drain and exit"
            + " before SIGKILL. Default: ${DEFAULT-VALUE}.")
    int exitTimeout;

    @Parameters(index = "0", paramLabel = "NODE")
    String node;

    @Override
    public Integer call() throws IOException {
        NetnsCluster.requireRoot();
        if (readyTimeout < 1 || exitTimeout < 1) {
            throw new IllegalArgumentException("--ready-timeout/--exit-timeout: " + readyTimeout + "/" + exitTimeout
                    + " (expected: >= 1 second)");
        }
        NetnsCluster cluster = NetnsCluster.open(NetnsCluster.resolve(name));
        long old = cluster.agentPid(node).orElse(-1);
        long pid = cluster.upgradeAgent(node, Duration.ofSeconds(readyTimeout), Duration.ofSeconds(exitTimeout));
        System.out.println("agent of " + node + " restarted: pid " + old + " -> " + pid + " (listeners handed over)");
        return 0;
    }
}
