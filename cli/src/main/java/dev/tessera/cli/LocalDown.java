package dev.tessera.cli;

import dev.tessera.cli.local.NetnsCluster;
import java.io.IOException;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code tessera local down}: removes a local cluster and everything it made. */
@Command(name = "down", mixinStandardHelpOptions = true,
        description = "Stop the agents and remove every namespace, link, BPF pin and file of a local cluster.")
final class LocalDown implements Callable<Integer> {

    @Option(names = "--name", description = "Cluster name (default: the only cluster, or 'tessera').")
    String name;

    @Override
    public Integer call() throws IOException {
        NetnsCluster.requireRoot();
        String resolved = NetnsCluster.resolve(name);
        if (!NetnsCluster.destroyIfExists(resolved)) {
            System.err.println("no local cluster named '" + resolved + "' (existing: " + NetnsCluster.names() + ")");
            return 1;
        }
        System.out.println("cluster " + resolved + " removed");
        return 0;
    }
}
