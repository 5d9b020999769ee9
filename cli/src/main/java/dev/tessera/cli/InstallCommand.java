package dev.tessera.cli;

import dev.tessera.cli.install.InstallOptions;
import dev.tessera.cli.install.ManifestRenderer;
import dev.tessera.cli.install.Manifests;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code tessera install}: prints the Kubernetes manifests (the same files as {@code kubectl apply -k
 * daemonset/}, which are the Helm chart rendered with its defaults) with the given options applied, for
 * {@code tessera install | kubectl apply -f -}.
 */
@Command(name = "install", mixinStandardHelpOptions = true,
        description = {"Print the Kubernetes manifests (CRDs, namespace, RBAC, controller, its PodDisruptionBudget, agent DaemonSet):",
            "the Helm chart daemonset/chart/tessera with its defaults. Prometheus Operator objects: daemonset/observability/.",
            "Use: tessera install | kubectl apply -f -   Uninstall: see daemonset/README.md.",
            "Exit codes: 0 ok, 2 usage error (a bad option value)."})
final class InstallCommand implements Callable<Integer> {

    @Option(names = "--namespace", defaultValue = InstallOptions.DEFAULT_NAMESPACE,
            description = "Namespace of the controller and agents (default: ${DEFAULT-VALUE}).")
    String namespace;

    @Option(names = "--trust-domain", defaultValue = InstallOptions.DEFAULT_TRUST_DOMAIN,
            description = "SPIFFE trust domain (default: ${DEFAULT-VALUE}).")
    String trustDomain;

    @Option(names = "--agent-image", defaultValue = InstallOptions.DEFAULT_AGENT_IMAGE,
            description = "Node agent image (default: ${DEFAULT-VALUE}).")
    String agentImage;

    @Option(names = "--controller-image", defaultValue = InstallOptions.DEFAULT_CONTROLLER_IMAGE,
            description = "Controller image (default: ${DEFAULT-VALUE}).")
    String controllerImage;

    @Option(names = "--controller-replicas", defaultValue = "" + InstallOptions.DEFAULT_CONTROLLER_REPLICAS,
            description = "Controller replicas, 1-9 (default: ${DEFAULT-VALUE}).")
    int controllerReplicas;

    @Option(names = "--mesh-cidr", paramLabel = "CIDR",
            description = "The cluster's pod and service CIDRs, repeatable: meshed workloads and Service VIPs inside"
                    + " them are captured (default: the chart's, 10.244.0.0/16 and 10.96.0.0/12).")
    List<String> meshCidrs = new ArrayList<>();

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        InstallOptions options;
        try {
            options = new InstallOptions(namespace, trustDomain, agentImage, controllerImage, controllerReplicas,
                    meshCidrs);
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
        }
        var out = spec.commandLine().getOut();
        out.print(Manifests.toYaml(ManifestRenderer.render(options)));
        out.flush();
        return 0;
    }
}
