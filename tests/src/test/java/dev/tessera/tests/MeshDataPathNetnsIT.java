package dev.tessera.tests;

import static dev.tessera.tests.harness.AgentMetrics.CONNECTIONS_OPENED;
import static dev.tessera.tests.harness.AgentMetrics.ORIGINAL_DST_LOOKUPS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.tessera.cli.local.NetnsCluster;
import dev.tessera.tests.harness.ClusterSpec;
import dev.tessera.tests.harness.Exchange;
import dev.tessera.tests.harness.NetnsSupport;
import dev.tessera.tests.harness.PacketCapture;
import dev.tessera.tests.harness.Payload;
import dev.tessera.tests.harness.Pcap;
import dev.tessera.tests.harness.PodServer;
import dev.tessera.tests.harness.ProcessResult;
import dev.tessera.tests.harness.RawSocket;
import dev.tessera.tests.harness.TestCluster;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The data path on a real two-node cluster with agents: meshed pods' TCP goes through the agents and,
 * between nodes, inside mutual TLS; everything else is left alone. One cluster for the class; every
 * test measures its own deltas, so the order does not matter.
 */
@Timeout(300)
class MeshDataPathNetnsIT {

    private static final String MESH = "mesh";
    private static final String PLAIN = "plain";
    private static final long BULK = 64L << 20;

    private static final ClusterSpec SPEC = ClusterSpec.builder()
            .nodes("node1", "node2")
            .meshedNamespace(MESH)
            .plainNamespace(PLAIN)
            .pod(MESH, "client", "node1", "client")
            .pod(MESH, "server", "node2", "server")
            .pod(MESH, "local", "node1", "local")
            // Only the TIME_WAIT test shrinks this pod's port range.
            .pod(MESH, "closer", "node1", "client")
            // Service accounts used only by the bulk test: its tunnel connection (and TLS handshake) is new.
            .pod(MESH, "bulk-client", "node1", "bulk-client")
            .pod(MESH, "bulk-server", "node2", "bulk-server")
            .pod(PLAIN, "plain-a", "node1", "default")
            .pod(PLAIN, "plain-b", "node2", "default")
            .build();

    private static TestCluster c;
    private static PodServer server7000;

    @BeforeAll
    static void up() throws IOException {
        NetnsSupport.requireRoot();
        c = TestCluster.create("tsc-dp", SPEC, true);
        server7000 = c.server(MESH, "server", 7000, PodServer.lineEcho("server:7000"));
        c.server(MESH, "server", 7001, PodServer.lineEcho("server:7001"));
        c.server(MESH, "server", 7002, MeshDataPathNetnsIT::oneLineThenClose);
        c.server(MESH, "local", 7000, PodServer.lineEcho("local:7000"));
        c.server(PLAIN, "plain-b", 7000, PodServer.lineEcho("plain-b:7000"));
        c.server(PLAIN, "plain-b", 7003, MeshDataPathNetnsIT::tellThePeer);
        c.server(MESH, "server", 7003, MeshDataPathNetnsIT::tellThePeer);
        c.server(MESH, "local", 7003, MeshDataPathNetnsIT::tellThePeer);
        c.server(MESH, "bulk-server", 7100, MeshDataPathNetnsIT::bulkServer);
    }

    @AfterAll
    static void down() throws IOException {
        if (c != null) {
            c.close();
        }
    }

    /** Reads a length and that many bytes, sends as many back, then both digests (received, sent). */
    private static void bulkServer(Socket s) throws IOException {
        var in = new DataInputStream(s.getInputStream());
        var out = new DataOutputStream(s.getOutputStream());
        long n = in.readLong();
        byte[] received = Payload.read(in, n);
        byte[] sent = Payload.write(out, n, 2);
        out.write(received);
        out.write(sent);
        out.flush();
    }

    @Test
    void bulkBothWaysArrivesIntactAndCrossesNodesOnlyInsideTls() throws IOException {
        String node1 = c.nodeIp("node1");
        String node2 = c.nodeIp("node2");
        PacketCapture capture = c.capture("node1", "tcp");
        byte[][] digests = c.inPod(MESH, "bulk-client", () -> {
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress(c.podIp(MESH, "bulk-server"), 7100), 5000);
                s.setSoTimeout(60_000);
                var out = new DataOutputStream(s.getOutputStream());
                var in = new DataInputStream(s.getInputStream());
                out.writeLong(BULK);
                byte[] sent = Payload.write(out, BULK, 1);
                byte[] received = Payload.read(in, BULK);
                byte[] serverReceived = in.readNBytes(32);
                byte[] serverSent = in.readNBytes(32);
                return new byte[][] {sent, received, serverReceived, serverSent};
            }
        });
        PacketCapture.Result r = capture.stop();

        assertThat(digests[2]).as("SHA-256 of client->server bytes, server side vs client side").isEqualTo(digests[0]);
        assertThat(digests[1]).as("SHA-256 of server->client bytes, client side vs server side").isEqualTo(digests[3]);

        assertThat(r.complete()).as("capture lost packets: %s", r.tcpdumpOutput()).isTrue();
        assertThat(r.contains(Payload.MARKER)).as("plaintext marker on the node1-node2 link").isFalse();
        List<Pcap.Packet> toTunnel = r.packets().stream()
                .filter(p -> p.src().equals(node1) && p.dst().equals(node2) && p.dstPort() == 15008).toList();
        List<Pcap.Packet> fromTunnel = r.packets().stream()
                .filter(p -> p.src().equals(node2) && p.dst().equals(node1) && p.srcPort() == 15008).toList();
        assertThat(toTunnel).as("TLS ClientHello from node1 to node2:15008").anyMatch(Pcap.Packet::isTlsClientHello);
        assertThat(toTunnel.stream().mapToLong(Pcap.Packet::payloadLength).sum()).isGreaterThanOrEqualTo(BULK);
        assertThat(fromTunnel.stream().mapToLong(Pcap.Packet::payloadLength).sum()).isGreaterThanOrEqualTo(BULK);
        assertThat(r.packets()).as("packets addressed pod to pod (a bypass of the tunnel)")
                .noneMatch(p -> p.dstPort() == 7100 || p.srcPort() == 7100);
    }

    @Test
    void clientSeesTheOriginalDestinationAndTheServerSeesTheConnection() throws IOException {
        String serverIp = c.podIp(MESH, "server");
        int before = server7000.accepted();
        Object[] result = c.inPod(MESH, "client", () -> {
            try (RawSocket s = RawSocket.connect(new InetSocketAddress(serverIp, 7000))) {
                InetSocketAddress peer = s.peer();
                s.write("who\n".getBytes(StandardCharsets.UTF_8));
                var reply = new StringBuilder();
                while (reply.indexOf("\n") < 0) {
                    byte[] b = s.read(256);
                    if (b.length == 0) {
                        break;
                    }
                    reply.append(new String(b, StandardCharsets.UTF_8));
                }
                return new Object[] {peer, reply.toString().strip()};
            }
        });
        assertThat(result[0]).as("getpeername() in the client pod").isEqualTo(new InetSocketAddress(serverIp, 7000));
        assertThat(result[1]).isEqualTo("server:7000 who");
        assertThat(server7000.accepted()).isEqualTo(before + 1);
    }

    /**
     * A destination that is not a meshed workload or a Service VIP is not captured: the connection leaves
     * from the meshed pod's own namespace with the pod's address, as an opted-out pod's would (never from
     * the node, with the node's address and its reach).
     */
    @Test
    void meshedToNonMeshedPodLeavesFromThePodsOwnAddress() throws IOException {
        double before = c.metrics("node1").sum(CONNECTIONS_OPENED);
        assertThat(roundTrip(MESH, "client", c.podIp(PLAIN, "plain-b"), 7000, "hi")).isEqualTo("plain-b:7000 hi");
        assertThat(roundTrip(MESH, "client", c.podIp(PLAIN, "plain-b"), 7003, "who"))
                .as("the non-meshed server's getpeername()").isEqualTo(c.podIp(MESH, "client"));
        assertThat(c.metrics("node1").sum(CONNECTIONS_OPENED)).as("the agent never saw it").isEqualTo(before);
    }

    /**
     * A meshed server reached through the mesh sees its real client: the agent dials it from the client pod's
     * address (IP_TRANSPARENT), across nodes (after HBONE, from the verified source) and on the same node, and
     * the pod's replies still come back to the agent (reply routing), so the round trip completes.
     */
    @Test
    void aMeshedServerSeesTheClientPodsAddressAcrossNodesAndOnTheSameNode() throws IOException {
        String client = c.podIp(MESH, "client");
        double node1 = c.metrics("node1").sum(CONNECTIONS_OPENED);
        double node2 = c.metrics("node2").sum(CONNECTIONS_OPENED);
        assertThat(roundTrip(MESH, "client", c.podIp(MESH, "server"), 7003, "who"))
                .as("the server on node2, through HBONE: its getpeername()").isEqualTo(client);
        assertThat(roundTrip(MESH, "client", c.podIp(MESH, "local"), 7003, "who"))
                .as("the server on node1, same-node delivery: its getpeername()").isEqualTo(client);
        // Control: both went through the agents (a direct connection would also show the client's address).
        await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> {
            assertThat(c.metrics("node1").sum(CONNECTIONS_OPENED)).isGreaterThanOrEqualTo(node1 + 2);
            assertThat(c.metrics("node2").sum(CONNECTIONS_OPENED)).isGreaterThan(node2);
            assertThat(c.metrics("node1").series("tessera_pod_dials_total", "source", "client")).isPositive();
            assertThat(c.metrics("node2").series("tessera_pod_dials_total", "source", "client")).isPositive();
        });
    }

    /**
     * A pod reaching itself through the mesh (its own address is a meshed destination) still connects: that
     * hairpin is dialled from the node address, since a SYN from the pod's own address arriving on its eth0
     * would be dropped by its kernel as a martian source.
     */
    @Test
    void aPodReachingItselfThroughTheMeshStillConnects() throws IOException {
        double before = c.metrics("node1").sum(CONNECTIONS_OPENED);
        assertThat(roundTrip(MESH, "local", c.podIp(MESH, "local"), 7003, "me"))
                .as("the server's getpeername(), hairpin").isEqualTo(c.nodeIp("node1"));
        await().atMost(Duration.ofSeconds(5)).untilAsserted(
                () -> assertThat(c.metrics("node1").sum(CONNECTIONS_OPENED)).isGreaterThan(before));
    }

    /**
     * The node's egress rules apply to a meshed pod's traffic to non-mesh destinations exactly as to an
     * opted-out pod's: a FORWARD-chain DROP for the pod on its node stops both. And what a plain pod cannot
     * reach (the controller's 15014: pods have no route back from it here), a meshed pod cannot reach either;
     * it used to, dialled by its agent from the node's namespace.
     */
    @Test
    void aMeshedPodMeetsTheNodesEgressRulesLikeAPlainOne() throws Exception {
        var controller = new InetSocketAddress(NetnsCluster.CONTROLLER_IP, 15014);
        var plainB = new InetSocketAddress(c.podIp(PLAIN, "plain-b"), 7000);
        String[][] pods = {{MESH, "client"}, {PLAIN, "plain-a"}};
        for (String[] pod : pods) {
            assertThat(reaches(pod[0], pod[1], controller)).as("%s/%s reaches the controller", pod[0], pod[1])
                    .isFalse();
            assertThat(reaches(pod[0], pod[1], plainB)).as("%s/%s reaches plain-b", pod[0], pod[1]).isTrue();
        }
        List<String> rules = new ArrayList<>();
        try {
            for (String[] pod : pods) {
                String rule = "FORWARD -s " + c.podIp(pod[0], pod[1]) + "/32 -p tcp -j DROP";
                iptables(c.nodeNetns("node1"), "-I " + rule);
                rules.add(rule);
            }
            for (String[] pod : pods) {
                assertThat(reaches(pod[0], pod[1], plainB)).as("%s/%s reaches plain-b past a FORWARD DROP", pod[0],
                        pod[1]).isFalse();
            }
        } finally {
            for (String rule : rules) {
                iptables(c.nodeNetns("node1"), "-D " + rule);
            }
        }
        // Meshed traffic is the agent's, sent from the node: the pod's FORWARD rule does not apply to it.
        assertThat(roundTrip(MESH, "client", c.podIp(MESH, "server"), 7000, "m")).isEqualTo("server:7000 m");
    }

    /** Whether a TCP connect from the pod completes within 1.5 s (a dropped SYN never does). */
    private static boolean reaches(String ns, String pod, InetSocketAddress dst) throws IOException {
        return c.inPod(ns, pod, () -> {
            try (Socket s = new Socket()) {
                s.connect(dst, 1500);
                return true;
            } catch (IOException e) {
                return false;
            }
        });
    }

    private static void iptables(java.nio.file.Path netns, String rule) throws IOException, InterruptedException {
        var cmd = new ArrayList<>(List.of("nsenter", "--net=" + netns, "iptables", "-w"));
        cmd.addAll(List.of(rule.split(" ")));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (p.waitFor() != 0) {
            throw new IOException(String.join(" ", cmd) + " failed: " + out);
        }
    }

    /** Reads a line and answers with the address the connection came from, as the server's getpeername() sees it. */
    private static void tellThePeer(Socket s) throws IOException {
        new java.io.BufferedReader(new java.io.InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8)).readLine();
        s.getOutputStream().write((s.getInetAddress().getHostAddress() + "\n").getBytes(StandardCharsets.UTF_8));
    }

    @Test
    void nonMeshedPodTrafficNeverTouchesAnAgent() throws IOException {
        double node1 = c.metrics("node1").sum(CONNECTIONS_OPENED);
        double node2 = c.metrics("node2").sum(CONNECTIONS_OPENED);
        for (int i = 0; i < 5; i++) {
            assertThat(roundTrip(PLAIN, "plain-a", c.podIp(PLAIN, "plain-b"), 7000, "p" + i)).isEqualTo("plain-b:7000 p" + i);
        }
        assertThat(c.metrics("node1").sum(CONNECTIONS_OPENED)).isEqualTo(node1);
        assertThat(c.metrics("node2").sum(CONNECTIONS_OPENED)).isEqualTo(node2);
        // Control: the same counter does move for a meshed pod, so "unchanged" above means something.
        assertThat(roundTrip(MESH, "client", c.podIp(MESH, "server"), 7000, "m")).isEqualTo("server:7000 m");
        await().atMost(Duration.ofSeconds(5)).untilAsserted(
                () -> assertThat(c.metrics("node1").sum(CONNECTIONS_OPENED)).isGreaterThan(node1));
    }

    @Test
    void meshedToMeshedOnTheSameNode() throws IOException {
        double before = c.metrics("node1").sum(CONNECTIONS_OPENED);
        assertThat(roundTrip(MESH, "client", c.podIp(MESH, "local"), 7000, "near")).isEqualTo("local:7000 near");
        await().atMost(Duration.ofSeconds(5)).untilAsserted(
                () -> assertThat(c.metrics("node1").sum(CONNECTIONS_OPENED)).isGreaterThan(before));
    }

    /** Answers one line and closes first, like an HTTP/1.0 server or `Connection: close`. */
    private static void oneLineThenClose(Socket s) throws IOException {
        String line = new java.io.BufferedReader(new java.io.InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8))
                .readLine();
        s.getOutputStream().write(("bye " + line + "\n").getBytes(StandardCharsets.UTF_8));
    }

    /**
     * Short connections from ten threads at once, the server closing first: sockets close and open on the
     * destination agent within the same event-loop rounds, so a new dial often gets a just-freed descriptor.
     * An epoll event left over for the descriptor's previous owner used to reach the new dial channel as
     * NotYetConnectedException, whose handler closed it: the CONNECT failed (UPSTREAM_CONNECT_FAILED) for 2-10%
     * of such connections.
     */
    @Test
    void churningShortConnectionsFromConcurrentClientsAllSucceed() throws Exception {
        String server = c.podIp(MESH, "server");
        int threads = 10;
        int each = 200;
        ExecutorService pool = c.podThreads(MESH, "client", threads);
        Queue<String> failures = new ConcurrentLinkedQueue<>();
        var ok = new AtomicInteger();
        for (int t = 0; t < threads; t++) {
            int thread = t;
            pool.execute(() -> {
                for (int i = 0; i < each; i++) {
                    String id = thread + "-" + i;
                    try (Socket s = new Socket()) {
                        s.connect(new InetSocketAddress(server, 7002), 10_000);
                        s.setSoTimeout(10_000);
                        s.getOutputStream().write((id + "\n").getBytes(StandardCharsets.UTF_8));
                        String reply = new java.io.BufferedReader(new java.io.InputStreamReader(s.getInputStream(),
                                StandardCharsets.UTF_8)).readLine();
                        if (("bye " + id).equals(reply)) {
                            ok.incrementAndGet();
                        } else {
                            failures.add(id + ": reply " + reply);
                        }
                    } catch (IOException e) {
                        failures.add(id + ": " + e);
                    }
                }
            });
        }
        TestCluster.shutdownAndAwait(pool, Duration.ofSeconds(120));
        assertThat(failures).as("failed short connections (%d succeeded)", ok.get()).isEmpty();
        assertThat(ok.get()).isEqualTo(threads * each);
    }

    /**
     * A meshed client that closes first keeps its connections in TIME_WAIT for 60 s, and capture connects ALL of a
     * pod's connections to the same agent address, so those entries share one 4-tuple space (without the mesh
     * they are spread over the destinations). The agent lets enrolled pods reuse a TIME_WAIT port once it is a
     * second old (tcp_tw_reuse=1). Here the pod has 64 ephemeral ports and makes 400 connections it closes first:
     * without reuse the 65th connect fails with EADDRNOTAVAIL for a minute.
     */
    @Test
    void aClientThatClosesFirstReusesItsPortsToTheAgent() throws Exception {
        assertThat(sysctl(MESH, "closer", "net.ipv4.tcp_tw_reuse")).as("set by the agent at enrollment")
                .isEqualTo("1");
        assertThat(sysctl(PLAIN, "plain-a", "net.ipv4.tcp_tw_reuse")).as("a pod out of the mesh").isEqualTo("2");
        ProcessResult narrowed = c.exec(MESH, "closer", Duration.ofSeconds(10), "sysctl", "-q", "-w",
                "net.ipv4.ip_local_port_range=40000 40063");
        assertThat(narrowed.exitCode()).as(narrowed.stderr()).isZero();

        String server = c.podIp(MESH, "server");
        ExecutorService pod = c.podThreads(MESH, "closer", 1);
        var done = pod.submit(() -> {
            for (int i = 0; i < 400; i++) {
                String id = "c" + i;
                // a port is free again one to two seconds after its connection closed
                await("connection " + id + " from a free source port").atMost(Duration.ofSeconds(15)).pollInSameThread().pollInterval(Duration.ofMillis(20))
                        .ignoreExceptionsInstanceOf(java.net.BindException.class) // EADDRNOTAVAIL: no free port
                        .untilAsserted(() -> {
                            try (Socket s = new Socket()) {
                                s.connect(new InetSocketAddress(server, 7000), 5_000);
                                s.setSoTimeout(5_000);
                                s.getOutputStream().write((id + "\n").getBytes(StandardCharsets.UTF_8));
                                String reply = new java.io.BufferedReader(new java.io.InputStreamReader(
                                        s.getInputStream(), StandardCharsets.UTF_8)).readLine();
                                assertThat(reply).isEqualTo("server:7000 " + id);
                            } // the client closes first: its side keeps the TIME_WAIT
                        });
            }
            return null;
        });
        done.get(180, TimeUnit.SECONDS);
    }

    private static String sysctl(String namespace, String pod, String key) throws IOException {
        ProcessResult r = c.exec(namespace, pod, Duration.ofSeconds(10), "sysctl", "-n", key);
        assertThat(r.exitCode()).as(r.stderr()).isZero();
        return r.stdout().strip();
    }

    @Test
    void fiveHundredConcurrentConnectionsAllReachTheirOriginalDestination() throws Exception {
        String[][] targets = {
            {c.podIp(MESH, "server"), "7000", "server:7000"},
            {c.podIp(MESH, "server"), "7001", "server:7001"},
            {c.podIp(MESH, "local"), "7000", "local:7000"},
        };
        double missesBefore = c.metrics("node1").series(ORIGINAL_DST_LOOKUPS, "result", "miss");
        double hitsBefore = c.metrics("node1").series(ORIGINAL_DST_LOOKUPS, "result", "hit");
        int total = 500;
        int threads = 50;
        ExecutorService pool = c.podThreads(MESH, "client", threads);
        var allOpen = new CountDownLatch(total);
        var release = new CountDownLatch(1);
        Queue<String> failures = new ConcurrentLinkedQueue<>();
        var ok = new AtomicInteger();
        for (int t = 0; t < threads; t++) {
            int first = t * (total / threads);
            pool.execute(() -> {
                var open = new java.util.ArrayList<Socket>();
                try {
                    for (int i = first; i < first + total / threads; i++) {
                        String[] target = targets[i % targets.length];
                        try {
                            Socket s = new Socket();
                            open.add(s);
                            s.connect(new InetSocketAddress(target[0], Integer.parseInt(target[1])), 10_000);
                            s.setSoTimeout(20_000);
                            s.getOutputStream().write(("conn-" + i + "\n").getBytes(StandardCharsets.UTF_8));
                            String reply = new java.io.BufferedReader(new java.io.InputStreamReader(s.getInputStream(),
                                    StandardCharsets.UTF_8)).readLine();
                            if ((target[2] + " conn-" + i).equals(reply)) {
                                ok.incrementAndGet();
                            } else {
                                failures.add("conn-" + i + " to " + target[2] + ": reply " + reply);
                            }
                        } catch (IOException e) {
                            failures.add("conn-" + i + " to " + target[2] + ": " + e);
                        }
                        allOpen.countDown();
                    }
                    release.await(120, TimeUnit.SECONDS); // hold every connection until all 500 are open
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                } finally {
                    open.forEach(s -> {
                        try {
                            s.close();
                        } catch (IOException ignored) {
                            // closing
                        }
                    });
                }
            });
        }
        boolean reached = allOpen.await(120, TimeUnit.SECONDS);
        release.countDown();
        TestCluster.shutdownAndAwait(pool, Duration.ofSeconds(30));
        assertThat(reached).as("all 500 connections attempted").isTrue();
        assertThat(failures).as("failed or misrouted connections").isEmpty();
        assertThat(ok.get()).isEqualTo(total);
        // The kernel side of the same claim: every accepted connection found its original destination.
        assertThat(c.metrics("node1").series(ORIGINAL_DST_LOOKUPS, "result", "miss")).isEqualTo(missesBefore);
        assertThat(c.metrics("node1").series(ORIGINAL_DST_LOOKUPS, "result", "hit") - hitsBefore).isEqualTo(total);
    }

    @Test
    void connectToAClosedPortFailsWithinOneSecondAndAgentsKeepServing() throws IOException {
        String serverIp = c.podIp(MESH, "server");
        String outcome = c.inPod(MESH, "client", () -> {
            long t0 = System.nanoTime();
            String what;
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress(serverIp, 7999), 1000);
                s.setSoTimeout(1000);
                s.getOutputStream().write("anyone?\n".getBytes(StandardCharsets.UTF_8));
                int b = s.getInputStream().read();
                what = b < 0 ? "closed" : "got data";
            } catch (SocketTimeoutException e) {
                what = "still open";
            } catch (IOException e) {
                what = "closed";
            }
            long ms = (System.nanoTime() - t0) / 1_000_000;
            return what + (ms < 1000 ? "" : " after " + ms + " ms");
        });
        assertThat(outcome).as("connection to a closed port").isEqualTo("closed");
        assertThat(roundTrip(MESH, "client", serverIp, 7000, "still")).isEqualTo("server:7000 still");
        assertThat(c.cluster().agentState("node1")).isEqualTo("ready");
        assertThat(c.cluster().agentState("node2")).isEqualTo("ready");
    }

    private static String roundTrip(String ns, String pod, String ip, int port, String line) throws IOException {
        return c.inPod(ns, pod, () -> Exchange.lineRoundTrip(ip, port, line, 5000));
    }
}
