package dev.tessera.cli;

import dev.tessera.cli.local.NetnsCluster;
import dev.tessera.cli.observe.Agents;
import dev.tessera.cli.observe.PromText;
import dev.tessera.cli.observe.WorkloadStats;
import java.io.IOException;
import java.io.PrintStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code tessera stat}: success rate, connection rate, open connections and byte rates per workload,
 * from two scrapes of every agent's metrics {@code --window} apart.
 */
@Command(name = "stat", mixinStandardHelpOptions = true,
        description = {"Per-workload TCP traffic from the agents' metrics: success rate, connections/s, open "
                + "connections, bytes/s each way, mTLS share (like linkerd viz stat).",
            "Exit codes: 0 ok, 1 an agent could not be scraped, 2 usage error."})
final class StatCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--name", description = "Local cluster name (default: the only cluster, or 'tessera').")
    String name;

    @Option(names = "--window", defaultValue = "5s", description = "Time between the two scrapes (default: ${DEFAULT-VALUE}).")
    Duration window;

    @Option(names = {"-o", "--output"}, defaultValue = "table", description = "table or json (default: ${DEFAULT-VALUE}).")
    String output;

    @Option(names = "--timeout", defaultValue = "5s", description = "Per-request timeout (default: ${DEFAULT-VALUE}).")
    Duration timeout;

    @Override
    public Integer call() throws Exception {
        boolean json = Output.json(spec, output);
        if (window.isNegative() || window.compareTo(Duration.ofMillis(100)) < 0) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(),
                    "window: " + window + " (expected: at least 100ms)");
        }
        NetnsCluster.requireRoot();
        var agents = new Agents(NetnsCluster.open(NetnsCluster.resolve(name)), timeout);
        long t0 = System.nanoTime();
        List<PromText.Sample> before = scrapeAll(agents);
        Thread.sleep(window.toMillis());
        List<PromText.Sample> after = scrapeAll(agents);
        double seconds = (System.nanoTime() - t0) / 1e9;
        List<WorkloadStats.Row> rows = WorkloadStats.compute(before, after, seconds);
        if (json) {
            var m = new LinkedHashMap<String, Object>();
            m.put("windowSeconds", seconds);
            m.put("workloads", WorkloadStats.model(rows));
            System.out.println(Output.write(m));
        } else {
            WorkloadStats.print(rows, seconds, System.out);
        }
        return 0;
    }

    /** Every agent's samples, concatenated (each node reports its own pods' traffic). */
    static List<PromText.Sample> scrapeAll(Agents agents) throws IOException {
        List<PromText.Sample> all = new ArrayList<>();
        for (String node : agents.nodes()) {
            all.addAll(agents.metrics(node));
        }
        return all;
    }

    /** Prints the table for the window between {@code before} (taken at {@code t0}) and now. */
    static void printSince(Agents agents, List<PromText.Sample> before, long t0, PrintStream out) throws IOException {
        List<PromText.Sample> after = scrapeAll(agents);
        double seconds = (System.nanoTime() - t0) / 1e9;
        WorkloadStats.print(WorkloadStats.compute(before, after, seconds), seconds, out);
    }
}
