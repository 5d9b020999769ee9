package dev.tessera.cli;

import dev.tessera.cli.kube.KubeCluster;
import dev.tessera.cli.kube.Uninstall;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code tessera uninstall}: deletes what {@code tessera install} created from the cluster of the kubeconfig
 * ({@link Uninstall}); refuses while namespaces are enrolled unless {@code --force}.
 */
@Command(name = "uninstall", mixinStandardHelpOptions = true,
        description = {"Delete what tessera install created from a Kubernetes cluster (current kubeconfig context):",
            "the agent DaemonSet first, then the controller, its RBAC, the namespace; the CRDs (and with them every "
                    + "policy) only with --crds. Idempotent: objects already gone are reported ABSENT, "
                    + "those still finalizing (a Terminating namespace) DELETING.",
            "Refuses while namespaces carry tessera.dev/dataplane-mode=ambient (their pods would lose connectivity: "
                    + "capture stays pinned and fails closed) unless --force. Afterwards remove the pins on every node: "
                    + "kubectl apply -k daemonset/uninstall/ (daemonset/README.md).",
            "Exit codes: 0 done, 1 refused or a delete failed, 2 usage error."})
final class UninstallCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Mixin
    KubeOptions kube;

    @Option(names = "--crds", description = "Also delete the CRDs, and with them every AuthorizationPolicy and PeerAuthentication.")
    boolean crds;

    @Option(names = "--force", description = "Uninstall even while namespaces are enrolled.")
    boolean force;

    @Option(names = "--dry-run", description = "Only list what would be deleted.")
    boolean dryRun;

    @Option(names = {"-o", "--output"}, defaultValue = "table", description = "table, json or yaml (default: ${DEFAULT-VALUE}).")
    String output;

    @Option(names = "--timeout", defaultValue = "10s", description = "Per-request timeout (default: ${DEFAULT-VALUE}).")
    Duration timeout;

    @Override
    public Integer call() {
        Output.Format format = Output.format(spec, output);
        var out = spec.commandLine().getOut();
        try (KubeCluster cluster = kube.connect(spec, timeout)) {
            var uninstall = new Uninstall(cluster);
            List<String> enrolled = uninstall.enrolledNamespaces();
            if (!enrolled.isEmpty() && !force && !dryRun) {
                spec.commandLine().getErr().println("error: namespaces still enrolled in the mesh: " + enrolled
                        + " (expected: none). Their pods lose connectivity once no agent serves them (capture stays"
                        + " pinned and fails closed). First: kubectl label namespace NAME "
                        + Uninstall.DATAPLANE_MODE + "- for each, wait until tessera check shows 0 captured pods;"
                        + " or pass --force.");
                spec.commandLine().getErr().flush();
                return 1;
            }
            List<Uninstall.Step> steps = uninstall.run(crds, dryRun);
            if (format == Output.Format.TABLE) {
                for (Uninstall.Step s : steps) {
                    out.printf("%-13s %s%s%n", s.outcome(), s.kind() + " ",
                            (s.namespace() == null ? "" : s.namespace() + "/") + s.name());
                }
                if (!dryRun) {
                    out.println("The eBPF programs stay pinned on every node (failing closed for pods still captured):"
                            + " kubectl apply -k daemonset/uninstall/ removes them (daemonset/README.md).");
                }
                out.flush();
            } else {
                var m = new LinkedHashMap<String, Object>();
                m.put("namespace", cluster.namespace());
                m.put("dryRun", dryRun);
                m.put("enrolledNamespaces", enrolled);
                m.put("steps", steps);
                Output.print(format, m, out);
            }
            return 0;
        }
    }
}
