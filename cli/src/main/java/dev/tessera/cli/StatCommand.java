package dev.tessera.cli;

import dev.tessera.api.config.Ports;
import dev.tessera.cli.kube.KubeCluster;
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
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code tessera stat}: success rate, connection rate, open connections and byte rates per workload,
 * from two scrapes of every agent's metrics {@code --window} apart: the agents of a local cluster, or with
 * {@code --kube} (or {@code --kubeconfig}, {@code --context}, {@code --namespace}) every agent pod of a
 * Kubernetes cluster, read through the API server's pod proxy.
 */
@Command(name = "stat", mixinStandardHelpOptions = true,
        description = {"Per-workload TCP traffic from the agents' metrics: success rate, connections/s, open "
                + "connections, bytes/s each way, mTLS share (like linkerd viz stat).",
            "With --kube/--kubeconfig/--context/--namespace: the agent pods of a Kubernetes cluster, through the API "
                    + "server's pod proxy.",
            "Exit codes: 0 ok, 1 an agent could not be scraped, 2 usage error."})
final class StatCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--name", description = "Local cluster name (default: the only cluster, or 'tessera').")
    String name;

    @Option(names = "--window", defaultValue = "5s", description = "Time between the two scrapes (default: ${DEFAULT-VALUE}).")
    Duration window;

    @Mixin
    KubeOptions kube;

    @Option(names = {"-o", "--output"}, defaultValue = "table", description = "table, json or yaml (default: ${DEFAULT-VALUE}).")
    String output;

    @Option(names = "--timeout", defaultValue = "5s", description = "Per-request timeout (default: ${DEFAULT-VALUE}).")
    Duration timeout;

    @Override
    public Integer call() throws Exception {
        Output.Format format = Output.format(spec, output);
        if (window.isNegative() || window.compareTo(Duration.ofMillis(100)) < 0) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(),
                    "window: " + window + " (expected: at least 100ms)");
        }
        kube.requireNotLocal(spec, name);
        if (kube.selected()) {
            try (KubeCluster cluster = kube.connect(spec, timeout)) {
                return stat(() -> scrapeAll(cluster), format, spec.commandLine().getOut());
            }
        }
        NetnsCluster.requireRoot();
        var agents = new Agents(NetnsCluster.open(NetnsCluster.resolve(name)), timeout);
        return stat(() -> scrapeAll(agents), format, null);
    }

    private interface Scrape {
        List<PromText.Sample> all() throws IOException;
    }

    private int stat(Scrape scrape, Output.Format format, java.io.PrintWriter writer) throws Exception {
        long t0 = System.nanoTime();
        List<PromText.Sample> before = scrape.all();
        Thread.sleep(window.toMillis());
        List<PromText.Sample> after = scrape.all();
        double seconds = (System.nanoTime() - t0) / 1e9;
        List<WorkloadStats.Row> rows = WorkloadStats.compute(before, after, seconds);
        if (format != Output.Format.TABLE) {
            var m = new LinkedHashMap<String, Object>();
            m.put("windowSeconds", seconds);
            m.put("workloads", WorkloadStats.model(rows));
            if (writer != null) {
                Output.print(format, m, writer);
            } else {
                Output.print(format, m, System.out);
            }
        } else if (writer != null) {
            var bytes = new java.io.ByteArrayOutputStream();
            WorkloadStats.print(rows, seconds, new PrintStream(bytes, true, java.nio.charset.StandardCharsets.UTF_8));
            writer.print(bytes.toString(java.nio.charset.StandardCharsets.UTF_8));
            writer.flush();
        } else {
            WorkloadStats.print(rows, seconds, System.out);
        }
        return 0;
    }

    /** Every agent pod's samples (an agent that does not answer fails the command: its node's traffic would be missing). */
    static List<PromText.Sample> scrapeAll(KubeCluster cluster) throws IOException {
        List<PromText.Sample> all = new ArrayList<>();
        var pods = cluster.agentPods();
        if (pods.isEmpty()) {
            throw new IOException("no agent pods in namespace " + cluster.namespace() + " (expected: the DaemonSet "
                    + KubeCluster.AGENT + "'s pods; is Tessera installed there?)");
        }
        for (var p : pods) {
            try {
                all.addAll(cluster.metrics(p.getMetadata().getName(), Ports.METRICS));
            } catch (IOException e) {
                throw new IOException("agent " + p.getMetadata().getName() + " on node " + p.getSpec().getNodeName()
                        + ": " + e.getMessage(), e);
            }
        }
        return all;
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
