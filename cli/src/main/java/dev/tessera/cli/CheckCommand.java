package dev.tessera.cli;

import dev.tessera.cli.kube.ClusterPreflight;
import dev.tessera.cli.kube.KubeCluster;
import dev.tessera.cli.kube.KubeHealth;
import dev.tessera.cli.local.NetnsCluster;
import dev.tessera.cli.observe.Agents;
import dev.tessera.cli.observe.Check;
import dev.tessera.cli.observe.ClusterCheck;
import dev.tessera.cli.observe.Preflight;
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
 * {@code tessera check}: is the mesh healthy (agents ready, certificates valid, coverage complete)?
 * {@code tessera check --pre}: can this machine run the agent? With {@code --kube} (or {@code --kubeconfig},
 * {@code --context}, {@code --namespace}) both ask a real cluster instead: {@link KubeHealth} and
 * {@link ClusterPreflight}. Exit code 0 when every check passed (warnings allowed), 1 when one failed, 2 on a
 * usage error.
 */
@Command(name = "check", mixinStandardHelpOptions = true,
        description = {"Check the mesh: agents ready, certificates valid, coverage complete.",
            "With --pre: check that this machine can run the node agent (kernel, BTF, cgroup v2, bpffs, "
                    + "capabilities, eBPF program types and helpers).",
            "With --kube/--kubeconfig/--context/--namespace: check a Kubernetes cluster instead of a local one "
                    + "(controller and agents ready, CRDs, coverage, certificates and version skew from the agents' "
                    + "metrics through the API server's pod proxy; with --pre: Kubernetes version, CRDs, RBAC, "
                    + "node kernels).",
            "Exit codes: 0 all passed, 1 a check failed, 2 usage error."})
final class CheckCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--pre", description = "Pre-installation checks of this machine (or, with --kube, of the cluster).")
    boolean pre;

    @Option(names = "--name", description = "Local cluster name (default: the only cluster, or 'tessera').")
    String name;

    @Mixin
    KubeOptions kube;

    @Option(names = {"-o", "--output"}, defaultValue = "table", description = "table, json or yaml (default: ${DEFAULT-VALUE}).")
    String output;

    @Option(names = "--timeout", defaultValue = "5s", description = "Per-request timeout (default: ${DEFAULT-VALUE}).")
    Duration timeout;

    @Override
    public Integer call() throws Exception {
        Output.Format format = Output.format(spec, output);
        kube.requireNotLocal(spec, name);
        List<Check> checks;
        if (kube.selected()) {
            try (KubeCluster cluster = kube.connect(spec, timeout)) {
                checks = pre ? new ClusterPreflight(cluster).run() : new KubeHealth(cluster).run();
            }
            return print(checks, format, true);
        }
        if (pre) {
            checks = new Preflight().run();
        } else {
            NetnsCluster.requireRoot();
            checks = new ClusterCheck(new Agents(NetnsCluster.open(NetnsCluster.resolve(name)), timeout)).run();
        }
        return print(checks, format, false);
    }

    private int print(List<Check> checks, Output.Format format, boolean toCommandLine) {
        boolean passed = Check.passed(checks);
        var m = new LinkedHashMap<String, Object>();
        m.put("passed", passed);
        m.put("checks", checks);
        if (toCommandLine) {
            if (format == Output.Format.TABLE) {
                Output.printChecks(checks, spec.commandLine().getOut());
            } else {
                Output.print(format, m, spec.commandLine().getOut());
            }
        } else if (format == Output.Format.TABLE) {
            Check.print(checks, System.out);
        } else {
            Output.print(format, m, System.out);
        }
        return passed ? 0 : 1;
    }
}
