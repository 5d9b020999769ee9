package dev.tessera.cli;

import dev.tessera.cli.kube.KubeCluster;
import dev.tessera.cli.local.NetnsCluster;
import dev.tessera.cli.observe.Agents;
import io.fabric8.kubernetes.api.model.Pod;
import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code tessera config NODE}: the agent's configuration dump (JSON) from its localhost admin API — inside the
 * node's network namespace of a local cluster, or with {@code --kube} (or {@code --kubeconfig},
 * {@code --context}, {@code --namespace}) through a port-forward to the agent pod on that node (the admin API
 * listens on 127.0.0.1 only, out of the API server's pod proxy's reach).
 */
@Command(name = "config", mixinStandardHelpOptions = true,
        description = {"Print a node agent's configuration dump (JSON from its admin API, localhost:15000).",
            "With --kube/--kubeconfig/--context/--namespace: the agent pod on NODE of a Kubernetes cluster, through a "
                    + "port-forward (needs RBAC create on pods/portforward).",
            "Exit codes: 0 ok, 1 the agent could not be reached, 2 usage error (e.g. unknown node)."})
final class ConfigCommand implements Callable<Integer> {

    @Parameters(index = "0", paramLabel = "NODE", description = "Node name, e.g. node1.")
    String node;

    @Option(names = "--name", description = "Local cluster name (default: the only cluster, or 'tessera').")
    String name;

    @Mixin
    KubeOptions kube;

    @Option(names = "--path", defaultValue = "/config_dump",
            description = "Admin path: /config_dump, /workloads, /certificates, /connections, /stats, /logging "
                    + "(default: ${DEFAULT-VALUE}).")
    String path;

    @Option(names = {"-o", "--output"}, defaultValue = "json",
            description = "json (the admin API's answer as is) or yaml (default: ${DEFAULT-VALUE}).")
    String output;

    @Option(names = "--timeout", defaultValue = "5s", description = "Request timeout (default: ${DEFAULT-VALUE}).")
    Duration timeout;

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        if (!path.startsWith("/")) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(),
                    "path: '" + path + "' (expected: an admin path starting with /, e.g. /config_dump)");
        }
        Output.Format format = Output.format(spec, output);
        if (format == Output.Format.TABLE) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(),
                    "output: 'table' (expected: json or yaml; the dump is a JSON document)");
        }
        kube.requireNotLocal(spec, name);
        if (kube.selected()) {
            try (KubeCluster cluster = kube.connect(spec, timeout)) {
                List<Pod> agents = cluster.agentPods();
                Pod pod = agents.stream().filter(p -> node.equals(p.getSpec().getNodeName())).findFirst()
                        .orElseThrow(() -> new picocli.CommandLine.ParameterException(spec.commandLine(), "node: '" + node
                                + "' (expected a node with an agent pod in namespace " + cluster.namespace() + ": "
                                + agents.stream().map(p -> p.getSpec().getNodeName()).distinct().toList() + ")"));
                String podName = pod.getMetadata().getName();
                KubeCluster.Response r = cluster.portForwardGet(podName, Agents.ADMIN, path);
                if (r.status() != 200) {
                    throw new IOException("node " + node + " (pod " + podName + "): admin " + path + " answered HTTP "
                            + r.status() + ": " + r.body().strip());
                }
                var out = spec.commandLine().getOut();
                out.print(render(format, r.body()));
                out.flush();
                return 0;
            }
        }
        NetnsCluster.requireRoot();
        var cluster = NetnsCluster.open(NetnsCluster.resolve(name));
        try {
            cluster.node(node);
        } catch (IllegalArgumentException e) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(), e.getMessage());
        }
        System.out.print(render(format, new Agents(cluster, timeout).admin(node, path)));
        return 0;
    }

    /** JSON as the agent sent it, or the same document as YAML. */
    private static String render(Output.Format format, String json) throws IOException {
        if (format == Output.Format.JSON) {
            return json;
        }
        try {
            return Output.write(format, new com.fasterxml.jackson.databind.ObjectMapper().readTree(json));
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IOException("the admin API answered no JSON, cannot show it as yaml (use -o json): "
                    + e.getOriginalMessage(), e);
        }
    }
}
