package dev.tessera.cli;

import dev.tessera.cli.kube.KubeCluster;
import dev.tessera.cli.kube.ProxyStatus;
import java.time.Duration;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code tessera proxy-status}: per agent, the controller replica serving it, the config version it
 * acknowledged against the latest that replica published, and what the agent reports applied (like
 * {@code istioctl proxy-status}). Kubernetes only: the current kubeconfig context unless {@code --kubeconfig}
 * / {@code --context} say otherwise.
 */
@Command(name = "proxy-status", mixinStandardHelpOptions = true,
        description = {"Per agent of a Kubernetes cluster: the controller it is connected to, the config version it "
                + "acknowledged (ACKED) against the latest published (LATEST), what it applied, and SYNCED / STALE / "
                + "NOT_ACKED / NOT_CONNECTED (like istioctl proxy-status). Reads the controllers' and agents' metrics "
                + "through the API server's pod proxy; uses the current kubeconfig context.",
            "Exit codes: 0 every agent synced, 1 an agent is not synced or a pod did not answer, 2 usage error."})
final class ProxyStatusCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Mixin
    KubeOptions kube;

    @Option(names = {"-o", "--output"}, defaultValue = "table", description = "table, json or yaml (default: ${DEFAULT-VALUE}).")
    String output;

    @Option(names = "--timeout", defaultValue = "5s", description = "Per-request timeout (default: ${DEFAULT-VALUE}).")
    Duration timeout;

    @Override
    public Integer call() {
        Output.Format format = Output.format(spec, output);
        ProxyStatus.Result result;
        try (KubeCluster cluster = kube.connect(spec, timeout)) {
            result = new ProxyStatus(cluster).run();
        }
        var out = spec.commandLine().getOut();
        if (format == Output.Format.TABLE) {
            out.print(ProxyStatus.table(result));
            out.flush();
        } else {
            Output.print(format, result, out);
        }
        return result.allSynced() ? 0 : 1;
    }
}
