package dev.tessera.cli;

import dev.tessera.api.netns.NetworkAttachments.NodeAttachment;
import dev.tessera.api.netns.NetworkAttachments.PodAttachment;
import dev.tessera.cli.demo.AccessLogTail;
import dev.tessera.cli.demo.DemoTraffic;
import dev.tessera.cli.local.NetnsCluster;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code tessera demo}: brings up examples/demo/cluster.yaml, runs a client and a server in it and
 * prints the traffic as the client sees it and as the agents log it (both peer identities), then
 * removes the cluster after {@code --duration} or on Ctrl-C.
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = "Run a 2-node local cluster with a meshed client and server and show the traffic live.")
final class DemoCommand implements Callable<Integer> {

    static final String CLUSTER = "demo";
    static final int PORT = 8080;

    @Option(names = "--duration", defaultValue = "30s", description = "How long to run (default: ${DEFAULT-VALUE}).")
    Duration duration;

    @Option(names = "--timeout", defaultValue = "90s", description = "How long to wait for the agents (default: ${DEFAULT-VALUE}).")
    Duration timeout;

    @Override
    public Integer call() throws IOException, InterruptedException {
        NetnsCluster.requireRoot();
        Path manifests = NetnsCluster.home().resolve("examples/demo/cluster.yaml");
        if (!Files.isRegularFile(manifests)) {
            throw new IOException("demo manifests: " + manifests + " missing (expected: run from the repository's ./tessera)");
        }
        if (NetnsCluster.destroyIfExists(CLUSTER)) {
            System.out.println("removed the previous demo cluster");
        }
        NetnsCluster cluster = LocalUp.up(manifests, CLUSTER, true, timeout);
        var done = new CountDownLatch(1);
        var removed = new AtomicBoolean();
        Runnable down = () -> {
            if (removed.compareAndSet(false, true)) {
                try {
                    cluster.destroy();
                    System.out.println("demo cluster removed");
                } catch (IOException e) {
                    System.err.println("error: " + e.getMessage());
                }
            }
        };
        Thread hook = new Thread(() -> {
            done.countDown();
            down.run();
        }, "demo-down");
        Runtime.getRuntime().addShutdownHook(hook);
        LocalStatus.print(cluster, System.out);
        System.out.println();
        PodAttachment server = cluster.pod("demo", "server");
        PodAttachment client = cluster.pod("demo", "client");
        var logs = new LinkedHashMap<String, Path>();
        for (NodeAttachment n : cluster.network().nodes()) {
            logs.put(n.name(), cluster.agentLog(n.name()));
        }
        System.out.println("traffic demo/client (" + client.ip() + ", " + client.node() + ") -> demo/server ("
                + server.ip() + ":" + PORT + ", " + server.node() + ") for " + duration.toSeconds() + " s; Ctrl-C stops");
        try (var tail = new AccessLogTail(logs, (node, line) -> System.out.println("mesh     [" + node + "] " + line.describe()));
                var traffic = new DemoTraffic(Path.of(server.netns()), server.ip(), PORT, Path.of(client.netns()),
                        System.out::println)) {
            var agents = new dev.tessera.cli.observe.Agents(cluster, Duration.ofSeconds(5));
            long t0 = System.nanoTime();
            java.util.List<dev.tessera.cli.observe.PromText.Sample> before = null;
            try {
                before = StatCommand.scrapeAll(agents);
            } catch (IOException | RuntimeException e) {
                System.out.println("stat: cannot scrape the agents: " + e.getMessage());
            }
            boolean interrupted = done.await(duration.toMillis(), TimeUnit.MILLISECONDS);
            if (before != null && !interrupted) {
                System.out.println();
                System.out.println("tessera stat (from the agents' metrics, over the demo):");
                try {
                    StatCommand.printSince(agents, before, t0, System.out);
                } catch (IOException | RuntimeException e) {
                    System.out.println("stat: cannot scrape the agents: " + e.getMessage());
                }
                System.out.println();
            }
        }
        try {
            Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException shuttingDown) {
            return 130;
        }
        down.run();
        return 0;
    }
}
