package dev.tessera.tests;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
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
 * restart-agent} runs), {@value #ROUNDS} times per node, alternating nodes. During every upgrade a client pod
 * opens a new cross-node connection every 20 ms (each a line round trip through both agents and the HBONE
 * tunnel), and long-lived connections opened before the upgrade keep exchanging lines through the handoff:
 * two each way between the nodes (so the upgraded agent is the client side of some and the server side of
 * others) and one inside each node. No new connection may fail, no long-lived one may be cut while the old
 * agent drains, the old agent exits promptly once its last connection ends, the pods are untouched, and
 * afterwards each node runs exactly one agent, the new one.
 */
@Timeout(900)
class AgentUpgradeNetnsIT {

    private static final String MESH = "mesh";
    private static final int PORT = 7000;
    private static final int ROUNDS = 5;
    private static final Duration PROBE_PERIOD = Duration.ofMillis(20);

    private static final ClusterSpec SPEC = ClusterSpec.builder()
            .nodes("node1", "node2")
            .meshedNamespace(MESH)
            .pod(MESH, "client1", "node1", "client")
            .pod(MESH, "server1", "node1", "server")
            .pod(MESH, "client2", "node2", "client")
            .pod(MESH, "server2", "node2", "server")
            .build();

    private static TestCluster c;

    @BeforeAll
    static void up() throws IOException {
        NetnsSupport.requireRoot();
        c = TestCluster.create("tsh-up", SPEC, true);
        c.server(MESH, "server1", PORT, PodServer.lineEcho("server1"));
        c.server(MESH, "server2", PORT, PodServer.lineEcho("server2"));
    }

    @AfterAll
    static void down() throws IOException {
        if (c != null) {
            c.close();
        }
    }

    /** New cross-node connections at a fixed rate from client1 to server2 (open loop: a slow one does not delay the next). */
    private static final class Prober implements AutoCloseable {
        final ExecutorService pod = c.podThreads(MESH, "client1", 64);
        final ScheduledExecutorService clock = Executors.newSingleThreadScheduledExecutor();
        final String serverIp = c.podIp(MESH, "server2");
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
                if (!("server2 p" + n).equals(reply)) {
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

    /**
     * A connection from one pod to another, kept open across an upgrade, exchanging a line every 10 ms on its
     * own thread until {@link #close}: bytes flow in both directions while the listeners change hands.
     */
    private static final class LongLived implements AutoCloseable {
        final String name;
        final Socket socket;
        final BufferedReader in;
        final String tag;
        final AtomicInteger roundTrips = new AtomicInteger();
        final List<String> failures = new CopyOnWriteArrayList<>();
        volatile boolean stop;
        final Thread pump;

        LongLived(String client, String server) throws IOException {
            this.name = client + "->" + server;
            this.tag = server;
            String ip = c.podIp(MESH, server);
            this.socket = c.inPod(MESH, client, () -> {
                Socket x = new Socket();
                x.connect(new InetSocketAddress(ip, PORT), 5000);
                x.setSoTimeout(5000);
                return x;
            });
            this.in = new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.UTF_8));
            this.pump = new Thread(this::pump, "long-lived " + name);
            pump.setDaemon(true);
        }

        void start() {
            pump.start();
        }

        private void pump() {
            for (int i = 0; !stop; i++) {
                try {
                    String line = name + " " + i;
                    socket.getOutputStream().write((line + "\n").getBytes(StandardCharsets.UTF_8));
                    String reply = in.readLine();
                    if (!(tag + " " + line).equals(reply)) {
                        failures.add(java.time.Instant.now() + " " + name + ": round trip " + i + " got " + reply);
                        return;
                    }
                    roundTrips.incrementAndGet();
                    Thread.sleep(10);
                } catch (IOException e) {
                    failures.add(java.time.Instant.now() + " " + name + ": round trip " + i + ": " + e);
                    return;
                } catch (InterruptedException e) {
                    return;
                }
            }
        }

        /** Stops the pump after its current round trip. */
        void stopPumping() throws InterruptedException {
            stop = true;
            pump.join(10_000);
        }

        @Override
        public void close() throws IOException {
            stop = true;
            socket.close();
        }
    }

    @Test
    void repeatedUpgradesOfBothNodesFailNoNewConnectionAndCutNoLongLivedOne() throws Exception {
        long[] cookies = {c.podCookie(MESH, "client1"), c.podCookie(MESH, "server1"), c.podCookie(MESH, "client2"),
                c.podCookie(MESH, "server2")};
        try (var prober = new Prober()) {
            await().atMost(Duration.ofSeconds(20)).until(() -> prober.ok.get() >= 25);
            for (int round = 1; round <= ROUNDS; round++) {
                for (String node : List.of("node1", "node2")) {
                    try {
                        upgradeWhileProbing(node, prober);
                    } catch (AssertionError | Exception e) {
                        System.err.printf("upgrade %d of %s failed; failed new connections so far: %d %s%n", round, node,
                                prober.failures.size(), prober.failures.stream().limit(3).toList());
                        for (String n : List.of("node1", "node2")) {
                            Files.copy(c.cluster().agentLog(n), Path.of("/tmp/tsh-up-agent-" + n + ".log"),
                                    java.nio.file.StandardCopyOption.REPLACE_EXISTING);
                        }
                        System.err.println("agent log of " + node + " (both in /tmp/tsh-up-agent-*.log):\n"
                                + c.cluster().logTail(node, 120));
                        throw e;
                    }
                }
            }
            int after = prober.ok.get();
            await().atMost(Duration.ofSeconds(20)).until(() -> prober.ok.get() >= after + 25);
            assertThat(prober.failures).as("failed new connections").isEmpty();
        }
        assertThat(new long[] {c.podCookie(MESH, "client1"), c.podCookie(MESH, "server1"),
                c.podCookie(MESH, "client2"), c.podCookie(MESH, "server2")}).as("pods untouched").isEqualTo(cookies);
    }

    /**
     * An upgrade whose new agent never gets cluster state (here: the controller refuses its token) must not take
     * the listeners over: the running agent keeps serving new and open connections, the upgrade fails naming it,
     * and nothing is left of the new agent.
     */
    @Test
    void anUpgradeThatGetsNoStateLeavesTheRunningAgentServing() throws Exception {
        String node = "node2";
        long oldPid = c.cluster().agentPid(node).orElseThrow();
        Path token = c.cluster().tokenFile(node);
        String goodToken = Files.readString(token);
        try (var prober = new Prober(); var longLived = new LongLived("client1", "server2")) {
            longLived.start();
            await().atMost(Duration.ofSeconds(20)).until(() -> prober.ok.get() >= 25 && longLived.roundTrips.get() > 0);
            Files.writeString(token, "not-the-token-of-" + node + "\n"); // read by the new agent only
            // longer than the new agent's warm-up (at most 15 s, before it asks the controller) plus the 10 s after
            // which a FIRST start accepts connections without state
            assertThatThrownBy(() -> c.cluster().upgradeAgent(node, Duration.ofSeconds(45), Duration.ofSeconds(30)))
                    .isInstanceOf(IOException.class)
                    .hasMessageContaining("upgrade of the agent of " + node + " failed (the previous agent, pid " + oldPid
                            + ", keeps serving)");
            assertThat(c.cluster().agentPid(node)).as("the recorded agent of %s", node).hasValue(oldPid);
            assertThat(agentProcesses(node)).as("agents of %s after the failed upgrade", node).containsExactly(oldPid);
            assertThat(readyBody(node)).as("readiness, answered by the running agent").startsWith("200")
                    .contains("pid=" + oldPid);
            int okAfter = prober.ok.get();
            int roundTripsAfter = longLived.roundTrips.get();
            await().atMost(Duration.ofSeconds(20)).until(() -> prober.ok.get() >= okAfter + 25
                    && longLived.roundTrips.get() > roundTripsAfter + 25);
            longLived.stopPumping();
            assertThat(longLived.failures).as("the long-lived connection through the failed upgrade").isEmpty();
            assertThat(prober.failures).as("new connections through the failed upgrade").isEmpty();
            assertThat(Files.readString(c.cluster().agentLog(node)))
                    .contains("upgrade: after 10 s still waiting for cluster state, so the running agent keeps serving");
        } finally {
            Files.writeString(token, goodToken);
        }
    }

    /**
     * Two {@code restart-agent} of one node at once take turns (the node's lock): both succeed, the second upgrades
     * the agent the first started, and the node is left with one agent, the second one's. Without the lock the
     * second moved the pid files under the first: it failed ("not running"), or it recorded the first one's new agent
     * as the previous one, over the old agent's pid, and the old agent ran on out of reach of {@code local down}.
     */
    @Test
    void twoUpgradesOfOneNodeAtOnceTakeTurnsAndLeaveOneAgent() throws Exception {
        String node = "node1";
        long first = c.cluster().agentPid(node).orElseThrow();
        ExecutorService both = Executors.newFixedThreadPool(2);
        var started = new java.util.ArrayList<java.util.concurrent.Future<Long>>();
        try (var prober = new Prober()) {
            for (int i = 0; i < 2; i++) {
                started.add(both.submit(() -> c.cluster().upgradeAgent(node, TestCluster.AGENT_READY_TIMEOUT,
                        Duration.ofSeconds(30))));
            }
            long a = started.get(0).get(3, TimeUnit.MINUTES);
            long b = started.get(1).get(3, TimeUnit.MINUTES);
            assertThat(a).as("the two upgrades' agents").isNotEqualTo(b).isNotEqualTo(first);
            long current = c.cluster().agentPid(node).orElseThrow();
            assertThat(current).as("the recorded agent: the later upgrade's").isIn(a, b);
            await().atMost(Duration.ofSeconds(30)).until(() -> agentProcesses(node).equals(List.of(current)));
            assertThat(readyBody(node)).startsWith("200").contains("pid=" + current);
            assertThat(prober.failures).as("new connections through both upgrades").isEmpty();
        } finally {
            both.shutdownNow();
            stopStrays(node);
        }
    }

    /**
     * An upgrade interrupted after it started the new agent and before it stopped the old one (the CLI killed) leaves
     * the old agent recorded as the previous one, still running. The next upgrade completes it: the old agent drains
     * and exits, and one agent is left, instead of the old one running on unrecorded.
     */
    @Test
    void theNextUpgradeCompletesAnInterruptedOne() throws Exception {
        String node = "node2";
        long old = c.cluster().agentPid(node).orElseThrow();
        Path pid = c.cluster().stateDir().resolve("agent-" + node + ".pid");
        try (var prober = new Prober()) {
            // what upgradeAgent does up to the point where it was interrupted
            Files.move(pid, c.cluster().stateDir().resolve("agent-" + node + ".previous.pid"));
            long interrupted = c.cluster().startAgent(node);
            await().atMost(TestCluster.AGENT_READY_TIMEOUT).ignoreExceptions()
                    .until(() -> readyBody(node).contains("pid=" + interrupted));
            assertThat(agentProcesses(node)).as("both agents of the interrupted upgrade")
                    .containsExactlyInAnyOrder(old, interrupted);

            long next = c.cluster().upgradeAgent(node, TestCluster.AGENT_READY_TIMEOUT, Duration.ofSeconds(30));
            await().atMost(Duration.ofSeconds(30)).until(() -> agentProcesses(node).equals(List.of(next)));
            assertThat(c.cluster().agentPid(node)).hasValue(next);
            assertThat(prober.failures).as("new connections through both upgrades").isEmpty();
        } finally {
            Path previous = c.cluster().stateDir().resolve("agent-" + node + ".previous.pid");
            if (c.cluster().agentPid(node).isEmpty() && Files.exists(previous)) {
                Files.move(previous, pid); // failed before the new agent was recorded: the old one serves
            }
            stopStrays(node);
        }
    }

    /** After a failed test: SIGKILL the agents of {@code node} other than the recorded one (never other processes). */
    private static void stopStrays(String node) throws IOException {
        long recorded = c.cluster().agentPid(node).orElse(-1);
        for (long p : agentProcesses(node)) {
            if (p != recorded) {
                ProcessHandle.of(p).ifPresent(ProcessHandle::destroyForcibly);
            }
        }
    }

    private void upgradeWhileProbing(String node, Prober prober) throws Exception {
        long oldPid = c.cluster().agentPid(node).orElseThrow();
        prober.slowestMillis.set(0);
        ProcessHandle old = ProcessHandle.of(oldPid).orElseThrow();
        int okBefore = prober.ok.get();
        var longLived = new java.util.ArrayList<LongLived>();
        try {
            for (String[] pair : new String[][] {{"client1", "server2"}, {"client1", "server2"}, {"client2", "server1"},
                    {"client2", "server1"}, {"client1", "server1"}, {"client2", "server2"}}) {
                longLived.add(new LongLived(pair[0], pair[1]));
            }
            longLived.forEach(LongLived::start);
            await().atMost(Duration.ofSeconds(10)).until(() -> longLived.stream().allMatch(l -> l.roundTrips.get() > 0));

            CompletableFuture<Long> upgrade = CompletableFuture.supplyAsync(() -> {
                try {
                    return c.cluster().upgradeAgent(node, TestCluster.AGENT_READY_TIMEOUT, Duration.ofSeconds(30));
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            });
            // The new agent is ready (recorded pid changed, readiness answered by it): the old one got or is
            // about to get SIGTERM and drains; the long-lived connections it holds keep working.
            await().atMost(TestCluster.AGENT_READY_TIMEOUT).pollInterval(Duration.ofMillis(50))
                    .until(() -> c.cluster().agentPid(node).orElse(oldPid) != oldPid || upgrade.isDone());
            long newPid = c.cluster().agentPid(node).orElseThrow();
            assertThat(newPid).as("new agent of %s", node).isNotEqualTo(oldPid);
            await().atMost(TestCluster.AGENT_READY_TIMEOUT).pollInterval(Duration.ofMillis(50)).ignoreExceptions()
                    .until(() -> upgrade.isDone() || readyBody(node).contains("pid=" + newPid));
            int[] atHandoff = longLived.stream().mapToInt(l -> l.roundTrips.get()).toArray();
            // Keep them busy a while after the handoff: the old agent, now draining, must not cut them.
            Thread.sleep(1000);
            assertThat(old.isAlive()).as("the old agent of %s still serves its open connections", node).isTrue();
            assertThat(upgrade).as("the upgrade waits for the old agent").isNotDone();
            for (LongLived l : longLived) {
                l.stopPumping();
            }
            assertThat(longLived.stream().flatMap(l -> l.failures.stream()).toList())
                    .as("long-lived connections through the upgrade of %s", node).isEmpty();
            for (int i = 0; i < longLived.size(); i++) {
                assertThat(longLived.get(i).roundTrips.get()).as("round trips of %s after the handoff",
                        longLived.get(i).name).isGreaterThan(atHandoff[i] + 5);
            }
            assertThat(old.isAlive()).as("the old agent of %s still serves its open connections", node).isTrue();
            System.err.println(java.time.Instant.now() + " closing the long-lived connections");
            for (LongLived l : longLived) {
                l.close(); // the last connections of the old agent end: it exits without waiting out its drain
            }
            long closedAt = System.nanoTime();
            assertThat(upgrade.get(30, TimeUnit.SECONDS)).isEqualTo(newPid);
            assertThat(old.isAlive()).isFalse();
            assertThat(Duration.ofNanos(System.nanoTime() - closedAt)).as("old agent's exit after the last close")
                    .isLessThan(Duration.ofSeconds(3));
        } finally {
            for (LongLived l : longLived) {
                l.close();
            }
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
