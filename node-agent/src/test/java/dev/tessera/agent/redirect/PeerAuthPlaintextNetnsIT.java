package dev.tessera.agent.redirect;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tessera.agent.redirect.ffi.RingBell;
import dev.tessera.api.net.IpCidr;
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
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer.OrderAnnotation;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * The plaintext rules of {@code peerauth.bpf.c} on the real kernel: the program attached to the cgroup v2
 * root, real namespaces, real SYNs, over IPv4 and IPv6. Namespaces (prefix {@code tsQ-}, 198.18.0.0/15 and
 * 2001:db8::/32 only), every link dual-stack:
 * <pre>
 *   tsQ-pod  198.18.212.2 --veth-- 198.18.212.1 (node IP)  tsQ-node  198.18.213.1 --veth-- 198.18.213.2 tsQ-cli
 *            2001:db8:d4::2        2001:db8:d4::1 (node v6)          2001:db8:d5::1          2001:db8:d5::2
 *                                                                    198.18.214.1 --veth-- 198.18.214.2 tsQ-cli2
 *                                                                    2001:db8:d6::1          2001:db8:d6::2
 * </pre>
 * The pod is dual-stack: the program gets it under both addresses. Ordered: the last scenarios close the
 * program (agent down) and uninstall it.
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
    static final String POD_IP6 = "2001:db8:d4::2";
    /** The node's IPv6 address on the pod's link: the trusted IPv6 source (the fallback, no IPv6 probe SNAT here). */
    static final String NODE_IP6 = "2001:db8:d4::1";
    static final String CLIENT6 = "2001:db8:d5::2";
    static final String CLIENT2_6 = "2001:db8:d6::2";
    static final InetSocketAddress P6_7000 = new InetSocketAddress(POD_IP6, 7000);
    static final InetSocketAddress P6_7001 = new InetSocketAddress(POD_IP6, 7001);

    static Path pinDir;
    static PeerAuthProgram program;
    static Acceptor s7000;
    static Acceptor s7001;
    static Acceptor s6_7000;
    static Acceptor s6_7001;

    @BeforeAll
    static void setUp() throws Exception {
        NetnsFixture.requireRoot();
        deleteNamespaces(); // leftovers of an aborted run
        for (String ns : NAMESPACES) {
            ip("netns", "add", ns);
            ip("-n", ns, "link", "set", "lo", "up");
        }
        ip("netns", "exec", "tsQ-node", "sysctl", "-q", "-w", "net.ipv6.conf.all.forwarding=1");
        link("tsQ-pod", "198.18.212", "2001:db8:d4", "tsQ-n0", "tsQ-p0");
        link("tsQ-cli", "198.18.213", "2001:db8:d5", "tsQ-n1", "tsQ-c1");
        link("tsQ-cli2", "198.18.214", "2001:db8:d6", "tsQ-n2", "tsQ-c2");
        ip("netns", "exec", "tsQ-node", "sysctl", "-q", "-w", "net.ipv4.ip_forward=1");
        s7000 = new Acceptor("pod:7000", ns("tsQ-pod"), P7000);
        s7001 = new Acceptor("pod:7001", ns("tsQ-pod"), P7001);
        s6_7000 = new Acceptor("pod6:7000", ns("tsQ-pod"), P6_7000);
        s6_7001 = new Acceptor("pod6:7001", ns("tsQ-pod"), P6_7001);
        pinDir = PIN_ROOT.resolve("agent-" + ProcessHandle.current().pid());
        program = PeerAuthProgram.install(pinDir, Cgroups.v2Root(), InetAddress.getByName(NODE_IP),
                InetAddress.getByName(NODE_IP6), RedirectSettings.DEFAULT_MAX_PODS);
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
            for (Acceptor a : new Acceptor[] {s7000, s7001, s6_7000, s6_7001}) {
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

    // ------------------------------------------------------------------ IPv6 (the pod dual-stack)

    /**
     * The doorbell beside the queues: with nothing queued a wait sleeps through its timeout; a plaintext SYN wakes a
     * waiter (its event is in the queue by then); the doorbell records are consumed, so the next wait sleeps again;
     * and close() ends a wait that has no time limit.
     */
    @Test
    @Order(7)
    void aPlaintextSynRingsTheDoorbellAndAQuietOneSleeps() throws Exception {
        program.sync(Map.of(pod(), new PeerAuthProgram.Pod("shop/api", false, null)));
        try (RingBell bell = program.plainEventBell()) {
            bell.await(0); // the doorbells of earlier tests' events
            program.drainPlainEvents(Integer.MAX_VALUE);
            assertThat(bell.pendingBytes()).isZero();
            assertThat(bell.await(300)).as("nothing queued: the wait times out").isFalse();

            var rung = CompletableFuture.supplyAsync(() -> bell.await(20_000));
            assertThat(connect("tsQ-cli", P7001)).isEqualTo("connected");
            assertThat(rung.get(10, TimeUnit.SECONDS)).as("woken by the SYN's doorbell").isTrue();
            assertThat(program.drainPlainEvents(100)).extracting(PeerAuthProgram.PlainEvent::verdict)
                    .containsExactly(PeerAuthProgram.PlainVerdict.PERMISSIVE);
            assertThat(bell.pendingBytes()).as("the doorbell was consumed").isZero();
            assertThat(bell.await(300)).as("and does not ring again").isFalse();

            var waiting = CompletableFuture.supplyAsync(() -> bell.await(-1));
            bell.close();
            assertThat(waiting.get(10, TimeUnit.SECONDS)).as("a closed bell ends the wait").isFalse();
        }
    }

    /**
     * The agent's reader of the queue ({@code inbound.PlaintextEvents}) reports an attempt at its doorbell: long
     * before its safety-net drain (30 s), since it no longer polls.
     */
    @Test
    @Order(8)
    void thePlaintextEventReaderReportsAnAttemptAtItsDoorbell() throws Exception {
        program.sync(Map.of(pod(), new PeerAuthProgram.Pod("shop/api", false, null)));
        program.drainPlainEvents(Integer.MAX_VALUE);
        var seen = new java.util.concurrent.CopyOnWriteArrayList<dev.tessera.agent.connection.ConnectionContext>();
        try (var reader = plaintextReader(seen)) {
            // the reader has done its first drain and sleeps at the doorbell (its only wait): what comes now, the
            // doorbell has to bring
            org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(10)).until(
                    () -> "S".equals(threadState("tessera-plainte")));
            assertThat(connect("tsQ-cli2", P7000)).isEqualTo("connected");
            org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(10)).until(() -> !seen.isEmpty());
            assertThat(seen).singleElement().satisfies(c -> {
                assertThat(c.destination()).isEqualTo(P7000);
                assertThat(c.client().getAddress()).isEqualTo(InetAddress.getByName("198.18.214.2"));
            });
        }
    }

    /**
     * Without its doorbell (here: its pin removed, so it cannot be opened) the reader polls the queue as before the
     * doorbell and still reports an attempt, rather than failing the agent. The next install (test 21) pins a ring
     * again.
     */
    @Test
    @Order(9)
    void withoutADoorbellTheReaderPollsTheQueue() throws Exception {
        program.sync(Map.of(pod(), new PeerAuthProgram.Pod("shop/api", false, null)));
        program.drainPlainEvents(Integer.MAX_VALUE);
        Files.delete(pinDir.resolve("peerauth/maps/" + PeerAuthProgram.BELL_MAP));
        var seen = new java.util.concurrent.CopyOnWriteArrayList<dev.tessera.agent.connection.ConnectionContext>();
        try (var reader = plaintextReader(seen)) {
            assertThat(connect("tsQ-cli", P7001)).isEqualTo("connected");
            org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(10)).until(() -> !seen.isEmpty());
            assertThat(seen).singleElement().satisfies(c -> assertThat(c.destination()).isEqualTo(P7001));
        }
    }

    @Test
    @Order(10)
    void ipv6PlaintextToAPermissivePodPassesIsCountedAndReportedAndIpv4StillWorks() throws Exception {
        program.sync(dualStack(false, null, null));
        program.drainPlainEvents(Integer.MAX_VALUE);
        long before = program.counters().get(pod6()).plaintext();
        long before4 = program.counters().get(pod()).plaintext();
        assertThat(connect("tsQ-cli", P6_7000)).isEqualTo("connected");
        assertThat(s6_7000.next().getAddress()).isEqualTo(InetAddress.getByName(CLIENT6));
        assertThat(connect("tsQ-cli", P7000)).as("the same pod over IPv4").isEqualTo("connected");
        assertThat(program.counters().get(pod6()).plaintext()).isEqualTo(before + 1);
        assertThat(program.counters().get(pod()).plaintext()).isEqualTo(before4 + 1);
        var events = program.drainPlainEvents(100);
        assertThat(events).hasSize(2);
        var six = events.stream().filter(e -> e.pod().equals(P6_7000)).findFirst().orElseThrow();
        assertThat(six.source().getAddress()).isEqualTo(InetAddress.getByName(CLIENT6));
        assertThat(six.source().getPort()).isPositive();
        assertThat(six.verdict()).isEqualTo(PeerAuthProgram.PlainVerdict.PERMISSIVE);
    }

    @Test
    @Order(11)
    void ipv6PlaintextToAStrictPodIsDroppedButTheTrustedNodeAddressAndThePodItselfPass() throws Exception {
        program.sync(dualStack(true, null, null));
        program.drainPlainEvents(Integer.MAX_VALUE);
        long dropped = program.counters().get(pod6()).dropped();
        long mesh = program.counters().get(pod6()).mesh();
        assertThat(connect("tsQ-cli", P6_7000, 500)).isEqualTo("timeout"); // before the first retransmission (1 s)
        assertThat(connect("tsQ-cli", P7000, 500)).as("IPv4 as before").isEqualTo("timeout");
        assertThat(program.counters().get(pod6()).dropped()).isEqualTo(dropped + 1);
        assertThat(program.drainPlainEvents(100)).filteredOn(e -> e.pod().equals(P6_7000)).singleElement()
                .satisfies(e -> {
                    assertThat(e.source().getAddress()).isEqualTo(InetAddress.getByName(CLIENT6));
                    assertThat(e.verdict()).isEqualTo(PeerAuthProgram.PlainVerdict.STRICT);
                });
        assertThat(connectFrom("tsQ-node", NODE_IP6, P6_7000, 2000)).as("the trusted IPv6 address").isEqualTo("connected");
        assertThat(connectFrom("tsQ-node", "2001:db8:d5::1", P6_7000, 500))
                .as("another address of the node is plaintext like any other").isEqualTo("timeout");
        assertThat(connect("tsQ-pod", P6_7000)).as("the pod to itself").isEqualTo("connected");
        assertThat(program.counters().get(pod6()).mesh()).isEqualTo(mesh + 2);
        assertThat(program.drainPlainEvents(100)).as("trusted SYNs are no plaintext events")
                .extracting(PeerAuthProgram.PlainEvent::source).extracting(InetSocketAddress::getAddress)
                .containsOnly(InetAddress.getByName("2001:db8:d5::1"));
    }

    /** The TCP header behind a destination options or hop-by-hop header is found: the SYN is judged as any other. */
    @Test
    @Order(12)
    void aSynBehindIpv6ExtensionHeadersIsJudgedByItsTcpHeader() throws Exception {
        program.sync(dualStack(true, null, null));
        for (int option : new int[] {Syn6WithOptions.IPV6_DSTOPTS, Syn6WithOptions.IPV6_HOPOPTS}) {
            assertThat(Netns.call(ns("tsQ-cli"), () -> Syn6WithOptions.connect(option, P6_7000, 500)))
                    .as("STRICT, option header %d", option).isEqualTo("timeout");
        }
        program.sync(dualStack(false, null, List.of(rule(7000, CLIENT6 + "/128", true), rule(7000, "::/0", false),
                rule(0, "::/0", false))));
        long dropped = program.counters().get(pod6()).dropped();
        for (int option : new int[] {Syn6WithOptions.IPV6_DSTOPTS, Syn6WithOptions.IPV6_HOPOPTS}) {
            assertThat(Netns.call(ns("tsQ-cli"), () -> Syn6WithOptions.connect(option, P6_7000, 2000)))
                    .as("allowed by the rule for its port and source, option header %d", option).isEqualTo("connected");
            assertThat(Netns.call(ns("tsQ-cli"), () -> Syn6WithOptions.connect(option, P6_7001, 500)))
                    .as("denied on another port, option header %d", option).isEqualTo("timeout");
        }
        assertThat(program.ruleHits().get(key6(7000, CLIENT6 + "/128"))).isEqualTo(2);
        assertThat(program.counters().get(pod6()).dropped()).isEqualTo(dropped + 2);
    }

    @Test
    @Order(13)
    void ipv6RulesDecideBySourceNetworkAndPortNextToTheIpv4Rules() throws Exception {
        program.sync(dualStack(false,
                List.of(rule(7000, CLIENT + "/32", true), rule(7000, "0.0.0.0/0", false), rule(0, "0.0.0.0/0", false)),
                List.of(rule(7000, CLIENT6 + "/128", true),
                        rule(7000, "2001:db8::/32", false),
                        rule(7000, "::/0", false),
                        rule(0, "2001:db8:d6::/64", true),
                        rule(0, "2001:db8::/32", false),
                        rule(0, "::/0", false))));
        Map<PeerAuthProgram.RuleKey, Long> kept = program.ruleHits(); // entries unchanged since the last scenario keep hits
        assertThat(connect("tsQ-cli", P6_7000)).as("allowed /128 on a named port").isEqualTo("connected");
        assertThat(connect("tsQ-cli2", P6_7000, 500)).as("denied by the named port's shorter match").isEqualTo("timeout");
        assertThat(connect("tsQ-cli", P6_7001, 500)).as("port 0's entries").isEqualTo("timeout");
        assertThat(connect("tsQ-cli2", P6_7001)).as("allowed /64 on any other port").isEqualTo("connected");
        assertThat(connect("tsQ-cli", P7000)).as("IPv4 rules, IPv4 source").isEqualTo("connected");
        assertThat(connect("tsQ-cli2", P7000, 500)).isEqualTo("timeout");
        Map<PeerAuthProgram.RuleKey, Long> hits = program.ruleHits();
        assertThat(hits).hasSize(9);
        java.util.function.Function<PeerAuthProgram.RuleKey, Long> delta = k -> hits.get(k) - kept.getOrDefault(k, 0L);
        assertThat(delta.apply(key6(7000, CLIENT6 + "/128"))).isEqualTo(1);
        assertThat(delta.apply(key6(0, "2001:db8:d6::/64"))).isEqualTo(1);
        assertThat(delta.apply(key6(7000, "2001:db8::/32"))).isEqualTo(1);
        assertThat(delta.apply(key6(0, "2001:db8::/32"))).isEqualTo(1);
        assertThat(delta.apply(key6(0, "::/0"))).isZero();
        assertThat(delta.apply(key(7000, CLIENT + "/32"))).isEqualTo(1);
        // a rule of the wrong family for the address: refused, and every plaintext SYN to it is denied
        Map<String, String> refused = program.sync(dualStack(false, null, List.of(rule(0, "0.0.0.0/0", true))));
        assertThat(refused.get("shop/api")).contains("not of the family");
        assertThat(connect("tsQ-cli2", P6_7001, 500)).isEqualTo("timeout");
        assertThat(connect("tsQ-cli2", P7001)).as("its IPv4 address has no rules: PERMISSIVE").isEqualTo("connected");
    }

    /**
     * The agent's IPv6 deliveries: a STRICT pod takes a SYN from an untrusted address only because its 4-tuple is
     * in {@code tsp_deliveries6}. {@code netty.Delivery} records them: from the client pod's IPv6 address when the
     * node routes IPv6 replies back to transparent sockets (set up here as {@code ReplyRouting} does for IPv4), else
     * from the node's IPv6 address.
     */
    @Test
    @Order(14)
    void aRecordedIpv6DeliveryPassesAStrictPodAndAnUnrecordedOneDoesNot() throws Exception {
        program.sync(dualStack(true, null, null));
        String nodeOther = "2001:db8:d5::1"; // a node address the kernel does not trust
        var loops = dev.tessera.agent.netty.EventLoops.create(1);
        try {
            var recorded = new java.util.concurrent.ConcurrentLinkedQueue<InetSocketAddress>();
            var registry = new java.util.concurrent.atomic.AtomicBoolean();
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

                @Override
                public InetAddress nodeAddress6() {
                    return address(nodeOther);
                }

                @Override
                public boolean transparentIpv6() {
                    return registry.get();
                }
            });
            long mesh = program.counters().get(pod6()).mesh();
            // (1) no IPv6 reply routing: from the node's IPv6 address, recorded
            var viaNode = Netns.call(ns("tsQ-node"), () -> kernel.dial(loops.worker().next(), address(CLIENT6), P6_7000));
            assertThat(viaNode.await(10, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
            assertThat(viaNode.isSuccess()).as("dialled: %s", viaNode.cause()).isTrue();
            assertThat(recorded.poll().getAddress()).isEqualTo(address(nodeOther));
            assertThat(kernel.fallbacks()).isEqualTo(1);
            assertThat(program.deliveries()).isEqualTo(1);
            viaNode.getNow().close().sync();
            org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(5)).untilAsserted(() ->
                    assertThat(program.deliveries()).as("forgotten on close").isZero());
            // (2) with IPv6 reply routing: from the client pod's IPv6 address (IP_TRANSPARENT), recorded
            Netns.call(ns("tsQ-node"), () -> {
                run("ip6tables", "-w", "5", "-t", "mangle", "-I", "PREROUTING", "-p", "tcp", "-m", "socket",
                        "--transparent", "-j", "MARK", "--set-xmark", "0x2000/0x2000");
                run("ip", "-6", "rule", "add", "fwmark", "0x2000/0x2000", "lookup", "15008", "pref", "15008");
                run("ip", "-6", "route", "replace", "local", "::/0", "dev", "lo", "table", "15008");
                return null;
            });
            registry.set(true);
            var transparent = Netns.call(ns("tsQ-node"), () -> kernel.dial(loops.worker().next(), address(CLIENT6), P6_7000));
            assertThat(transparent.await(10, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
            assertThat(transparent.isSuccess()).as("dialled: %s", transparent.cause()).isTrue();
            InetSocketAddress local = recorded.poll();
            assertThat(local.getAddress()).isEqualTo(address(CLIENT6));
            assertThat(s6_7000.awaitFrom(local)).as("the pod's getpeername()").isEqualTo(local);
            assertThat(kernel.transparent()).isEqualTo(1);
            transparent.getNow().close().sync();
            assertThat(program.counters().get(pod6()).mesh()).isEqualTo(mesh + 2);

            // the same transparent SYN without the record is plaintext: dropped under STRICT
            var unrecorded = new dev.tessera.agent.netty.Delivery(loops, 1000);
            unrecorded.useRegistry(new dev.tessera.agent.netty.Delivery.Registry() {
                @Override
                public boolean add(InetSocketAddress l, InetSocketAddress r) {
                    return true; // claims to record, records nothing
                }

                @Override
                public void remove(InetSocketAddress l, InetSocketAddress r) {}

                @Override
                public boolean transparentIpv6() {
                    return true;
                }
            });
            var refused = Netns.call(ns("tsQ-node"), () -> unrecorded.dial(loops.worker().next(), address(CLIENT6), P6_7000));
            assertThat(refused.await(10, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
            assertThat(refused.isSuccess()).as("an unrecorded IPv6 delivery is plaintext").isFalse();
            assertThat(connectFrom("tsQ-node", nodeOther, P6_7000, 500)).as("the node address itself is not trusted")
                    .isEqualTo("timeout");
        } finally {
            loops.close();
        }
    }

    @Test
    @Order(20)
    void rulesThatDoNotFitDenyAllPlaintextAndAreReported() throws Exception {
        var many = new ArrayList<PeerAuthProgram.PlainRule>();
        for (int i = 0; i <= PeerAuthProgram.MAX_RULES; i++) {
            many.add(new PeerAuthProgram.PlainRule(0, IpCidr.ipv4(Ipv4Cidr.parseAddress("198.19.0.0") + i, 32), true));
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
    @Order(21)
    void rulesStayEnforcedWhileTheAgentIsDownAndAfterItReadopts() throws Exception {
        program.sync(dualStack(false, List.of(rule(7000, CLIENT + "/32", true), rule(7000, "0.0.0.0/0", false),
                rule(0, "0.0.0.0/0", false)), List.of(rule(7000, CLIENT6 + "/128", true), rule(7000, "::/0", false),
                rule(0, "::/0", false))));
        program.drainPlainEvents(Integer.MAX_VALUE);
        program.close(); // the agent stops: file descriptors go, pins stay
        program = null;
        assertThat(connect("tsQ-cli2", P7000)).isEqualTo("timeout");
        assertThat(connect("tsQ-cli", P7000)).isEqualTo("connected");
        assertThat(connect("tsQ-cli2", P6_7000, 500)).isEqualTo("timeout");
        assertThat(connect("tsQ-cli", P6_7000)).isEqualTo("connected");
        program = PeerAuthProgram.install(pinDir, Cgroups.v2Root(), InetAddress.getByName(NODE_IP));
        var queued = program.drainPlainEvents(100);
        assertThat(queued).as("queued while the agent was down, kept by the pinned queue")
                .extracting(PeerAuthProgram.PlainEvent::verdict).contains(PeerAuthProgram.PlainVerdict.DENIED,
                        PeerAuthProgram.PlainVerdict.ALLOWED);
        assertThat(queued).filteredOn(e -> e.pod().equals(P6_7000)).extracting(PeerAuthProgram.PlainEvent::verdict)
                .contains(PeerAuthProgram.PlainVerdict.DENIED, PeerAuthProgram.PlainVerdict.ALLOWED);
        assertThat(program.ruleHits()).containsKeys(key(7000, CLIENT + "/32"), key6(7000, CLIENT6 + "/128"));
        assertThat(connect("tsQ-cli2", P7000)).isEqualTo("timeout");
        assertThat(connect("tsQ-cli", P7000)).isEqualTo("connected");
        assertThat(connect("tsQ-cli2", P6_7000, 500)).isEqualTo("timeout");
        assertThat(connect("tsQ-cli", P6_7000)).isEqualTo("connected");
    }

    @Test
    @Order(22)
    void uninstallDetachesAndRemovesThePins() throws Exception {
        program.close();
        program = null;
        for (String map : PeerAuthProgram.MAPS) {
            assertThat(pinDir.resolve("peerauth/maps/" + map)).exists();
        }
        PeerAuthProgram.uninstall(pinDir);
        assertThat(pinDir.resolve("peerauth")).doesNotExist();
        assertThat(connect("tsQ-cli2", P7000)).isEqualTo("connected");
        assertThat(connect("tsQ-cli2", P6_7000)).isEqualTo("connected");
    }

    // ------------------------------------------------------------------ helpers

    /** The agent's plaintext-event reader on {@link #program}, started, adding each reported attempt to {@code seen}. */
    static dev.tessera.agent.inbound.PlaintextEvents plaintextReader(
            List<dev.tessera.agent.connection.ConnectionContext> seen) {
        var listener = new dev.tessera.agent.connection.ConnectionListener() {
            @Override
            public void plaintext(dev.tessera.agent.connection.ConnectionContext context,
                    dev.tessera.agent.connection.ConnectionStats stats) {
                seen.add(context);
            }
        };
        return new dev.tessera.agent.inbound.PlaintextEvents(program,
                () -> new dev.tessera.api.model.MeshSnapshot(1, List.of(), List.of()),
                (p, src) -> java.util.Optional.empty(), listener, n -> {}).start();
    }

    /** The scheduler state ({@code R}, {@code S}, ...) of this JVM's thread whose name starts with {@code comm}. */
    static String threadState(String comm) throws IOException {
        try (var tasks = Files.list(Path.of("/proc/self/task"))) {
            for (Path t : tasks.toList()) {
                if (Files.readString(t.resolve("comm")).strip().equals(comm)) {
                    String stat = Files.readString(t.resolve("stat"));
                    return stat.substring(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
                }
            }
        }
        return "none";
    }

    static InetAddress pod() throws IOException {
        return InetAddress.getByName(POD_IP);
    }

    static InetAddress address(String literal) {
        try {
            return InetAddress.getByName(literal);
        } catch (java.net.UnknownHostException e) {
            throw new IllegalStateException(e);
        }
    }

    static InetAddress pod6() throws IOException {
        return InetAddress.getByName(POD_IP6);
    }

    static PeerAuthProgram.PlainRule rule(int port, String cidr, boolean allow) {
        return new PeerAuthProgram.PlainRule(port, IpCidr.parse(cidr), allow);
    }

    static PeerAuthProgram.RuleKey key(int port, String cidr) throws IOException {
        return new PeerAuthProgram.RuleKey(pod(), port, IpCidr.parse(cidr));
    }

    static PeerAuthProgram.RuleKey key6(int port, String cidr) throws IOException {
        return new PeerAuthProgram.RuleKey(pod6(), port, IpCidr.parse(cidr));
    }

    /** The dual-stack pod under both of its addresses, as the agent syncs it. */
    static Map<InetAddress, PeerAuthProgram.Pod> dualStack(boolean strict, List<PeerAuthProgram.PlainRule> rules4,
            List<PeerAuthProgram.PlainRule> rules6) throws IOException {
        return Map.of(pod(), new PeerAuthProgram.Pod("shop/api", strict, rules4),
                pod6(), new PeerAuthProgram.Pod("shop/api", strict, rules6));
    }

    /** As {@link #connect(String, InetSocketAddress, int)}, from {@code source} (bound before connecting). */
    static String connectFrom(String netns, String source, InetSocketAddress to, int timeoutMillis) throws IOException {
        return Netns.call(ns(netns), () -> {
            try (Socket s = new Socket()) {
                s.bind(new InetSocketAddress(source, 0));
                s.connect(to, timeoutMillis);
                return "connected";
            } catch (SocketTimeoutException e) {
                return "timeout";
            } catch (IOException e) {
                return "failed: " + e;
            }
        });
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

    /**
     * A dual-stack veth from the node to {@code ns}: node side {@code net.1/24} and {@code net6::1/64}, the other
     * side {@code net.2/24} and {@code net6::2/64} (no duplicate address detection: usable at once).
     */
    private static void link(String ns, String net, String net6, String nodeEnd, String otherEnd) throws Exception {
        ip("link", "add", nodeEnd, "netns", "tsQ-node", "type", "veth", "peer", "name", otherEnd, "netns", ns);
        ip("-n", "tsQ-node", "addr", "add", net + ".1/24", "dev", nodeEnd);
        ip("-n", "tsQ-node", "-6", "addr", "add", net6 + "::1/64", "dev", nodeEnd, "nodad");
        ip("-n", "tsQ-node", "link", "set", nodeEnd, "up");
        ip("-n", ns, "addr", "add", net + ".2/24", "dev", otherEnd);
        ip("-n", ns, "-6", "addr", "add", net6 + "::2/64", "dev", otherEnd, "nodad");
        ip("-n", ns, "link", "set", otherEnd, "up");
        ip("-n", ns, "route", "add", "default", "via", net + ".1");
        ip("-n", ns, "-6", "route", "add", "default", "via", net6 + "::1");
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
