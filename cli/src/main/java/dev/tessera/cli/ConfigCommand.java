package dev.tessera.cli;

import dev.tessera.cli.local.NetnsCluster;
import dev.tessera.cli.observe.Agents;
import java.time.Duration;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code tessera config NODE}: the agent's configuration dump (JSON) from its localhost admin API. */
@Command(name = "config", mixinStandardHelpOptions = true,
        description = {"Print a node agent's configuration dump (JSON from its admin API, localhost:15000).",
            "Exit codes: 0 ok, 1 the agent could not be reached, 2 usage error (e.g. unknown node)."})
final class ConfigCommand implements Callable<Integer> {

    @Parameters(index = "0", paramLabel = "NODE", description = "Node name, e.g. node1.")
    String node;

    @Option(names = "--name", description = "Local cluster name (default: the only cluster, or 'tessera').")
    String name;

    @Option(names = "--path", defaultValue = "/config_dump",
            description = "Admin path: /config_dump, /workloads, /certificates, /connections, /stats, /logging "
                    + "(default: ${DEFAULT-VALUE}).")
    String path;

    @Option(names = "--timeout", defaultValue = "5s", description = "Request timeout (default: ${DEFAULT-VALUE}).")
    Duration timeout;

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        NetnsCluster.requireRoot();
        var cluster = NetnsCluster.open(NetnsCluster.resolve(name));
        try {
            cluster.node(node);
        } catch (IllegalArgumentException e) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(), e.getMessage());
        }
        if (!path.startsWith("/")) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(),
                    "path: '" + path + "' (expected: an admin path starting with /, e.g. /config_dump)");
        }
        System.out.print(new Agents(cluster, timeout).admin(node, path));
        return 0;
    }
}
