package dev.tessera.cli;

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
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code tessera check}: is the mesh healthy (agents ready, certificates valid, coverage complete)?
 * {@code tessera check --pre}: can this machine run the agent? Exit code 0 when every check passed
 * (warnings allowed), 1 when one failed, 2 on a usage error.
 */
@Command(name = "check", mixinStandardHelpOptions = true,
        description = {"Check the mesh: agents ready, certificates valid, coverage complete.",
            "With --pre: check that this machine can run the node agent (kernel, BTF, cgroup v2, bpffs, "
                    + "capabilities, eBPF program types and helpers).",
            "Exit codes: 0 all passed, 1 a check failed, 2 usage error."})
final class CheckCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--pre", description = "Pre-installation checks of this machine.")
    boolean pre;

    @Option(names = "--name", description = "Local cluster name (default: the only cluster, or 'tessera').")
    String name;

    @Option(names = {"-o", "--output"}, defaultValue = "table", description = "table or json (default: ${DEFAULT-VALUE}).")
    String output;

    @Option(names = "--timeout", defaultValue = "5s", description = "Per-request timeout (default: ${DEFAULT-VALUE}).")
    Duration timeout;

    @Override
    public Integer call() throws Exception {
        boolean json = Output.json(spec, output);
        List<Check> checks;
        if (pre) {
            checks = new Preflight().run();
        } else {
            NetnsCluster.requireRoot();
            checks = new ClusterCheck(new Agents(NetnsCluster.open(NetnsCluster.resolve(name)), timeout)).run();
        }
        boolean passed = Check.passed(checks);
        if (json) {
            var m = new LinkedHashMap<String, Object>();
            m.put("passed", passed);
            m.put("checks", checks);
            System.out.println(Output.write(m));
        } else {
            Check.print(checks, System.out);
        }
        return passed ? 0 : 1;
    }
}
