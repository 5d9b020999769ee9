package dev.tessera.cli;

import dev.tessera.cli.kube.KubeCluster;
import java.nio.file.Path;
import java.time.Duration;
import picocli.CommandLine;
import picocli.CommandLine.Option;

/**
 * How an operator command reaches a real cluster: through a kubeconfig. A command takes this path when
 * {@code --kube}, {@code --kubeconfig}, {@code --context} or {@code --namespace} is given, and otherwise keeps
 * its local-cluster behaviour ({@code --name}); giving both is a usage error.
 */
final class KubeOptions {

    @Option(names = "--kube", description = "Use the cluster of the current kubeconfig context instead of a local "
            + "cluster (implied by --kubeconfig, --context and --namespace).")
    boolean kube;

    @Option(names = "--kubeconfig", paramLabel = "FILE",
            description = "Kubeconfig file (default: $KUBECONFIG, else ~/.kube/config). Implies --kube.")
    Path kubeconfig;

    @Option(names = "--context", paramLabel = "CONTEXT",
            description = "Kubeconfig context (default: the current one). Implies --kube.")
    String context;

    @Option(names = {"-n", "--namespace"}, paramLabel = "NAMESPACE",
            description = "Namespace Tessera is installed in (default: " + KubeCluster.DEFAULT_NAMESPACE + "). Implies --kube.")
    String namespace;

    /** True when the command should go through the kubeconfig. */
    boolean selected() {
        return kube || kubeconfig != null || context != null || namespace != null;
    }

    /** Fails with a usage error when a local cluster name is given too. */
    void requireNotLocal(CommandLine.Model.CommandSpec spec, String localName) {
        if (selected() && localName != null) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--name " + localName
                    + " names a local cluster; --kube/--kubeconfig/--context/--namespace select a Kubernetes cluster"
                    + " (expected: one or the other)");
        }
    }

    /** Connects; a missing kubeconfig file or context is a usage error. */
    KubeCluster connect(CommandLine.Model.CommandSpec spec, Duration timeout) {
        try {
            return KubeCluster.connect(kubeconfig, context, namespace, timeout);
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
        }
    }
}
