package dev.tessera.agent.redirect;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tessera.api.net.Ipv4Cidr;
import dev.tessera.api.netns.Netns;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer.OrderAnnotation;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * The plaintext rules of {@code peerauth.bpf.c} on the real kernel: the program attached to the cgroup v2
 * root, real namespaces, real SYNs. Namespaces (prefix {@code tsQ-}, 198.18.0.0/15 only):
 * <pre>
 *   tsQ-pod  198.18.212.2 --veth-- 198.18.212.1 (node IP)  tsQ-node  198.18.213.1 --veth-- 198.18.213.2 tsQ-cli
 *                                                                    198.18.214.1 --veth-- 198.18.214.2 tsQ-cli2
 * </pre>
 * Ordered: the last scenarios close the program (agent down) and uninstall it.
 */
@TestMethodOrder(OrderAnnotation.class)
class PeerAuthPlaintextNetnsIT {

    static final Path PIN_ROOT = Path.of("/sys/fs/bpf/tessera-test-plain");
    static final List<String> NAMESPACES = List.of("tsQ-pod", "tsQ-cli", "tsQ-cli2", "tsQ-node");
    static final String POD_IP = "198.18.212.2";
    static final String NODE_IP = "198.18.212.1";
    static final String CLIENT = "198.18.213.2";
    static final InetSocketAddress P7000 = new InetSocketAddress(POD_IP, 7000);
    static final InetSocketAddress P7001 = new InetSocketAddress(POD_IP, 7001);

    static Path pinDir;
    static PeerAuthProgram program;
    static Acceptor s7000;
    static Acceptor s7001;

    @BeforeAll
    static void setUp() throws Exception {
        NetnsFixture.requireRoot();
        deleteNamespaces(); // leftovers of an aborted run
        for (String ns : NAMESPACES) {
            ip("netns", "add", ns);
            ip("-n", ns, "link", "set", "lo", "up");
        }
        link("tsQ-pod", "198.18.212", "tsQ-n0", "tsQ-p0");
        link("tsQ-cli", "198.18.213", "tsQ-n1", "tsQ-c1");
        link("tsQ-cli2", "198.18.214", "tsQ-n2", "tsQ-c2");
        ip("netns", "exec", "tsQ-node", "sysctl", "-q", "-w", "net.ipv4.ip_forward=1");
        s7000 = new Acceptor("pod:7000", ns("tsQ-pod"), P7000);
        s7001 = new Acceptor("pod:7001", ns("tsQ-pod"), P7001);
        pinDir = PIN_ROOT.resolve("agent-" + ProcessHandle.current().pid());
        program = PeerAuthProgram.install(pinDir, Cgroups.v2Root(), InetAddress.getByName(NODE_IP));
    }

    @AfterAll
    static void tearDown() throws Exception {
        try {
            if (program != null) {
                program.close();
            }
            if (Files.isDirectory(PIN_ROOT)) { // this run's pins and any left by an aborted one
                try (var dirs = Files.list(PIN_ROOT)) {
                    for (Path dir : dirs.toList()) {
                        PeerAuthProgram.uninstall(dir);
                        Files.deleteIfExists(dir);
                    }
                }
                Files.deleteIfExists(PIN_ROOT);
            }
        } finally {
            for (Acceptor a : new Acceptor[] {s7000, s7001}) {
                if (a != null) {
                    a.close();
                }
            }
            deleteNamespaces();
        }
    }

    @Test
    @Order(1)
    void withoutRulesAPermissivePodTakesPlaintextAndCountsIt() throws Exception {
        program.sync(Map.of(pod(), new PeerAuthProgram.Pod("shop/api", false, null)));
        long before = program.counters().get(pod()).plaintext();
        assertThat(connect("tsQ-cli", P7000)).isEqualTo("connected");
        assertThat(connect("tsQ-cli2", P7001)).isEqualTo("connected");
        assertThat(program.counters().get(pod()).plaintext()).isEqualTo(before + 2);
    }

    @Test
    @Order(2)
    void rulesDecideBySourceNetworkAndPortAndTheOtherPortsEntry() throws Exception {
        program.sync(Map.of(pod(), new PeerAuthProgram.Pod("shop/api", false, List.of(
                rule(7000, CLIENT + "/32", true),
                rule(7000, "198.18.0.0/15", false),
                rule(7000, "0.0.0.0/0", false),
                rule(0, "198.18.214.0/24", true),
                rule(0, "198.18.0.0/15", false),
                rule(0, "0.0.0.0/0", false)))));
        long dropped = program.counters().get(pod()).dropped();
        assertThat(connect("tsQ-cli", P7000)).as("allowed /32 on a named port").isEqualTo("connected");
        assertThat(connect("tsQ-cli2", P7000)).as("denied by the named port's shorter match").isEqualTo("timeout");
        assertThat(connect("tsQ-cli", P7001)).as("port 7001 is no named port: port 0's entries").isEqualTo("timeout");
        assertThat(connect("tsQ-cli2", P7001)).as("allowed /24 on any other port").isEqualTo("connected");
        assertThat(program.counters().get(pod()).dropped()).isGreaterThanOrEqualTo(dropped + 2); // SYN retransmits count too
        Map<PeerAuthProgram.RuleKey, Long> hits = program.ruleHits();
        assertThat(hits).hasSize(6);
        assertThat(hits.get(key(7000, CLIENT + "/32"))).isEqualTo(1);
        assertThat(hits.get(key(0, "198.18.214.0/24"))).isEqualTo(1);
        assertThat(hits.get(key(7000, "198.18.0.0/15"))).isPositive();
        assertThat(hits.get(key(0, "198.18.0.0/15"))).isPositive();
        assertThat(hits.get(key(0, "0.0.0.0/0"))).isZero();
    }

    /** Every plaintext decision is one queued event per SYN (a denied client's retransmissions add more). */
    @Test
    @Order(3)
    void eachDecidedPlaintextSynIsOneEventWithItsFourTupleAndVerdict() throws Exception {
        program.sync(Map.of(pod(), new PeerAuthProgram.Pod("shop/api", false, List.of(
                rule(7000, CLIENT + "/32", true), rule(7000, "0.0.0.0/0", false), rule(0, "0.0.0.0/0", false)))));
        program.drainPlainEvents(Integer.MAX_VALUE); // earlier scenarios' events
        assertThat(connect("tsQ-cli", P7000)).isEqualTo("connected");
        List<PeerAuthProgram.PlainEvent> allowed = program.drainPlainEvents(100);
        assertThat(allowed).hasSize(1);
        assertThat(allowed.get(0).source().getAddress()).isEqualTo(InetAddress.getByName(CLIENT));
        assertThat(allowed.get(0).source().getPort()).isPositive();
        assertThat(allowed.get(0).pod()).isEqualTo(P7000);
        assertThat(allowed.get(0).verdict()).isEqualTo(PeerAuthProgram.PlainVerdict.ALLOWED);

        assertThat(connect("tsQ-cli2", P7000, 500)).isEqualTo("timeout"); // before the first retransmission (1 s)
        List<PeerAuthProgram.PlainEvent> denied = program.drainPlainEvents(100);
        assertThat(denied).hasSize(1);
        assertThat(denied.get(0).source().getAddress()).isEqualTo(InetAddress.getByName("198.18.214.2"));
        assertThat(denied.get(0).pod()).isEqualTo(P7000);
        assertThat(denied.get(0).verdict()).isEqualTo(PeerAuthProgram.PlainVerdict.DENIED);

        program.sync(Map.of(pod(), new PeerAuthProgram.Pod("shop/api", true, null)));
        assertThat(connect("tsQ-cli", P7001, 500)).isEqualTo("timeout");
        program.sync(Map.of(pod(), new PeerAuthProgram.Pod("shop/api", false, null)));
        assertThat(connect("tsQ-cli", P7001)).isEqualTo("connected");
        assertThat(connect("tsQ-node", P7001)).as("the node is no plaintext: no event").isEqualTo("connected");
        assertThat(program.drainPlainEvents(100)).extracting(PeerAuthProgram.PlainEvent::verdict).containsExactly(
                PeerAuthProgram.PlainVerdict.STRICT, PeerAuthProgram.PlainVerdict.PERMISSIVE);
        assertThat(program.plainEventsLost()).isZero();
    }

    /** The one place these tests say what a node delivery is to the kernel program (source = node IP). */
    @Test
    @Order(4)
    void theNodeAndThePodItselfAreNeverJudgedByRules() throws Exception {
        program.sync(Map.of(pod(), new PeerAuthProgram.Pod("shop/api", false, List.of(rule(0, "0.0.0.0/0", false)))));
        assertThat(connect("tsQ-node", P7000)).as("agent deliveries and probes come from the node IP").isEqualTo("connected");
        assertThat(connect("tsQ-pod", P7000)).as("the pod to itself").isEqualTo("connected");
        assertThat(connect("tsQ-cli", P7000)).isEqualTo("timeout");
    }

    @Test
    @Order(5)
    void aResyncKeepsHitsOfUnchangedEntriesAndRemovesStaleOnes() throws Exception {
        var allowClient = rule(7000, CLIENT + "/32", true);
        program.sync(Map.of(pod(), new PeerAuthProgram.Pod("shop/api", false, List.of(allowClient, rule(0, "0.0.0.0/0", false)))));
        assertThat(connect("tsQ-cli", P7000)).isEqualTo("connected");
        program.sync(Map.of(pod(), new PeerAuthProgram.Pod("shop/api", false, List.of(allowClient, rule(0, "0.0.0.0/0", true)))));
        assertThat(program.ruleHits()).containsOnlyKeys(key(7000, CLIENT + "/32"), key(0, "0.0.0.0/0"));
        assertThat(program.ruleHits().get(key(7000, CLIENT + "/32"))).isEqualTo(1);
        assertThat(connect("tsQ-cli2", P7001)).isEqualTo("connected");
        // a STRICT pod: every plaintext SYN is dropped before any rule, and its rules are gone
        program.sync(Map.of(pod(), new PeerAuthProgram.Pod("shop/api", true, List.of(allowClient))));
        assertThat(program.ruleHits()).isEmpty();
        assertThat(connect("tsQ-cli", P7000)).isEqualTo("timeout");
    }

    /**
     * The agent's deliveries come from the client pod's address (IP_TRANSPARENT, {@code netty.Delivery}): a
     * STRICT pod takes such a SYN only because its 4-tuple is in {@code tsp_deliveries}; the same transparent
     * SYN without the record is plaintext and dropped. The pod's replies reach the socket through the reply
     * routing ({@link ReplyRouting}), installed in the test's node namespace and removed again.
     */
    @Test
    @Order(6)
    void aTransparentDeliveryIsKnownByItsRecordedFourTupleNotByItsSource() throws Exception {
        program.sync(Map.of(pod(), new PeerAuthProgram.Pod("shop/api", true, null)));
        var loops = dev.tessera.agent.netty.EventLoops.create(1);
        try {
            assertThat(Netns.call(ns("tsQ-node"), () -> ReplyRouting.install(0x2000, 15008))).isNull();
            assertThat(Netns.call(ns("tsQ-node"), () -> ReplyRouting.install(0x2000, 15008))).as("idempotent").isNull();
            InetAddress client = InetAddress.getByName(CLIENT);
            var recorded = new java.util.concurrent.ConcurrentLinkedQueue<InetSocketAddress>();
            var kernel = new dev.tessera.agent.netty.Delivery(loops, 2000);
            kernel.useRegistry(new dev.tessera.agent.netty.Delivery.Registry() {
                @Override
                public boolean add(InetSocketAddress local, InetSocketAddress remote) {
                    recorded.add(local);
                    return program.addDelivery(local, remote);
                }

                @Override
                public void remove(InetSocketAddress local, InetSocketAddress remote) {
                    program.removeDelivery(local, remote);
                }
            });
            long mesh = program.counters().get(pod()).mesh();
            var pod = Netns.call(ns("tsQ-node"), () -> kernel.dial(loops.worker().next(), client, P7000));
            assertThat(pod.await(10, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
            assertThat(pod.isSuccess()).as("dialled: %s", pod.cause()).isTrue();
            assertThat(s7000.awaitFrom(recorded.peek())).as("the pod's getpeername()").isEqualTo(recorded.peek());
            assertThat(recorded.peek().getAddress()).isEqualTo(client);
            assertThat(program.counters().get(pod()).mesh()).isEqualTo(mesh + 1);
            pod.getNow().close().sync();
            org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(5)).untilAsserted(() ->
                    assertThat(program.deliveries()).as("forgotten on close").isZero());
            assertThat(kernel.transparent()).isEqualTo(1);

            var unrecorded = new dev.tessera.agent.netty.Delivery(loops, 1000);
            unrecorded.useRegistry(new dev.tessera.agent.netty.Delivery.Registry() {
                @Override
                public boolean add(InetSocketAddress local, InetSocketAddress remote) {
                    return true; // claims to record, records nothing: the kernel must judge the SYN as plaintext
                }

                @Override
                public void remove(InetSocketAddress local, InetSocketAddress remote) {}
            });
            var refused = Netns.call(ns("tsQ-node"), () -> unrecorded.dial(loops.worker().next(), client, P7000));
            assertThat(refused.await(10, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
            assertThat(refused.isSuccess()).as("a transparent SYN without the record is dropped under STRICT").isFalse();
        } finally {
            Netns.call(ns("tsQ-node"), () -> {
                ReplyRouting.uninstall(0x2000, 15008);
                return null;
            });
            loops.close();
        }
        assertThat(Netns.call(ns("tsQ-node"), () -> run("ip", "rule", "show", "pref", "15008"))).isEmpty();
        assertThat(Netns.call(ns("tsQ-node"), () -> run("iptables", "-t", "mangle", "-S", "PREROUTING")))
                .doesNotContain("--transparent");
    }

    @Test
    @Order(7)
    void rulesThatDoNotFitDenyAllPlaintextAndAreReported() throws Exception {
        var many = new ArrayList<PeerAuthProgram.PlainRule>();
        for (int i = 0; i <= PeerAuthProgram.MAX_RULES; i++) {
            many.add(new PeerAuthProgram.PlainRule(0, new Ipv4Cidr(Ipv4Cidr.parseAddress("198.19.0.0") + i, 32), true));
        }
        Map<String, String> refused = program.sync(Map.of(pod(), new PeerAuthProgram.Pod("shop/api", false, many)));
        assertThat(refused).containsOnlyKeys("shop/api");
        assertThat(refused.get("shop/api")).contains("16385 entries");
        assertThat(program.refused()).isEqualTo(refused);
        assertThat(program.ruleHits()).isEmpty();
        assertThat(connect("tsQ-cli2", P7001)).as("fail closed").isEqualTo("timeout");
        // an empty rule list is the same deny-all
        assertThat(program.sync(Map.of(pod(), new PeerAuthProgram.Pod("shop/api", false, List.of())))).isEmpty();
        assertThat(connect("tsQ-cli2", P7001)).isEqualTo("timeout");
    }

    @Test
    @Order(8)
    void rulesStayEnforcedWhileTheAgentIsDownAndAfterItReadopts() throws Exception {
        program.sync(Map.of(pod(), new PeerAuthProgram.Pod("shop/api", false, List.of(rule(7000, CLIENT + "/32", true),
                rule(7000, "0.0.0.0/0", false), rule(0, "0.0.0.0/0", false)))));
        program.close(); // the agent stops: file descriptors go, pins stay
        program = null;
        assertThat(connect("tsQ-cli2", P7000)).isEqualTo("timeout");
        assertThat(connect("tsQ-cli", P7000)).isEqualTo("connected");
        program = PeerAuthProgram.install(pinDir, Cgroups.v2Root(), InetAddress.getByName(NODE_IP));
        assertThat(program.drainPlainEvents(100)).as("queued while the agent was down, kept by the pinned queue")
                .extracting(PeerAuthProgram.PlainEvent::verdict).contains(PeerAuthProgram.PlainVerdict.DENIED,
                        PeerAuthProgram.PlainVerdict.ALLOWED);
        assertThat(program.ruleHits()).containsKey(key(7000, CLIENT + "/32"));
        assertThat(connect("tsQ-cli2", P7000)).isEqualTo("timeout");
        assertThat(connect("tsQ-cli", P7000)).isEqualTo("connected");
    }

    @Test
    @Order(9)
    void uninstallDetachesAndRemovesThePins() throws Exception {
        program.close();
        program = null;
        assertThat(pinDir.resolve("peerauth/maps/tsp_plain_events")).exists();
        PeerAuthProgram.uninstall(pinDir);
        assertThat(pinDir.resolve("peerauth")).doesNotExist();
        assertThat(connect("tsQ-cli2", P7000)).isEqualTo("connected");
    }

    // ------------------------------------------------------------------ helpers

    static InetAddress pod() throws IOException {
        return InetAddress.getByName(POD_IP);
    }

    static PeerAuthProgram.PlainRule rule(int port, String cidr, boolean allow) {
        return new PeerAuthProgram.PlainRule(port, Ipv4Cidr.parse(cidr), allow);
    }

    static PeerAuthProgram.RuleKey key(int port, String cidr) throws IOException {
        return new PeerAuthProgram.RuleKey(pod(), port, Ipv4Cidr.parse(cidr));
    }

    /** "connected", "timeout" (the SYN was dropped) or "failed: ..." from inside {@code netns}. */
    static String connect(String netns, InetSocketAddress to) throws IOException {
        return connect(netns, to, 2000);
    }

    static String connect(String netns, InetSocketAddress to, int timeoutMillis) throws IOException {
        return Netns.call(ns(netns), () -> {
            try (Socket s = new Socket()) {
                s.connect(to, timeoutMillis);
                return "connected";
            } catch (SocketTimeoutException e) {
                return "timeout";
            } catch (IOException e) {
                return "failed: " + e;
            }
        });
    }

    static Path ns(String name) {
        return Path.of("/var/run/netns", name);
    }

    /** A veth from the node to {@code ns}: node side {@code net.1/24}, the other side {@code net.2/24}. */
    private static void link(String ns, String net, String nodeEnd, String otherEnd) throws Exception {
        ip("link", "add", nodeEnd, "netns", "tsQ-node", "type", "veth", "peer", "name", otherEnd, "netns", ns);
        ip("-n", "tsQ-node", "addr", "add", net + ".1/24", "dev", nodeEnd);
        ip("-n", "tsQ-node", "link", "set", nodeEnd, "up");
        ip("-n", ns, "addr", "add", net + ".2/24", "dev", otherEnd);
        ip("-n", ns, "link", "set", otherEnd, "up");
        ip("-n", ns, "route", "add", "default", "via", net + ".1");
    }

    private static void deleteNamespaces() throws Exception {
        for (String ns : NAMESPACES) {
            if (Files.exists(ns(ns))) {
                ip("netns", "del", ns); // its veth ends go with it
            }
        }
    }

    /** The output of a command that must succeed. */
    static String run(String... cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (p.waitFor() != 0) {
            throw new IOException(String.join(" ", cmd) + " failed: " + out);
        }
        return out.strip();
    }

    private static void ip(String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of("ip"));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (p.waitFor() != 0) {
            throw new IOException(String.join(" ", cmd) + " failed: " + out);
        }
    }
}
