package dev.tessera.tests;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.tessera.agent.identity.CertificateManager;
import dev.tessera.api.identity.CertificateAuthority;
import dev.tessera.api.json.Json;
import dev.tessera.cli.observe.Agents;
import dev.tessera.cli.observe.Check;
import dev.tessera.cli.observe.ClusterCheck;
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
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Root rotation online ({@code NetnsCluster.rotateRoot}, what {@code tessera local rotate-root} runs) between
 * two nodes: while the controller publishes the new root next to the old one, switches signing, lets the
 * agents re-issue every workload certificate (within a 5 s window) and drops the old root, new cross-node
 * connections open every 20 ms in both directions and long-lived connections opened before the rotation keep
 * exchanging lines. No new connection may fail, no long-lived one may be cut, and at the end every certificate
 * held chains to the new root, which is the only one trusted (by agents and in the cluster's CA directory).
 */
@Timeout(600)
class RootRotationNetnsIT {

    private static final String MESH = "mesh";
    private static final int PORT = 7000;
    private static final Duration PROBE_PERIOD = Duration.ofMillis(20);
    private static final List<String> NODES = List.of("node1", "node2");

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
        c = TestCluster.create("tsr-rot", SPEC, true, List.of("--root-rotation-window", "5s"));
        c.server(MESH, "server1", PORT, PodServer.lineEcho("server1"));
        c.server(MESH, "server2", PORT, PodServer.lineEcho("server2"));
    }

    @AfterAll
    static void down() throws IOException {
        if (c != null) {
            c.close();
        }
    }

    /** New cross-node connections at a fixed rate (open loop) from one client pod to a server pod. */
    private static final class Prober implements AutoCloseable {
        final ExecutorService pod;
        final ScheduledExecutorService clock = Executors.newSingleThreadScheduledExecutor();
        final String server;
        final String serverIp;
        final AtomicInteger ok = new AtomicInteger();
        final AtomicInteger seq = new AtomicInteger();
        final List<String> failures = new CopyOnWriteArrayList<>();

        Prober(String client, String server) {
            this.pod = c.podThreads(MESH, client, 32);
            this.server = server;
            this.serverIp = c.podIp(MESH, server);
            clock.scheduleAtFixedRate(() -> pod.execute(this::probe), 0, PROBE_PERIOD.toMillis(), TimeUnit.MILLISECONDS);
        }

        private void probe() {
            int n = seq.incrementAndGet();
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress(serverIp, PORT), 15_000);
                s.setSoTimeout(15_000);
                s.getOutputStream().write(("p" + n + "\n").getBytes(StandardCharsets.UTF_8));
                String reply = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8)).readLine();
                if (!(server + " p" + n).equals(reply)) {
                    failures.add(java.time.Instant.now() + " probe " + n + " to " + server + ": got " + reply);
                    return;
                }
                ok.incrementAndGet();
            } catch (IOException e) {
                failures.add(java.time.Instant.now() + " probe " + n + " to " + server + ": " + e);
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

    /** A connection kept open across the rotation, exchanging a line every 10 ms on its own thread. */
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

        @Override
        public void close() throws IOException {
            stop = true;
            socket.close();
        }
    }

    /** The root fingerprint of each certificate a node's agent holds, with whether that root signs now. */
    @SuppressWarnings("unchecked")
    private static List<String> roots(String node) throws IOException {
        var out = new ArrayList<String>();
        for (Object o : (List<Object>) Json.parse(c.admin(node, "/certificates"))) {
            Map<String, Object> m = (Map<String, Object>) o;
            out.add(m.get("root") + (Boolean.TRUE.equals(m.get("rootSigning")) ? "" : " (not signing)"));
        }
        return out;
    }

    private static List<X509Certificate> caCrt() throws IOException {
        return CertificateAuthority.Pem.readCertificates(Files.readString(c.cluster().caDir().resolve("ca.crt")));
    }

    @Test
    void rotatingTheRootFailsNoNewConnectionCutsNoLongLivedOneAndLeavesEveryCertificateUnderTheNewRoot()
            throws Exception {
        String oldRoot = CertificateManager.fingerprint(caCrt().get(0));
        for (String node : NODES) {
            assertThat(roots(node)).as("certificates of %s before", node).hasSize(2).containsOnly(oldRoot);
        }
        var longLived = new ArrayList<LongLived>();
        try (var p12 = new Prober("client1", "server2"); var p21 = new Prober("client2", "server1")) {
            for (String[] pair : new String[][] {{"client1", "server2"}, {"client2", "server1"}, {"client1", "server1"}}) {
                longLived.add(new LongLived(pair[0], pair[1]));
            }
            await().atMost(Duration.ofSeconds(20)).until(() -> p12.ok.get() >= 25 && p21.ok.get() >= 25
                    && longLived.stream().allMatch(l -> l.roundTrips.get() > 0));

            X509Certificate next = c.cluster().rotateRoot(Duration.ofSeconds(5));
            String newRoot = CertificateManager.fingerprint(next);
            try {
                // Both roots are trusted by every agent before any certificate is issued under the new one.
                await().atMost(Duration.ofSeconds(60)).until(() -> NODES.stream().allMatch(n -> roots2(n) == 2));
                assertThat(check()).as("tessera check while rotating").anySatisfy(ch -> {
                    assertThat(ch.name()).isEqualTo("root CA");
                    assertThat(ch.status()).isEqualTo(Check.Status.WARN);
                    assertThat(ch.detail()).contains("root rotation under way");
                });
                // Re-issued under the new root, then the old root is dropped (the controller persists it).
                await().atMost(Duration.ofSeconds(120)).pollInterval(Duration.ofMillis(500)).until(() ->
                        !Files.exists(c.cluster().caDir().resolve("rotation"))
                                && NODES.stream().allMatch(n -> roots2(n) == 1));
            } catch (AssertionError | RuntimeException e) {
                for (String n : NODES) {
                    System.err.println("agent log of " + n + ":\n" + c.cluster().logTail(n, 80));
                }
                throw e;
            }
            for (String node : NODES) {
                assertThat(roots(node)).as("certificates of %s after", node).hasSize(2).containsOnly(newRoot);
                assertThat(c.metrics(node).sumWhere("tessera_workload_certificates", "root", newRoot, "signing", "true"))
                        .as("tessera_workload_certificates under the new root on %s", node).isEqualTo(2);
            }
            assertThat(caCrt()).as("ca.crt: the new root only").containsExactly(next);
            var after = check();
            assertThat(after).filteredOn(ch -> ch.name().equals("trust roots") || ch.name().equals("root CA"))
                    .as("tessera check after the rotation").hasSize(3)
                    .allSatisfy(ch -> assertThat(ch.status()).isEqualTo(Check.Status.OK));
            assertThat(after).filteredOn(ch -> ch.name().equals("trust roots")).extracting(Check::detail)
                    .containsOnly("1 root(s) trusted; certificates: 2 under the signing root");

            // Traffic keeps flowing after the old root is gone: new connections, and the long-lived ones.
            int after12 = p12.ok.get();
            int after21 = p21.ok.get();
            var trips = longLived.stream().map(l -> l.roundTrips.get()).toList();
            await().atMost(Duration.ofSeconds(20)).until(() -> p12.ok.get() >= after12 + 25
                    && p21.ok.get() >= after21 + 25);
            await().atMost(Duration.ofSeconds(10)).until(() -> {
                for (int i = 0; i < longLived.size(); i++) {
                    if (longLived.get(i).roundTrips.get() <= trips.get(i)) {
                        return false;
                    }
                }
                return true;
            });
            System.out.printf("root rotation: %d + %d new connections ok (%d + %d failed), long-lived round trips %s%n",
                    p12.ok.get(), p21.ok.get(), p12.failures.size(), p21.failures.size(),
                    longLived.stream().map(l -> l.name + "=" + l.roundTrips.get()).toList());
            assertThat(p12.failures).as("failed new connections node1 -> node2").isEmpty();
            assertThat(p21.failures).as("failed new connections node2 -> node1").isEmpty();
            for (LongLived l : longLived) {
                assertThat(l.failures).as("long-lived %s", l.name).isEmpty();
            }
        } finally {
            for (LongLived l : longLived) {
                l.close();
            }
        }
    }

    /** What {@code tessera check} reports for the cluster. */
    private static List<Check> check() {
        return new ClusterCheck(new Agents(c.cluster(), Duration.ofSeconds(3))).run();
    }

    /** {@code tessera_trust_roots} of a node's agent. */
    private static int roots2(String node) {
        try {
            return (int) c.metrics(node).sum("tessera_trust_roots");
        } catch (IOException e) {
            return -1;
        }
    }
}
