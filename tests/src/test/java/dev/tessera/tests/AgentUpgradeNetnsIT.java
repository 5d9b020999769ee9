package dev.tessera.tests;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.tessera.tests.harness.ClusterSpec;
import dev.tessera.tests.harness.NetnsSupport;
import dev.tessera.tests.harness.PodServer;
import dev.tessera.tests.harness.TestCluster;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Agent upgrade with listener handoff ({@code NetnsCluster.upgradeAgent}, what {@code tessera local
 * restart-agent} runs): while the client's node agent and then the server's node agent are replaced, a
 * client pod opens a new connection every 20 ms (each a line round trip through both agents and the HBONE
 * tunnel) and holds one long-lived connection per upgrade. No new connection may fail, the long-lived one
 * keeps working after the handoff until the client closes it (the old agent then exits promptly), the
 * pods are untouched, and afterwards each node runs exactly one agent, the new one.
 */
@Timeout(300)
class AgentUpgradeNetnsIT {

    private static final String MESH = "mesh";
    private static final int PORT = 7000;
    private static final Duration PROBE_PERIOD = Duration.ofMillis(20);

    private static final ClusterSpec SPEC = ClusterSpec.builder()
            .nodes("node1", "node2")
            .meshedNamespace(MESH)
            .pod(MESH, "client", "node1", "client")
            .pod(MESH, "server", "node2", "server")
            .build();

    private static TestCluster c;
    private static String serverIp;

    @BeforeAll
    static void up() throws IOException {
        NetnsSupport.requireRoot();
        c = TestCluster.create("tsh-up", SPEC, true);
        serverIp = c.podIp(MESH, "server");
        c.server(MESH, "server", PORT, PodServer.lineEcho("server"));
    }

    @AfterAll
    static void down() throws IOException {
        if (c != null) {
            c.close();
        }
    }

    /** New connections at a fixed rate from the client pod (open loop: a slow one does not delay the next). */
    private static final class Prober implements AutoCloseable {
        final ExecutorService pod = c.podThreads(MESH, "client", 64);
        final ScheduledExecutorService clock = Executors.newSingleThreadScheduledExecutor();
        final AtomicInteger ok = new AtomicInteger();
        final AtomicInteger seq = new AtomicInteger();
        final AtomicLong slowestMillis = new AtomicLong();
        final List<String> failures = new CopyOnWriteArrayList<>();

        Prober() {
            clock.scheduleAtFixedRate(() -> pod.execute(this::probe), 0, PROBE_PERIOD.toMillis(), TimeUnit.MILLISECONDS);
        }

        private void probe() {
            int n = seq.incrementAndGet();
            long t0 = System.nanoTime();
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress(serverIp, PORT), 15_000);
                s.setSoTimeout(15_000); // a connection waiting in the backlog for the new agent's gate is slow, not failed
                s.getOutputStream().write(("p" + n + "\n").getBytes(StandardCharsets.UTF_8));
                String reply = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8)).readLine();
                if (!("server p" + n).equals(reply)) {
                    failures.add("probe " + n + ": got " + reply);
                    return;
                }
                ok.incrementAndGet();
                slowestMillis.accumulateAndGet((System.nanoTime() - t0) / 1_000_000, Math::max);
            } catch (IOException e) {
                failures.add("probe " + n + " at +" + (System.nanoTime() - t0) / 1_000_000 + " ms: " + e);
            }
        }

        @Override
        public void close() throws InterruptedException {
            clock.shutdownNow();
            clock.awaitTermination(5, TimeUnit.SECONDS);
            pod.shutdown();
            assertThat(pod.awaitTermination(30, TimeUnit.SECONDS)).as("probes finished").isTrue();
        }
    }

    /** A connection from the client pod to the server, kept open across an upgrade. */
    private record LongLived(Socket socket, BufferedReader in) implements AutoCloseable {
        static LongLived open() throws IOException {
            Socket s = c.inPod(MESH, "client", () -> {
                Socket x = new Socket();
                x.connect(new InetSocketAddress(serverIp, PORT), 5000);
                x.setSoTimeout(5000);
                return x;
            });
            return new LongLived(s, new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8)));
        }

        String roundTrip(String line) throws IOException {
            socket.getOutputStream().write((line + "\n").getBytes(StandardCharsets.UTF_8));
            return in.readLine();
        }

        @Override
        public void close() throws IOException {
            socket.close();
        }
    }

    @Test
    void upgradesOfBothNodesFailNoNewConnectionAndDrainTheLongLivedOnes() throws Exception {
        long clientCookie = c.podCookie(MESH, "client");
        long serverCookie = c.podCookie(MESH, "server");
        try (var prober = new Prober()) {
            await().atMost(Duration.ofSeconds(20)).until(() -> prober.ok.get() >= 25);
            for (String node : List.of("node1", "node2")) {
                try {
                    upgradeWhileProbing(node, prober);
                } catch (AssertionError | Exception e) {
                    System.err.printf("upgrade of %s failed; failed new connections so far: %d %s%n", node,
                            prober.failures.size(), prober.failures.stream().limit(3).toList());
                    System.err.println("agent log of " + node + ":\n" + c.cluster().logTail(node, 120));
                    Files.copy(c.cluster().agentLog(node), Path.of("/tmp/tsh-up-agent-" + node + ".log"),
                            java.nio.file.StandardCopyOption.REPLACE_EXISTING);
                    throw e;
                }
            }
            int after = prober.ok.get();
            await().atMost(Duration.ofSeconds(20)).until(() -> prober.ok.get() >= after + 25);
            assertThat(prober.failures).as("failed new connections").isEmpty();
        }
        assertThat(c.podCookie(MESH, "client")).isEqualTo(clientCookie);
        assertThat(c.podCookie(MESH, "server")).isEqualTo(serverCookie);
    }

    private void upgradeWhileProbing(String node, Prober prober) throws Exception {
        long oldPid = c.cluster().agentPid(node).orElseThrow();
        prober.slowestMillis.set(0);
        ProcessHandle old = ProcessHandle.of(oldPid).orElseThrow();
        int okBefore = prober.ok.get();
        try (var longLived = LongLived.open()) {
            assertThat(longLived.roundTrip("hello " + node)).isEqualTo("server hello " + node);

            CompletableFuture<Long> upgrade = CompletableFuture.supplyAsync(() -> {
                try {
                    return c.cluster().upgradeAgent(node, TestCluster.AGENT_READY_TIMEOUT, Duration.ofSeconds(30));
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            });
            // The new agent is ready (recorded pid changed, readiness answered by it): the old one got or is
            // about to get SIGTERM and drains; the long-lived connection it holds keeps working.
            await().atMost(TestCluster.AGENT_READY_TIMEOUT).pollInterval(Duration.ofMillis(50))
                    .until(() -> c.cluster().agentPid(node).orElse(oldPid) != oldPid || upgrade.isDone());
            long newPid = c.cluster().agentPid(node).orElseThrow();
            assertThat(newPid).as("new agent of %s", node).isNotEqualTo(oldPid);
            await().atMost(TestCluster.AGENT_READY_TIMEOUT).pollInterval(Duration.ofMillis(50)).ignoreExceptions()
                    .until(() -> upgrade.isDone() || readyBody(node).contains("pid=" + newPid));
            assertThat(upgrade).as("the upgrade waits for the old agent").isNotDone();
            for (int i = 0; i < 3; i++) {
                assertThat(longLived.roundTrip("during " + i)).as("long-lived connection after the handoff on %s", node)
                        .isEqualTo("server during " + i);
                assertThat(old.isAlive()).as("the old agent of %s still serves its open connection", node).isTrue();
                Thread.sleep(300); // keep the connection open a while: the old agent must not cut it
            }
            assertThat(upgrade).as("the upgrade waits for the old agent").isNotDone();
            System.err.println(java.time.Instant.now() + " closing the long-lived connection");
            longLived.close(); // the last connection of the old agent ends: it exits without waiting out its drain
            long closedAt = System.nanoTime();
            assertThat(upgrade.get(30, TimeUnit.SECONDS)).isEqualTo(newPid);
            assertThat(old.isAlive()).isFalse();
            assertThat(Duration.ofNanos(System.nanoTime() - closedAt)).as("old agent's exit after the last close")
                    .isLessThan(Duration.ofSeconds(3));
        }
        assertThat(agentProcesses(node)).as("agents of %s after the upgrade", node).containsExactly(
                c.cluster().agentPid(node).orElseThrow());
        int okAfter = prober.ok.get();
        await().atMost(Duration.ofSeconds(20)).until(() -> prober.ok.get() >= okAfter + 10);
        System.err.printf("upgrade of %s: %d new connections succeeded (slowest %d ms), %d failed %s%n", node,
                prober.ok.get() - okBefore, prober.slowestMillis.get(), prober.failures.size(),
                prober.failures.stream().limit(3).toList());
        assertThat(prober.failures).as("failed new connections while upgrading %s (%d succeeded, slowest %d ms)", node,
                prober.ok.get() - okBefore, prober.slowestMillis.get()).isEmpty();
    }

    /** The body of the node's readiness answer (names the answering agent's pid when ready). */
    private static String readyBody(String node) throws IOException {
        var r = dev.tessera.cli.local.NodeHttp.get(c.nodeNetns(node), c.nodeIp(node), 15021, "/healthz/ready",
                Duration.ofSeconds(1));
        return r.status() + " " + r.body();
    }

    /** Pids of live processes whose command line names this node's handoff socket (i.e. its agents). */
    private static List<Long> agentProcesses(String node) throws IOException {
        String mark = c.cluster().agentHandoffSocket(node).toString();
        var out = new java.util.ArrayList<Long>();
        try (var procs = Files.list(Path.of("/proc"))) {
            for (Path p : (Iterable<Path>) procs::iterator) {
                String name = p.getFileName().toString();
                if (!name.chars().allMatch(Character::isDigit)) {
                    continue;
                }
                try {
                    String cmd = new String(Files.readAllBytes(p.resolve("cmdline")), StandardCharsets.UTF_8);
                    if (cmd.contains(mark)) {
                        out.add(Long.parseLong(name));
                    }
                } catch (IOException gone) {
                    // exited meanwhile
                }
            }
        }
        return out;
    }
}
