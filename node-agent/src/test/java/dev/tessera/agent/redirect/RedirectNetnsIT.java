package dev.tessera.agent.redirect;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tessera.agent.redirect.BpfRedirector.Attachment;
import dev.tessera.agent.redirect.ffi.Bpf;
import dev.tessera.api.netns.Netns;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.StandardProtocolFamily;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer.OrderAnnotation;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * The capture on the real kernel: programs attached to the cgroup v2 root, real namespaces, real
 * connect() calls. Ordered: the last scenarios take the agent down and uninstall.
 */
@TestMethodOrder(OrderAnnotation.class)
class RedirectNetnsIT {

    static final Path PIN_ROOT = Path.of("/sys/fs/bpf/tessera-test-ebpf");
    static final InetSocketAddress SERVER = new InetSocketAddress("198.18.201.1", 8080);
    static final InetSocketAddress AGENT = new InetSocketAddress("198.18.200.1", 15001);
    static final InetSocketAddress NODE_IP_SERVER = new InetSocketAddress("198.18.200.1", 8081);
    static final InetSocketAddress OUTSIDE_MESH = new InetSocketAddress("198.19.9.1", 8080);
    static final InetSocketAddress POD_LOOPBACK = new InetSocketAddress("127.0.0.1", 8080);
    // Native IPv6 (2001:db8::/32): the mesh CIDR 2001:db8:200::/47 holds SERVER6, EXCLUDED6 and the node.
    static final InetSocketAddress SERVER6 = new InetSocketAddress("2001:db8:201::1", 8080);
    static final InetSocketAddress AGENT6 = new InetSocketAddress("2001:db8:200::1", 15001);
    static final InetSocketAddress NODE_IP6_SERVER = new InetSocketAddress("2001:db8:200::1", 8081);
    static final InetSocketAddress EXCLUDED6 = new InetSocketAddress("2001:db8:201::9", 8080);
    static final InetSocketAddress OUTSIDE_MESH6 = new InetSocketAddress("2001:db8:209::1", 8080);
    static final InetSocketAddress POD_LOOPBACK6 = new InetSocketAddress("::1", 8080);
    static final List<String> MESH_CIDRS = List.of("198.18.0.0/16", "127.0.0.0/8", "169.254.0.0/16",
            "2001:db8:200::/47", "::1/128", "fe80::/10");

    static NetnsFixture net;
    static RedirectSettings settings;
    static BpfRedirector redirector;
    static Acceptor agent;
    static Acceptor server;
    static Acceptor nodeIpServer;
    static Acceptor outsideServer;
    static Acceptor podLoopback;
    static Acceptor agent6;
    static Acceptor server6;
    static Acceptor nodeIp6Server;
    static Acceptor excluded6Server;
    static Acceptor outside6Server;
    static Acceptor podLoopback6;
    static long podCookie;
    static Path pod;
    static Path pod2;

    @BeforeAll
    static void setUp() throws Exception {
        NetnsFixture.requireRoot();
        net = new NetnsFixture();
        Path node = NetnsFixture.path(NetnsFixture.NODE);
        pod = NetnsFixture.path(NetnsFixture.POD);
        pod2 = NetnsFixture.path(NetnsFixture.POD2);
        agent = new Acceptor("agent", node, AGENT);
        server = new Acceptor("server", node, SERVER);
        nodeIpServer = new Acceptor("node-ip", node, NODE_IP_SERVER);
        outsideServer = new Acceptor("outside", node, OUTSIDE_MESH);
        podLoopback = new Acceptor("pod-loopback", pod, POD_LOOPBACK);
        agent6 = new Acceptor("agent6", node, AGENT6);
        server6 = new Acceptor("server6", node, SERVER6);
        nodeIp6Server = new Acceptor("node-ip6", node, NODE_IP6_SERVER);
        excluded6Server = new Acceptor("excluded6", node, EXCLUDED6);
        outside6Server = new Acceptor("outside6", node, OUTSIDE_MESH6);
        podLoopback6 = new Acceptor("pod-loopback6", pod, POD_LOOPBACK6);
        Path pinDir = PIN_ROOT.resolve("redirect-" + ProcessHandle.current().pid());
        settings = new RedirectSettings(pinDir, Cgroups.v2Root(), AGENT.getAddress(), AGENT.getPort(), MESH_CIDRS,
                List.of(InetAddress.getByName("198.18.200.1"), EXCLUDED6.getAddress()),
                RedirectSettings.DEFAULT_MAX_PODS, AGENT6.getAddress());
        redirector = BpfRedirector.install(settings);
        podCookie = Netns.cookie(pod);
        redirector.enroll(podCookie);
    }

    @AfterAll
    static void tearDown() throws Exception {
        try {
            if (redirector != null) {
                redirector.close();
            }
            if (Files.isDirectory(PIN_ROOT)) { // this run's pins and any left by an aborted one
                try (var dirs = Files.list(PIN_ROOT)) {
                    dirs.forEach(BpfRedirector::uninstall);
                }
                Files.delete(PIN_ROOT);
            }
        } finally {
            for (Acceptor a : new Acceptor[] {agent, server, nodeIpServer, outsideServer, podLoopback, agent6, server6,
                    nodeIp6Server, excluded6Server, outside6Server, podLoopback6}) {
                if (a != null) {
                    a.close();
                }
            }
            if (net != null) {
                net.close();
            }
        }
    }

    static RawTcp.Result connectFrom(Path netns, int family, InetSocketAddress dst) throws IOException {
        return Netns.call(netns, () -> RawTcp.connect(family, dst));
    }

    /** Connects from the pod and checks the connection reached the agent with the right record. */
    static void assertRedirected(BpfRedirector r, int family) throws Exception {
        assertRedirected(r, family, SERVER);
    }

    /** Like {@link #assertRedirected(BpfRedirector, int)} to {@code dst} (nothing listens there: only the agent answers). */
    static void assertRedirected(BpfRedirector r, int family, InetSocketAddress dst) throws Exception {
        String what = (family == RawTcp.AF_INET ? "AF_INET" : "AF_INET6") + " connect to " + dst;
        RawTcp.Result c = connectFrom(pod, family, dst);
        assertThat(c.errno()).as("%s: connect errno", what).isZero();
        assertThat(c.peer()).as("%s: getpeername shows the original destination", what).isEqualTo(dst);
        boolean native6 = dst.getAddress() instanceof java.net.Inet6Address;
        if (native6) {
            assertThat(c.local().getAddress()).as("%s: leaves from the pod's IPv6 address", what)
                    .isEqualTo(InetAddress.getByName("2001:db8:200::2"));
        }
        InetSocketAddress client = (native6 ? agent6 : agent).awaitFrom(c.local());
        assertThat(r.take(client)).as("%s: original destination recorded for the agent", what).contains(dst);
        assertThat(r.take(client)).as("take removes the record").isEmpty();
    }

    @Test
    @Order(1)
    void enrolledPodIsRedirectedOnAfInetSockets() throws Exception {
        long before = redirector.stats().redirected();
        assertRedirected(redirector, RawTcp.AF_INET);
        assertThat(redirector.stats().redirected()).isEqualTo(before + 1);
        assertThat(redirector.enrolled()).contains(podCookie);
    }

    @Test
    @Order(2)
    void enrolledPodIsRedirectedOnDualStackSockets() throws Exception {
        assertRedirected(redirector, RawTcp.AF_INET6);
        // The JDK's own default socket (AF_INET6, IPv4-mapped) is captured too.
        InetSocketAddress local = Netns.call(pod, () -> {
            try (Socket s = new Socket()) {
                s.connect(SERVER, 5000);
                return (InetSocketAddress) s.getLocalSocketAddress();
            }
        });
        assertThat(redirector.take(agent.awaitFrom(local))).contains(SERVER);
    }

    /**
     * Capture must not depend on the destination port or the socket family: AF_INET sockets (curl, C, Python,
     * Go on IPv4) go through connect4, dual-stack AF_INET6 ones (the JDK's) through connect6. Nothing
     * listens on these ports at the destination, so a connect that escaped capture fails.
     */
    @Test
    @Order(2)
    void everyPortIsRedirectedOnBothFamilies() throws Exception {
        long before = redirector.stats().redirected();
        int[] ports = {7000, 80, 443, 5432, 6379, 8443, 1, 65535};
        for (int port : ports) {
            for (int family : new int[] {RawTcp.AF_INET, RawTcp.AF_INET6}) {
                assertRedirected(redirector, family, new InetSocketAddress(SERVER.getAddress(), port));
            }
        }
        assertThat(redirector.stats().redirected()).isEqualTo(before + 2L * ports.length);
    }

    @Test
    @Order(3)
    void podThatIsNotEnrolledConnectsDirectly() throws Exception {
        RawTcp.Result c = connectFrom(pod2, RawTcp.AF_INET, SERVER);
        assertThat(c.errno()).isZero();
        assertThat(server.awaitFrom(c.local())).isEqualTo(c.local());
        assertThat(redirector.take(c.local())).isEmpty();
    }

    @Test
    @Order(4)
    void loopbackNodeAddressesAndDestinationsOutsideTheMeshGoDirect() throws Exception {
        long before = redirector.stats().redirected();
        Map<InetSocketAddress, Acceptor> direct = Map.of(
                OUTSIDE_MESH, outsideServer, NODE_IP_SERVER, nodeIpServer, POD_LOOPBACK, podLoopback);
        for (var e : direct.entrySet()) {
            for (int family : new int[] {RawTcp.AF_INET, RawTcp.AF_INET6}) {
                RawTcp.Result c = connectFrom(pod, family, e.getKey());
                assertThat(c.errno()).as("connect to " + e.getKey()).isZero();
                assertThat(c.peer()).isEqualTo(e.getKey());
                e.getValue().awaitFrom(c.local());
            }
        }
        assertThat(redirector.stats().redirected()).isEqualTo(before);
    }

    /**
     * Link-local (cloud metadata, node-local DNS) is never captured, even inside the mesh CIDRs: dialled by
     * the agent it would leave with the node's credentials. The pod has no route there, so an uncaptured
     * connect fails at once (a captured one would reach the agent).
     */
    @Test
    @Order(4)
    void linkLocalIsNeverCaptured() throws Exception {
        long before = redirector.stats().redirected();
        for (int family : new int[] {RawTcp.AF_INET, RawTcp.AF_INET6}) {
            RawTcp.Result c = connectFrom(pod, family, new InetSocketAddress("169.254.169.254", 80));
            assertThat(c.errno()).as("connect to 169.254.169.254 went to the pod's own routing").isNotZero();
        }
        assertThat(redirector.stats().redirected()).isEqualTo(before);
    }

    /**
     * Once the agent wrote its set of meshed destinations, only those are captured: a connection to anything
     * else in the mesh CIDRs (a non-meshed pod, the controller) leaves from the pod with the pod's address.
     */
    @Test
    @Order(5)
    void onlyMeshedDestinationsAreCapturedOnceTheSetIsWritten() throws Exception {
        InetSocketAddress meshed = new InetSocketAddress("198.18.201.2", 80); // nothing listens: only the agent
        var node = new dev.tessera.api.model.NodeInfo("n1", InetAddress.getByName("198.18.200.1"), "198.18.201.0/24");
        InetSocketAddress meshed6 = new InetSocketAddress("2001:db8:201::2", 80);
        var snapshot = new dev.tessera.api.model.MeshSnapshot(1, List.of(node), List.of(
                meshedWorkload("p1", meshed.getAddress(), "n1"), meshedWorkload("p6", meshed6.getAddress(), "n1")));
        try {
            assertThat(redirector.syncDestinations(snapshot)).isTrue();
            assertThat(redirector.destinations().complete()).isTrue();
            assertThat(redirector.occupancy()).containsEntry("mesh_dsts", 1);
            long before = redirector.stats().redirected();
            for (int family : new int[] {RawTcp.AF_INET, RawTcp.AF_INET6}) {
                assertRedirected(redirector, family, meshed);
                RawTcp.Result c = connectFrom(pod, family, SERVER); // in the CIDRs, not a meshed destination
                assertThat(c.errno()).isZero();
                assertThat(server.awaitFrom(c.local())).as("arrives from the pod's own address")
                        .isEqualTo(c.local());
                assertThat(c.local().getAddress()).isEqualTo(InetAddress.getByName("198.18.200.2"));
            }
            assertThat(redirector.stats().redirected()).isEqualTo(before + 2);
            // IPv6: the same set decides (key 0 marks both families complete).
            assertRedirected(redirector, RawTcp.AF_INET6, meshed6);
            RawTcp.Result c6 = connectFrom(pod, RawTcp.AF_INET6, SERVER6); // in the IPv6 CIDRs, not meshed
            assertThat(c6.errno()).isZero();
            assertThat(server6.awaitFrom(c6.local())).as("arrives from the pod's own IPv6 address").isEqualTo(c6.local());
            assertThat(c6.local().getAddress()).isEqualTo(InetAddress.getByName("2001:db8:200::2"));
            assertThat(redirector.stats().redirected()).isEqualTo(before + 3);
            assertThat(redirector.occupancy()).containsEntry("mesh_dsts6", 1);
            // A re-adopting agent reads the set back (it survives restarts with the pins).
            try (var map = redirectorMap(); var map6 = redirectorMap6()) {
                var readopted = new MeshDestinations(map, map6, MeshDestinations.CAPACITY);
                assertThat(readopted.size()).isEqualTo(1);
                assertThat(readopted.size6()).isEqualTo(1);
                assertThat(readopted.complete()).isTrue();
            }
        } finally {
            // SERVER becomes a meshed destination again for the tests that follow.
            var withServer = new dev.tessera.api.model.MeshSnapshot(2, List.of(node), List.of(
                    meshedWorkload("p1", meshed.getAddress(), "n1"),
                    meshedWorkload("server", SERVER.getAddress(), "n1"),
                    meshedWorkload("server6", SERVER6.getAddress(), "n1")));
            assertThat(redirector.syncDestinations(withServer)).isTrue();
        }
        assertRedirected(redirector, RawTcp.AF_INET);
        assertThat(redirector.occupancy()).containsEntry("mesh_dsts", 2);
    }

    private static dev.tessera.api.model.Workload meshedWorkload(String name, InetAddress ip, String node) {
        var id = new dev.tessera.api.identity.SpiffeId("cluster.local", "default", "default");
        return new dev.tessera.api.model.Workload("default", name, node, ip, "default", Map.of(), true, id);
    }

    private static dev.tessera.agent.redirect.ffi.BpfMap redirectorMap() {
        return dev.tessera.agent.redirect.ffi.BpfMap.openPinned(Pins.MESH_DSTS,
                new Pins(settings.pinDir()).map(Pins.MESH_DSTS).toString(), 4, 4);
    }

    private static dev.tessera.agent.redirect.ffi.BpfMap redirectorMap6() {
        return dev.tessera.agent.redirect.ffi.BpfMap.openPinned(Pins.MESH_DSTS6,
                new Pins(settings.pinDir()).map(Pins.MESH_DSTS6).toString(), 16, 4);
    }

    @Test
    @Order(5)
    void unenrollReturnsTrafficToDirect() throws Exception {
        redirector.unenroll(podCookie);
        redirector.unenroll(podCookie); // idempotent
        try {
            assertThat(redirector.enrolled()).doesNotContain(podCookie);
            RawTcp.Result c = connectFrom(pod, RawTcp.AF_INET, SERVER);
            assertThat(c.errno()).isZero();
            server.awaitFrom(c.local());
        } finally {
            redirector.enroll(podCookie);
        }
        assertRedirected(redirector, RawTcp.AF_INET);
    }

    @Test
    @Order(6)
    void hundredsOfSequentialAndConcurrentConnectionsNeverMiss() throws Exception {
        int threads = 4;
        int perThread = 60;
        ExecutorService pool = Executors.newFixedThreadPool(threads, task -> {
            Thread t = new Thread(() -> {
                try {
                    Netns.enter(pod);
                } catch (IOException e) {
                    throw new IllegalStateException(e);
                }
                task.run();
            });
            t.setDaemon(true);
            return t;
        });
        var statsBefore = redirector.stats();
        try {
            List<Future<List<InetSocketAddress>>> futures = new ArrayList<>();
            for (int i = 0; i < threads; i++) {
                boolean inet4 = i % 2 == 0; // half connect4, half connect6
                futures.add(pool.submit(() -> {
                    List<InetSocketAddress> locals = new ArrayList<>();
                    for (int n = 0; n < perThread; n++) {
                        try (SocketChannel ch = inet4 ? SocketChannel.open(StandardProtocolFamily.INET)
                                : SocketChannel.open()) {
                            ch.connect(SERVER);
                            locals.add((InetSocketAddress) ch.getLocalAddress());
                        }
                    }
                    return locals;
                }));
            }
            Map<InetSocketAddress, Boolean> expected = new HashMap<>();
            for (var f : futures) {
                f.get().forEach(l -> expected.put(l, true));
            }
            assertThat(expected).hasSize(threads * perThread);
            int misses = 0;
            for (int i = 0; i < threads * perThread; i++) {
                InetSocketAddress client = agent.next();
                assertThat(expected).containsKey(client);
                if (!redirector.take(client).equals(java.util.Optional.of(SERVER))) {
                    misses++;
                }
            }
            assertThat(misses).isZero();
        } finally {
            pool.shutdownNow();
        }
        var after = redirector.stats();
        assertThat(after.redirected() - statsBefore.redirected()).isEqualTo(threads * perThread);
        assertThat(after.recorded() - statsBefore.recorded()).isEqualTo(threads * perThread);
        assertThat(after.misses()).isEqualTo(statsBefore.misses());
    }

    // ------------------------------------------------------------------ native IPv6

    /**
     * A native IPv6 connect (AF_INET6, 2001:db8:...) from an enrolled pod to an IPv6 mesh destination goes to
     * the agent's IPv6 listener; sockops records it by the client's IPv6 (ip, port) and getpeername shows the
     * original destination.
     */
    @Test
    @Order(2)
    void nativeIpv6ConnectsAreRedirectedToTheAgentsIpv6Listener() throws Exception {
        long before = redirector.stats().redirected();
        var kernelBefore = redirector.kernelCounters();
        int[] ports = {8080, 80, 443, 1, 65535};
        for (int port : ports) {
            assertRedirected(redirector, RawTcp.AF_INET6, new InetSocketAddress(SERVER6.getAddress(), port));
        }
        // The JDK's own socket too.
        InetSocketAddress local = Netns.call(pod, () -> {
            try (Socket s = new Socket()) {
                s.connect(SERVER6, 5000);
                return (InetSocketAddress) s.getLocalSocketAddress();
            }
        });
        assertThat(redirector.take(agent6.awaitFrom(local))).contains(SERVER6);
        // And a C program of its own (socat) in the pod's namespace.
        Process p = new ProcessBuilder("nsenter", "--net=" + pod, "socat", "-u", "OPEN:/dev/null",
                "TCP6:[" + SERVER6.getAddress().getHostAddress() + "]:" + SERVER6.getPort())
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        assertThat(p.waitFor(10, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as("socat: %s", out).isZero();
        InetSocketAddress socat = agent6.next();
        assertThat(socat.getAddress()).isEqualTo(InetAddress.getByName("2001:db8:200::2"));
        assertThat(redirector.take(socat)).contains(SERVER6);
        int n = ports.length + 2;
        assertThat(redirector.stats().redirected()).as("IPv6 redirects count in the total").isEqualTo(before + n);
        var kernel = redirector.kernelCounters();
        assertThat(kernel.get("redirected_ipv6") - kernelBefore.get("redirected_ipv6")).isEqualTo(n);
        assertThat(kernel.get("recorded_ipv6") - kernelBefore.get("recorded_ipv6")).isEqualTo(n);
        assertThat(redirector.occupancy()).containsEntry("client_dst6", 0).containsKey("mesh_dsts6");
    }

    /**
     * Never captured, even inside the IPv6 mesh CIDRs (which hold ::1/128 and fe80::/10 here): outside them,
     * the node's own (excluded) address, the agent's address on another port, ::1 and :: (the pod's own
     * loopback), link-local. Nothing was redirected meanwhile.
     */
    @Test
    @Order(4)
    void nativeIpv6OutsideTheMeshLoopbackLinkLocalAndNodeAddressesGoDirect() throws Exception {
        long before = redirector.stats().redirected();
        Map<InetSocketAddress, Acceptor> direct = Map.of(OUTSIDE_MESH6, outside6Server, EXCLUDED6, excluded6Server,
                NODE_IP6_SERVER, nodeIp6Server, POD_LOOPBACK6, podLoopback6);
        for (var e : direct.entrySet()) {
            RawTcp.Result c = connectFrom(pod, RawTcp.AF_INET6, e.getKey());
            assertThat(c.errno()).as("connect to " + e.getKey()).isZero();
            assertThat(c.peer()).isEqualTo(e.getKey());
            e.getValue().awaitFrom(c.local());
        }
        RawTcp.Result any = connectFrom(pod, RawTcp.AF_INET6, new InetSocketAddress("::", 8080));
        assertThat(any.errno()).as("connect to [::]:8080 is the pod's own loopback").isZero();
        podLoopback6.awaitFrom(any.local());
        // fe80::1 without a scope: captured, it would be rewritten to the agent and succeed; left alone, the
        // kernel refuses the unscoped link-local address itself (EINVAL).
        RawTcp.Result linkLocal = connectFrom(pod, RawTcp.AF_INET6, new InetSocketAddress("fe80::1", 80));
        assertThat(linkLocal.errno()).as("connect to fe80::1 went to the pod's own stack").isNotZero();
        assertThat(redirector.stats().redirected()).isEqualTo(before);
        assertThat(agent6.isEmpty()).as("nothing reached the agent's IPv6 listener").isTrue();
    }

    /** A pod that is not enrolled reaches IPv6 mesh destinations directly. */
    @Test
    @Order(3)
    void podThatIsNotEnrolledConnectsDirectlyOverIpv6() throws Exception {
        RawTcp.Result c = connectFrom(pod2, RawTcp.AF_INET6, SERVER6);
        assertThat(c.errno()).isZero();
        assertThat(server6.awaitFrom(c.local())).isEqualTo(c.local());
        assertThat(redirector.take(c.local())).isEmpty();
    }

    /**
     * The kubelet's probe mark (tsr_probe) covers the IPv6 mesh CIDRs: a connect from the marked cgroup to an
     * IPv6 mesh address is marked and counted, one outside them is not; nothing is redirected. The marked cgroup
     * is a child cgroup this test creates, holding only the client it starts (socat, from the node's namespace,
     * which is not enrolled): marking this JVM's own cgroup could mark every process of the machine.
     */
    @Test
    @Order(4)
    void theProbeMarkCoversIpv6MeshCidrs() throws Exception {
        Path cgroup = Cgroups.v2Root().resolve("tessera-test-probe-" + ProcessHandle.current().pid());
        Files.createDirectory(cgroup);
        long redirected = redirector.stats().redirected();
        try {
            redirector.markProbes(Cgroups.id(cgroup), 0x4000);
            long marked = redirector.kernelCounters().get("probe_marked");
            connectInCgroup(cgroup, SERVER6);
            server6.next();
            assertThat(redirector.kernelCounters().get("probe_marked")).as("IPv6 mesh CIDR: marked")
                    .isEqualTo(marked + 1);
            connectInCgroup(cgroup, OUTSIDE_MESH6);
            outside6Server.next();
            assertThat(redirector.kernelCounters().get("probe_marked")).as("outside: not marked")
                    .isEqualTo(marked + 1);
            connectInCgroup(cgroup, SERVER);
            server.next();
            assertThat(redirector.kernelCounters().get("probe_marked")).as("IPv4 as before").isEqualTo(marked + 2);
        } finally {
            redirector.markProbes(0, 0);
            Files.delete(cgroup); // empty again: its only process has exited
        }
        assertThat(redirector.stats().redirected()).isEqualTo(redirected);
    }

    /** socat (a C client) connects to {@code dst} from the node's namespace, as the only process of {@code cgroup}. */
    private static void connectInCgroup(Path cgroup, InetSocketAddress dst) throws Exception {
        String target = dst.getAddress() instanceof java.net.Inet6Address
                ? "TCP6:[" + dst.getAddress().getHostAddress() + "]:" + dst.getPort()
                : "TCP4:" + dst.getAddress().getHostAddress() + ":" + dst.getPort();
        Process p = new ProcessBuilder("sh", "-c", "echo $$ > " + cgroup.resolve("cgroup.procs") + " && exec nsenter --net="
                + NetnsFixture.path(NetnsFixture.NODE) + " socat -u OPEN:/dev/null " + target)
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        assertThat(p.waitFor(10, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as("socat to %s: %s", target, out).isZero();
    }

    /** Many sequential and concurrent native IPv6 connects: every one recorded, no miss. */
    @Test
    @Order(6)
    void manyConcurrentNativeIpv6ConnectionsNeverMiss() throws Exception {
        int threads = 2;
        int perThread = 60;
        ExecutorService pool = Executors.newFixedThreadPool(threads, task -> {
            Thread t = new Thread(() -> {
                try {
                    Netns.enter(pod);
                } catch (IOException e) {
                    throw new IllegalStateException(e);
                }
                task.run();
            });
            t.setDaemon(true);
            return t;
        });
        var statsBefore = redirector.stats();
        try {
            List<Future<List<InetSocketAddress>>> futures = new ArrayList<>();
            for (int i = 0; i < threads; i++) {
                futures.add(pool.submit(() -> {
                    List<InetSocketAddress> locals = new ArrayList<>();
                    for (int n = 0; n < perThread; n++) {
                        try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.INET6)) {
                            ch.connect(SERVER6);
                            locals.add((InetSocketAddress) ch.getLocalAddress());
                        }
                    }
                    return locals;
                }));
            }
            Map<InetSocketAddress, Boolean> expected = new HashMap<>();
            for (var f : futures) {
                f.get().forEach(l -> expected.put(l, true));
            }
            assertThat(expected).hasSize(threads * perThread);
            int misses = 0;
            for (int i = 0; i < threads * perThread; i++) {
                InetSocketAddress client = agent6.next();
                assertThat(expected).containsKey(client);
                if (!redirector.take(client).equals(java.util.Optional.of(SERVER6))) {
                    misses++;
                }
            }
            assertThat(misses).isZero();
        } finally {
            pool.shutdownNow();
        }
        var after = redirector.stats();
        assertThat(after.recorded() - statsBefore.recorded()).isEqualTo(threads * perThread);
        assertThat(after.misses()).isEqualTo(statsBefore.misses());
    }

    /**
     * Without an IPv6 listener (no --node-ip6) an enrolled pod's connect to an IPv6 mesh destination is refused
     * (fail closed, counted as no_config); its other IPv6 connects and its IPv4 capture are untouched.
     */
    @Test
    @Order(11)
    void withoutAnIpv6ListenerIpv6MeshDestinationsAreRefusedAndNothingElseChanges() throws Exception {
        Path pinDir = PIN_ROOT.resolve("no-v6-listener-" + ProcessHandle.current().pid());
        BpfRedirector r = BpfRedirector.install(new RedirectSettings(pinDir, Cgroups.v2Root(), AGENT.getAddress(),
                AGENT.getPort(), MESH_CIDRS, List.of(InetAddress.getByName("198.18.200.1"))));
        try {
            r.enroll(podCookie);
            long noConfig = r.kernelCounters().get("no_config");
            RawTcp.Result refused = connectFrom(pod, RawTcp.AF_INET6, SERVER6);
            assertThat(refused.errno()).as("EPERM: refused, never direct").isEqualTo(1);
            assertThat(r.kernelCounters().get("no_config")).isEqualTo(noConfig + 1);
            RawTcp.Result outside = connectFrom(pod, RawTcp.AF_INET6, OUTSIDE_MESH6);
            assertThat(outside.errno()).isZero();
            outside6Server.awaitFrom(outside.local());
            assertRedirected(r, RawTcp.AF_INET);
            assertRedirected(r, RawTcp.AF_INET6);
        } finally {
            r.uninstall();
        }
    }

    /**
     * An upgrade from an agent without IPv6 capture: its pins have no IPv6 maps (simulated by unlinking them).
     * The new install creates and pins them and switches the pinned links; IPv4 capture never stops. Until the
     * first state sync the IPv6 set is empty while key 0 (written by the old agent) says "complete", so native
     * IPv6 goes direct, as it did under the old agent; after the sync it is captured.
     */
    @Test
    @Order(7)
    void anInstallWithoutTheIpv6MapsIsUpgradedInPlace() throws Exception {
        Pins pins = new Pins(settings.pinDir());
        redirector.close();
        for (String map : List.of(Pins.MESH_CIDRS6, Pins.EXCLUDED6, Pins.MESH_DSTS6, Pins.CONFIG6, Pins.ORIG_DST6,
                Pins.CLIENT_DST6)) {
            Files.delete(pins.map(map));
        }
        RawTcp.Result meanwhile = connectFrom(pod, RawTcp.AF_INET, SERVER);
        assertThat(meanwhile.errno()).isZero();
        agent.awaitFrom(meanwhile.local()); // the old programs, still attached, keep capturing
        redirector = BpfRedirector.install(settings);
        for (String map : Pins.MAPS) {
            assertThat(pins.map(map)).as("pinned again").exists();
        }
        assertRedirected(redirector, RawTcp.AF_INET);
        assertRedirected(redirector, RawTcp.AF_INET6);
        RawTcp.Result before = connectFrom(pod, RawTcp.AF_INET6, SERVER6);
        assertThat(before.errno()).isZero();
        assertThat(server6.awaitFrom(before.local())).as("before the first sync: direct, as under the old agent")
                .isEqualTo(before.local());
        var node = new dev.tessera.api.model.NodeInfo("n1", InetAddress.getByName("198.18.200.1"), "198.18.201.0/24");
        assertThat(redirector.syncDestinations(new dev.tessera.api.model.MeshSnapshot(3, List.of(node), List.of(
                meshedWorkload("server", SERVER.getAddress(), "n1"),
                meshedWorkload("server6", SERVER6.getAddress(), "n1"))))).isTrue();
        assertRedirected(redirector, RawTcp.AF_INET6, SERVER6);
    }

    @Test
    @Order(7)
    void reinstallReadoptsThePinnedLinksInsteadOfAttachingAgain() throws Exception {
        List<Attachment> before = redirector.attachments();
        assertThat(before).hasSize(5).allMatch(Attachment::effective);
        redirector.close();
        redirector = BpfRedirector.install(settings);

        List<Attachment> after = redirector.attachments();
        assertThat(after).allMatch(Attachment::effective);
        assertThat(after).extracting(a -> a.link().linkId())
                .containsExactlyElementsOf(before.stream().map(a -> a.link().linkId()).toList());
        int cgroupFd = Bpf.get().openDirectory(settings.cgroupDir().toString());
        try {
            for (int i = 0; i < before.size(); i++) {
                int attachType = before.get(i).link().attachType();
                List<Integer> attached = Bpf.get().attachedPrograms(cgroupFd, attachType);
                assertThat(attached).as("old program of " + before.get(i).program() + " was replaced, not doubled")
                        .doesNotContain(before.get(i).link().programId());
                int current = after.get(i).link().programId();
                assertThat(attached.stream().filter(id -> id == current)).hasSize(1);
            }
        } finally {
            Bpf.get().close(cgroupFd);
        }
        assertThat(redirector.enrolled()).contains(podCookie);
        assertThat(BpfRedirector.isInstalled(settings.pinDir())).isTrue();
        assertRedirected(redirector, RawTcp.AF_INET);
        assertRedirected(redirector, RawTcp.AF_INET6);
        assertRedirected(redirector, RawTcp.AF_INET6, SERVER6);
    }

    @Test
    @Order(8)
    void withTheAgentDownEnrolledPodsFailClosed() throws Exception {
        redirector.close(); // the agent process is gone: its file descriptors are closed
        agent.close(); // and nothing listens on 15001
        agent6.close();
        for (int family : new int[] {RawTcp.AF_INET, RawTcp.AF_INET6}) {
            RawTcp.Result c = connectFrom(pod, family, SERVER);
            assertThat(c.errno()).as("connect errno (ECONNREFUSED, never a direct connection); family %s: %s",
                    family, c).isEqualTo(RawTcp.ECONNREFUSED);
        }
        RawTcp.Result c6 = connectFrom(pod, RawTcp.AF_INET6, SERVER6);
        assertThat(c6.errno()).as("native IPv6 too: ECONNREFUSED, never direct").isEqualTo(RawTcp.ECONNREFUSED);
        RawTcp.Result other = connectFrom(pod2, RawTcp.AF_INET, SERVER);
        assertThat(other.errno()).as("a pod that is not meshed is unaffected").isZero();
        server.awaitFrom(other.local());
        redirector = BpfRedirector.install(settings); // the agent comes back
        agent = new Acceptor("agent", NetnsFixture.path(NetnsFixture.NODE), AGENT);
        agent6 = new Acceptor("agent6", NetnsFixture.path(NetnsFixture.NODE), AGENT6);
        assertRedirected(redirector, RawTcp.AF_INET);
        assertRedirected(redirector, RawTcp.AF_INET6, SERVER6);
    }

    @Test
    @Order(9)
    void uninstallDetachesAndRemovesEveryPin() throws Exception {
        List<Attachment> attachments = redirector.attachments();
        redirector.uninstall();
        assertThat(settings.pinDir()).doesNotExist();
        assertThat(BpfRedirector.isInstalled(settings.pinDir())).isFalse();
        int cgroupFd = Bpf.get().openDirectory(settings.cgroupDir().toString());
        try {
            for (Attachment a : attachments) {
                assertThat(Bpf.get().attachedPrograms(cgroupFd, a.link().attachType()))
                        .doesNotContain(a.link().programId());
            }
        } finally {
            Bpf.get().close(cgroupFd);
        }
        RawTcp.Result c = connectFrom(pod, RawTcp.AF_INET, SERVER);
        assertThat(c.errno()).isZero();
        assertThat(c.peer()).isEqualTo(SERVER);
        server.awaitFrom(c.local());
    }

    /** --max-pods sizes tsr_enrolled; a pinned map keeps its size (libbpf could not reuse it otherwise). */
    @Test
    @Order(10)
    void maxPodsSizesTheEnrolledMapAndAPinnedMapKeepsItsSize() throws Exception {
        Path pinDir = PIN_ROOT.resolve("sized-" + ProcessHandle.current().pid());
        var small = new RedirectSettings(pinDir, Cgroups.v2Root(), AGENT.getAddress(), AGENT.getPort(),
                List.of("198.18.0.0/16"), List.of(), 8);
        String enrolledPin = new Pins(pinDir).map(Pins.ENROLLED).toString();
        BpfRedirector r = BpfRedirector.install(small);
        try {
            assertThat(Bpf.get().pinnedMapMaxEntries(enrolledPin)).isEqualTo(8);
            r.close();
            r = BpfRedirector.install(new RedirectSettings(pinDir, Cgroups.v2Root(), AGENT.getAddress(),
                    AGENT.getPort(), List.of("198.18.0.0/16"), List.of(), 64));
            assertThat(Bpf.get().pinnedMapMaxEntries(enrolledPin)).as("re-adopted, not recreated").isEqualTo(8);
        } finally {
            r.uninstall();
        }
        r = BpfRedirector.install(new RedirectSettings(pinDir, Cgroups.v2Root(), AGENT.getAddress(), AGENT.getPort(),
                List.of("198.18.0.0/16"), List.of(), 64));
        try {
            assertThat(Bpf.get().pinnedMapMaxEntries(enrolledPin)).as("after an uninstall").isEqualTo(64);
        } finally {
            r.uninstall();
        }
    }
}
