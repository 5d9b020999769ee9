package dev.tessera.cli;

import dev.tessera.api.config.BuildInfo;
import dev.tessera.cli.kube.KubeCluster;
import dev.tessera.cli.kube.KubeVersions;
import dev.tessera.cli.local.NetnsCluster;
import dev.tessera.cli.local.NodeHttp;
import dev.tessera.cli.observe.Agents;
import dev.tessera.cli.observe.PromText;
import dev.tessera.cli.observe.Versions;
import java.io.IOException;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code tessera version}: the client's version and, when a local cluster runs on this machine (and we are
 * root), the controller's and every agent's, read from their {@code tessera_build_info} metric; with
 * {@code --kube} (or {@code --kubeconfig}, {@code --context}, {@code --namespace}) those of a Kubernetes cluster,
 * through the API server's pod proxy. Exit code 0,
 * or 1 when a component of the cluster did not answer (like {@code kubectl version} without a server).
 */
@Command(name = "version", mixinStandardHelpOptions = true,
        description = {"Print the client's version, and the controller's and agents' of the local cluster (or, with "
                + "--kube/--kubeconfig/--context/--namespace, of a Kubernetes cluster).",
            "Exit codes: 0 ok, 1 a cluster component did not answer, 2 usage error."})
final class VersionCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--client", description = "Only the client's version (no cluster is contacted).")
    boolean clientOnly;

    @Option(names = "--name", description = "Local cluster name (default: the only cluster, or 'tessera').")
    String name;

    @Mixin
    KubeOptions kube;

    @Option(names = {"-o", "--output"}, defaultValue = "table", description = "table, json or yaml (default: ${DEFAULT-VALUE}).")
    String output;

    @Option(names = "--timeout", defaultValue = "2s", description = "Per-request timeout (default: ${DEFAULT-VALUE}).")
    Duration timeout;

    @Override
    public Integer call() throws Exception {
        Output.Format format = Output.format(spec, output);
        kube.requireNotLocal(spec, name);
        var out = new LinkedHashMap<String, Object>();
        out.put("client", Map.of("version", BuildInfo.VERSION));
        Versions.Cluster cluster;
        if (clientOnly) {
            cluster = null;
        } else if (kube.selected()) {
            try (KubeCluster c = kube.connect(spec, timeout)) {
                cluster = KubeVersions.collect(c);
            }
        } else {
            cluster = cluster();
        }
        out.put("cluster", cluster);
        var writer = kube.selected() ? spec.commandLine().getOut() : null;
        if (format != Output.Format.TABLE) {
            if (writer != null) {
                Output.print(format, out, writer);
            } else {
                Output.print(format, out, System.out);
            }
        } else if (writer != null) {
            writer.print(Versions.table(BuildInfo.VERSION, cluster));
            writer.flush();
        } else {
            System.out.print(Versions.table(BuildInfo.VERSION, cluster));
        }
        return cluster == null || cluster.allAnswered() ? 0 : 1;
    }

    /** The local cluster's versions; null when there is none (or we may not enter its namespaces). */
    private Versions.Cluster cluster() throws IOException {
        if (name == null && NetnsCluster.names().isEmpty()) {
            return null;
        }
        if (!dev.tessera.cli.local.Sh.isRoot()) {
            return null; // the cluster's namespaces need root; the client version is still useful
        }
        NetnsCluster c = NetnsCluster.open(NetnsCluster.resolve(name));
        var agents = new Agents(c, timeout);
        return Versions.collect(c.name(), () -> {
            NodeHttp.Response r = NodeHttp.get(c.controlPlaneNetns(), NetnsCluster.CONTROLLER_IP,
                    dev.tessera.api.config.Ports.CONTROLLER_METRICS, "/metrics", timeout);
            if (r.status() != 200) {
                throw new IOException("controller metrics answered HTTP " + r.status());
            }
            return PromText.parse(r.body());
        }, agents.nodes(), agents::metrics);
    }
}
