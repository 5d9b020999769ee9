package dev.tessera.tests;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tessera.agent.redirect.Cgroups;
import dev.tessera.api.netns.Netns;
import dev.tessera.tests.harness.ClusterSpec;
import dev.tessera.tests.harness.Exchange;
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
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * AuthorizationPolicy and PeerAuthentication on a real two-node cluster. The protected pod {@code shop/api}
 * runs on node2; clients: {@code shop/front} (node1, meshed), {@code ops/admin} (node1, meshed, another
 * namespace), {@code shop/near} (node2, same-node delivery), {@code plain/outsider} (node1, not meshed) and
 * {@code shop/optout} (node1, opted out with {@code tessera.dev/dataplane-mode=none}).
 * Each test writes its policies into {@code policies.yaml}, waits until node2's agent reports exactly
 * those ({@code /policies}), and the next test starts from none.
 */
@Timeout(300)
class PolicyNetnsIT {

    private static final String SHOP = "shop";
    private static final String OPS = "ops";
    private static final String PLAIN = "plain";
    private static final String FILE = "policies.yaml";
    private static final ObjectMapper JSON = new ObjectMapper();

    private static final ClusterSpec SPEC = ClusterSpec.builder()
            .nodes("node1", "node2")
            .meshedNamespace(SHOP)
            .meshedNamespace(OPS)
            .plainNamespace(PLAIN)
            .plainNamespace("tessera-system") // the root namespace: mesh-wide policies live here
            .pod(SHOP, "api", "node2", "api")
            .pod(SHOP, "vault", "node2", "vault")
            .pod(SHOP, "near", "node2", "near")
            .pod(SHOP, "front", "node1", "front")
            .pod(OPS, "admin", "node1", "admin")
            .pod(PLAIN, "outsider", "node1", "default")
            .pod(SHOP, "optout", "node1", "optout", java.util.Map.of("app", "optout", ClusterSpec.MODE_LABEL, "none"))
            .build();

    private static TestCluster c;
    /** The test's stand-in for the kubelet's cgroup (v2), passed to the agents as --probe-cgroup. */
    private static Path probeCgroup;

    @BeforeAll
    static void up() throws IOException {
        NetnsSupport.requireRoot();
        String name = System.getProperty("tessera.test.clusterPrefix", "") + "tsc-pol-kubelet";
        probeCgroup = Cgroups.v2Root().resolve(name);
        Files.createDirectories(probeCgroup);
        // The agents run in cgroup namespaces of their own, as a DaemonSet's container does: the kubelet's cgroup is
        // not resolvable by path from there (iptables -m cgroup --path would fail), only by id from the host mount.
        c = TestCluster.create("tsc-pol", SPEC, true, List.of("--probe-cgroup", name),
                cluster -> cluster.agentsInOwnCgroupNamespace(true));
        c.server(SHOP, "api", 7000, PodServer.lineEcho("api:7000"));
        c.server(SHOP, "api", 7001, PodServer.lineEcho("api:7001"));
        c.server(SHOP, "vault", 7000, PodServer.lineEcho("vault:7000"));
        c.server(SHOP, "vault", 7003, PolicyNetnsIT::tellThePeer);
    }

    /** Reads a line and answers with the address the connection came from, as the server's getpeername() sees it. */
    private static void tellThePeer(Socket s) throws IOException {
        new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8)).readLine();
        s.getOutputStream().write((s.getInetAddress().getHostAddress() + "\n").getBytes(StandardCharsets.UTF_8));
    }

    @AfterAll
    static void down() throws IOException {
        try {
            if (c != null) {
                c.close();
            }
        } finally {
            if (probeCgroup != null) {
                Files.deleteIfExists(probeCgroup); // rmdir: empty once its probe processes have exited
            }
        }
    }

    @AfterEach
    void noPolicies() throws IOException {
        if (c != null) {
            c.removeManifest(FILE);
            awaitPolicies();
        }
    }

    @Test
    void allowByPrincipalLetsOnlyThatIdentityIn() throws IOException {
        apply(ap(SHOP, "front-only", "selector: {matchLabels: {app: api}}\nrules:\n- from:\n  - source:\n      principals: "
                + "[\"cluster.local/ns/shop/sa/front\"]"));
        assertThat(call(SHOP, "front", "api", 7000)).isEqualTo("api:7000 hi");
        assertThat(call(OPS, "admin", "api", 7000)).isEqualTo("denied");
        // the same-node client is judged by the same policy
        assertThat(call(SHOP, "near", "api", 7000)).isEqualTo("denied");
    }

    @Test
    void allowByNamespace() throws IOException {
        apply(ap(SHOP, "ops-only", "selector: {matchLabels: {app: api}}\nrules:\n- from:\n  - source:\n      namespaces: [ops]"));
        assertThat(call(OPS, "admin", "api", 7000)).isEqualTo("api:7000 hi");
        assertThat(call(SHOP, "front", "api", 7000)).isEqualTo("denied");
    }

    @Test
    void allowByPort() throws IOException {
        apply(ap(SHOP, "port-7001", "selector: {matchLabels: {app: api}}\nrules:\n- to:\n  - operation:\n      ports: [\"7001\"]"));
        assertThat(call(SHOP, "front", "api", 7001)).isEqualTo("api:7001 hi");
        assertThat(call(SHOP, "front", "api", 7000)).isEqualTo("denied");
    }

    @Test
    void allowBySourceIpBlock() throws IOException {
        apply(ap(SHOP, "front-ip", "selector: {matchLabels: {app: api}}\nrules:\n- from:\n  - source:\n      ipBlocks: [\""
                + c.podIp(SHOP, "front") + "/32\"]"));
        assertThat(call(SHOP, "front", "api", 7000)).isEqualTo("api:7000 hi");
        assertThat(call(OPS, "admin", "api", 7000)).isEqualTo("denied");
    }

    @Test
    void denyOverridesAllowAndIsNamedInMetricsAndAccessLog() throws IOException {
        double before = c.metrics("node2").sumWhere("tessera_policy_decisions_total", "decision", "deny",
                "policy", "shop/deny-front", "rule", "0");
        apply(ap(SHOP, "allow-all", "rules: [{}]") + "---\n"
                + ap(SHOP, "deny-front", "action: DENY\nrules:\n- from:\n  - source:\n      principals: [\"*/sa/front\"]"));
        assertThat(call(SHOP, "front", "api", 7000)).isEqualTo("denied");
        assertThat(call(OPS, "admin", "api", 7000)).isEqualTo("api:7000 hi");
        assertThat(c.metrics("node2").sumWhere("tessera_policy_decisions_total", "decision", "deny",
                "policy", "shop/deny-front", "rule", "0")).isEqualTo(before + 1);
        await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> assertThat(Files.readString(c.cluster().agentLog("node2")))
                .contains("\"reason\":\"POLICY_DENIED\"")
                .contains("\"policy\":\"shop/deny-front\",\"policy_rule\":0")
                .contains("\"src_identity\":\"spiffe://cluster.local/ns/shop/sa/front\""));
    }

    @Test
    void policyAppliedWhileAConnectionIsOpenClosesItWithinASecond() throws Exception {
        String ip = c.podIp(SHOP, "api");
        long[] closedAfterMs = new long[1];
        var pool = c.podThreads(SHOP, "front", 1);
        var open = new java.util.concurrent.CountDownLatch(1);
        var result = pool.submit(() -> {
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress(ip, 7000), 5000);
                s.setSoTimeout(15_000);
                var in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8));
                s.getOutputStream().write("first\n".getBytes(StandardCharsets.UTF_8));
                String reply = in.readLine();
                open.countDown();
                try {
                    String next = in.readLine(); // blocks until the agent closes the connection
                    return reply + " | then " + (next == null ? "EOF" : next);
                } catch (IOException e) {
                    return reply + " | then " + "reset";
                }
            }
        });
        assertThat(open.await(10, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
        long t0 = System.nanoTime();
        apply(ap(SHOP, "deny-front", "action: DENY\nrules:\n- from:\n  - source:\n      principals: [\"cluster.local/ns/shop/sa/front\"]"));
        long seen = (System.nanoTime() - t0) / 1_000_000;
        String outcome = result.get(15, java.util.concurrent.TimeUnit.SECONDS);
        closedAfterMs[0] = (System.nanoTime() - t0) / 1_000_000;
        assertThat(outcome).startsWith("api:7000 first | then ");
        assertThat(outcome).doesNotContain("then api");
        // One second from the agent having the policy (the file watcher polls every 300 ms before that).
        assertThat(closedAfterMs[0]).as("ms from the edit until the open connection closed (agent saw it after %d ms)", seen)
                .isLessThan(Math.max(seen, 300) + 1000);
    }

    @Test
    void strictDropsPlaintextFromOutsideTheMeshButNotMeshOrNodeTraffic() throws IOException {
        apply(pa(SHOP, "vault-strict", "selector: {matchLabels: {app: vault}}\nmtls: {mode: STRICT}"));
        await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> assertThat(mtls("vault")).isEqualTo("STRICT"));
        double dropped = plaintext("dropped");
        assertThat(call(PLAIN, "outsider", "vault", 7000)).isEqualTo("timeout");
        assertThat(plaintext("dropped")).isGreaterThan(dropped);
        assertThat(call(SHOP, "front", "vault", 7000)).isEqualTo("vault:7000 hi");
        // mesh deliveries come from the client pod's own address (known to the kernel by their 4-tuple, not by
        // the node address), across nodes and on the same node, and STRICT lets them in
        assertThat(call(SHOP, "front", "vault", 7003)).as("vault's getpeername(), HBONE").isEqualTo(c.podIp(SHOP, "front"));
        assertThat(call(SHOP, "near", "vault", 7003)).as("vault's getpeername(), same node").isEqualTo(c.podIp(SHOP, "near"));
        // a kubelet probe (a process of the node in the kubelet's cgroup, SNATed to the probe address) still
        // reaches the pod; any other process of the node's namespace is plaintext from outside the mesh
        // ... also with the agent in a cgroup namespace of its own (a DaemonSet's container), where the kubelet's
        // cgroup is known by id only: the kernel program marks its connects, iptables SNATs the mark
        long agent = c.cluster().agentPid("node2").orElseThrow();
        assertThat(Files.readSymbolicLink(Path.of("/proc/" + agent + "/ns/cgroup"))).as("node2's agent's cgroupns")
                .isNotEqualTo(Files.readSymbolicLink(Path.of("/proc/self/ns/cgroup")));
        assertThat(Files.readString(Path.of("/proc/" + agent + "/cgroup"))).as("node2's agent's cgroup, seen from the host")
                .contains("0::/tessera-local-" + c.name() + "-node2");
        assertThat(kubeletProbe("vault", 7000)).isEqualTo("vault:7000 probe");
        assertThat(fromNode("vault", 7000)).as("a host-namespace process, not the kubelet").isEqualTo("timeout");
        assertThat(Files.readString(c.cluster().agentLog("node2"))).contains("are SNATed to 169.254.7.127");
        // the namespace's other pods are not STRICT (most specific wins; the default is PERMISSIVE)
        assertThat(mtls("api")).isEqualTo("PERMISSIVE");
    }

    @Test
    void aKubeletRestartGivesItsCgroupANewIdAndTheAgentFollowsIt() throws IOException {
        apply(pa(SHOP, "vault-strict", "selector: {matchLabels: {app: vault}}\nmtls: {mode: STRICT}"));
        await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> assertThat(mtls("vault")).isEqualTo("STRICT"));
        assertThat(kubeletProbe("vault", 7000)).isEqualTo("vault:7000 probe");
        // systemd recreates kubelet.service's cgroup on a restart: same path, new cgroup id (its inode)
        long before = (Long) Files.getAttribute(probeCgroup, "unix:ino");
        Files.delete(probeCgroup);
        Files.createDirectories(probeCgroup);
        long after = (Long) Files.getAttribute(probeCgroup, "unix:ino");
        assertThat(after).as("the recreated cgroup's id").isNotEqualTo(before);
        // the agent re-reads the id (every 10 s) and marks the new cgroup's connects; until then its probes are
        // plaintext from the node, which STRICT refuses
        await().atMost(Duration.ofSeconds(40)).pollInterval(Duration.ofSeconds(1)).untilAsserted(() ->
                assertThat(kubeletProbe("vault", 7000)).isEqualTo("vault:7000 probe"));
        // the agent logs through a background writer: the line may reach the file a little after the probe passes
        await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> assertThat(Files.readString(c.cluster().agentLog("node2")))
                .contains("kubelet probes: cgroup " + probeCgroup.getFileName() + " has id " + after));
        assertThat(fromNode("vault", 7000)).as("a host-namespace process, not the kubelet").isEqualTo("timeout");
    }

    @Test
    void permissiveLetsPlaintextInAndCountsIt() throws IOException {
        apply(pa("tessera-system", "mesh-strict", "mtls: {mode: STRICT}") + "---\n"
                + pa(SHOP, "vault-permissive", "selector: {matchLabels: {app: vault}}\nmtls: {mode: PERMISSIVE}"));
        await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> assertThat(mtls("vault")).isEqualTo("PERMISSIVE"));
        assertThat(mtls("api")).isEqualTo("STRICT"); // mesh-wide default applies where nothing more specific does
        double allowed = plaintext("allowed");
        double unselected = plaintextDecisions("allow", "none", "-1");
        assertThat(call(PLAIN, "outsider", "vault", 7000)).isEqualTo("vault:7000 hi");
        await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> assertThat(plaintext("allowed")).isGreaterThan(allowed));
        // no AuthorizationPolicy selects vault: a decision all the same, as for an mTLS connection
        await().atMost(Duration.ofSeconds(5)).untilAsserted(
                () -> assertThat(plaintextDecisions("allow", "none", "-1")).isGreaterThan(unselected));
        assertThat(call(PLAIN, "outsider", "api", 7000)).isEqualTo("timeout");
    }

    @Test
    void invalidPolicyIsReportedAndChangesNothingElse() throws IOException {
        apply(ap(SHOP, "ops-only", "selector: {matchLabels: {app: api}}\nrules:\n- from:\n  - source:\n      namespaces: [ops]")
                + "---\n" + ap(SHOP, "broken", "selector: {matchLabels: {app: vault}}\naction: DENY\nrules:\n- to:\n"
                + "  - operation:\n      ports: [\"70000\"]"));
        JsonNode broken = policy("broken");
        assertThat(broken.get("status").asText()).isEqualTo("rejected");
        assertThat(broken.get("errors").toString()).contains("spec.rules[0].to[0].operation.ports[0]: '70000' (expected: a port 1-65535)");
        assertThat(policy("ops-only").get("status").asText()).isEqualTo("accepted");
        // the valid policy keeps working exactly as before
        assertThat(call(OPS, "admin", "api", 7000)).isEqualTo("api:7000 hi");
        assertThat(call(SHOP, "front", "api", 7000)).isEqualTo("denied");
        // the invalid DENY never widens access: it denies what it selects (fail closed)
        assertThat(call(SHOP, "front", "vault", 7000)).isEqualTo("denied");
        assertThat(Files.readString(c.cluster().agentLog("node2"))).contains("rejected AuthorizationPolicy shop/broken");
    }

    @Test
    void plaintextIsRefusedByAnAllowThatNamesPrincipalsAndTheDecisionIsCounted() throws IOException {
        double before = plaintextDecisions("deny", "none", "-1");
        apply(ap(SHOP, "client-only", "selector: {matchLabels: {app: api}}\nrules:\n- from:\n  - source:\n      principals: "
                + "[\"cluster.local/ns/shop/sa/front\"]"));
        assertThat(call(PLAIN, "outsider", "api", 7000)).as("a non-meshed pod").isEqualTo("timeout");
        assertThat(call(SHOP, "optout", "api", 7000)).as("an opted-out pod").isEqualTo("timeout");
        assertThat(call(SHOP, "front", "api", 7000)).as("the principal, through the mesh").isEqualTo("api:7000 hi");
        assertThat(kubeletProbe("api", 7000)).as("kubelet probes are not plaintext clients").isEqualTo("api:7000 probe");
        assertThat(fromNode("api", 7000)).as("any other process of the node is").isEqualTo("timeout");
        await().atMost(Duration.ofSeconds(5)).untilAsserted(() ->
                assertThat(plaintextDecisions("deny", "none", "-1")).isGreaterThanOrEqualTo(before + 3));
    }

    @Test
    void plaintextIsRefusedByARejectedDeny() throws IOException {
        double before = plaintextDecisions("deny", "shop/broken-deny", "-1");
        apply(ap(SHOP, "broken-deny", "selector: {matchLabels: {app: api}}\naction: DENY\nrules:\n- to:\n"
                + "  - operation:\n      ports: [\"70000\"]"));
        assertThat(policy("broken-deny").get("status").asText()).isEqualTo("rejected");
        assertThat(call(PLAIN, "outsider", "api", 7000)).isEqualTo("timeout");
        assertThat(call(SHOP, "optout", "api", 7001)).isEqualTo("timeout");
        assertThat(call(SHOP, "front", "api", 7000)).isEqualTo("denied"); // the mesh path is refused the same way
        await().atMost(Duration.ofSeconds(5)).untilAsserted(() ->
                assertThat(plaintextDecisions("deny", "shop/broken-deny", "-1")).isGreaterThanOrEqualTo(before + 2));
    }

    @Test
    void aPlaintextClientAllowedByAnIpBlockAndPortRuleConnects() throws IOException {
        double before = plaintextDecisions("allow", "shop/outsider-7000", "0");
        apply(ap(SHOP, "outsider-7000", "selector: {matchLabels: {app: api}}\nrules:\n- from:\n  - source:\n"
                + "      ipBlocks: [\"" + c.podIp(PLAIN, "outsider") + "/32\"]\n  to:\n  - operation:\n      ports: [\"7000\"]"));
        assertThat(call(PLAIN, "outsider", "api", 7000)).isEqualTo("api:7000 hi");
        assertThat(call(PLAIN, "outsider", "api", 7001)).as("another port").isEqualTo("timeout");
        assertThat(call(SHOP, "optout", "api", 7000)).as("another source").isEqualTo("timeout");
        await().atMost(Duration.ofSeconds(5)).untilAsserted(() ->
                assertThat(plaintextDecisions("allow", "shop/outsider-7000", "0")).isEqualTo(before + 1));
    }

    /** Kernel-decided plaintext attempts reach node2's access log and istio_tcp_* (security policy "none"). */
    @Test
    void plaintextDecisionsAreInTheAccessLogAndTheIstioMetrics() throws IOException {
        double opened = plaintextOpened("-");
        double deniedOpened = plaintextOpened("DENY");
        apply(ap(SHOP, "outsider-7000", "selector: {matchLabels: {app: api}}\nrules:\n- from:\n  - source:\n"
                + "      ipBlocks: [\"" + c.podIp(PLAIN, "outsider") + "/32\"]\n  to:\n  - operation:\n      ports: [\"7000\"]"));
        assertThat(call(PLAIN, "outsider", "api", 7000)).isEqualTo("api:7000 hi");
        assertThat(call(SHOP, "optout", "api", 7000)).isEqualTo("timeout");
        String outsider = "\"src_addr\":\"" + c.podIp(PLAIN, "outsider") + ":";
        String optout = "\"src_addr\":\"" + c.podIp(SHOP, "optout") + ":";
        String api = "\"dst_addr\":\"" + c.podIp(SHOP, "api") + ":7000\"";
        await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> {
            List<String> log = Files.readAllLines(c.cluster().agentLog("node2"));
            assertThat(log).anyMatch(l -> l.contains(outsider) && l.contains(api) && l.contains("\"direction\":\"inbound\"")
                    && l.contains("\"route\":\"plaintext\"") && l.contains("\"reason\":\"OK\"")
                    && l.contains("\"dst_workload\":\"shop/api\"") && l.contains("\"connection_security_policy\":\"none\"")
                    && l.contains("\"policy\":\"shop/outsider-7000\",\"policy_rule\":0"));
            assertThat(log).anyMatch(l -> l.contains(optout) && l.contains(api) && l.contains("\"route\":\"plaintext\"")
                    && l.contains("\"reason\":\"POLICY_DENIED\"") && l.contains("\"policy_decision\":\"deny\""));
            // at least: the kernel program sees the whole machine, so another cluster running beside this one with
            // the same test addresses adds its own plaintext SYNs to node2's pods (and a refused client retransmits)
            assertThat(plaintextOpened("-")).isGreaterThanOrEqualTo(opened + 1);
            assertThat(plaintextOpened("DENY")).isGreaterThanOrEqualTo(deniedOpened + 1);
        });
    }

    // ------------------------------------------------------------------ helpers

    /** "denied" (closed/reset without reply), "timeout" (no connection), or the reply line. */
    private static String call(String ns, String pod, String target, int port) throws IOException {
        String ip = c.podIp(SHOP, target);
        return c.inPod(ns, pod, () -> {
            try (Socket s = new Socket()) {
                try {
                    s.connect(new InetSocketAddress(ip, port), 1500);
                } catch (java.net.SocketTimeoutException e) {
                    return "timeout";
                }
                s.setSoTimeout(5000);
                s.getOutputStream().write("hi\n".getBytes(StandardCharsets.UTF_8));
                String reply = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8)).readLine();
                return reply == null ? "denied" : reply;
            } catch (java.net.SocketTimeoutException e) {
                return "no reply";
            } catch (IOException e) {
                return "denied";
            }
        });
    }

    private static void apply(String yaml) throws IOException {
        c.writeManifest(FILE, yaml);
        Set<String> names = new TreeSet<>();
        for (String line : yaml.split("\n")) {
            if (line.startsWith("  name: ")) {
                names.add(line.substring("  name: ".length()).strip());
            }
        }
        awaitPolicies(names.toArray(String[]::new));
    }

    /** Waits until node2's agent holds exactly the policies named. */
    private static void awaitPolicies(String... names) {
        await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(50)).untilAsserted(() -> {
            List<String> have = new ArrayList<>();
            JSON.readTree(c.admin("node2", "/policies")).path("policies").forEach(p -> have.add(p.get("name").asText()));
            assertThat(have).containsExactlyInAnyOrder(names);
        });
    }

    private static JsonNode policy(String name) throws IOException {
        for (JsonNode p : JSON.readTree(c.admin("node2", "/policies")).path("policies")) {
            if (p.get("name").asText().equals(name)) {
                return p;
            }
        }
        throw new AssertionError("policy " + name + " not reported");
    }

    private static String mtls(String pod) throws IOException {
        for (JsonNode m : JSON.readTree(c.admin("node2", "/policies")).path("mtls")) {
            if (m.get("workload").asText().equals(SHOP + "/" + pod)) {
                return m.get("mode").asText();
            }
        }
        throw new AssertionError("no mTLS mode reported for " + pod);
    }

    /** Node2's {@code istio_tcp_connections_opened_total} of plaintext attempts to shop/api. */
    private static double plaintextOpened(String flags) throws IOException {
        return c.metrics("node2").sumWhere("istio_tcp_connections_opened_total", "reporter", "destination",
                "destination_workload_namespace", "shop", "connection_security_policy", "none",
                "source_principal", "unknown", "response_flags", flags);
    }

    /** Node2's kernel verdicts on plaintext connection attempts (SYNs) to its pods. */
    private static double plaintextDecisions(String decision, String policy, String rule) throws IOException {
        return c.metrics("node2").sumWhere("tessera_policy_decisions_total", "decision", decision, "policy", policy,
                "rule", rule, "stage", "plaintext");
    }

    /**
     * A connection from a process of node2's own namespace that is not the kubelet (a host-network pod, say):
     * source = the node IP, which the pod's kernel program no longer trusts. "timeout" when refused.
     */
    private static String fromNode(String target, int port) throws IOException {
        return Netns.call(c.nodeNetns("node2"), () -> {
            try {
                return Exchange.lineRoundTrip(c.podIp(SHOP, target), port, "probe", 2000);
            } catch (java.net.SocketTimeoutException e) {
                return "timeout";
            }
        });
    }

    /**
     * A kubelet-style probe: a process of node2's namespace placed in the probe cgroup (the agents' --probe-cgroup),
     * whose connection the node SNATs to the probe address. "timeout" when refused.
     */
    private static String kubeletProbe(String target, int port) throws IOException {
        Process p = new ProcessBuilder("nsenter", "--net=" + c.nodeNetns("node2"), "sh", "-c",
                "echo $$ > " + probeCgroup.resolve("cgroup.procs") + " && exec socat -t 2 - TCP:" + c.podIp(SHOP, target)
                        + ":" + port + ",connect-timeout=2").redirectError(ProcessBuilder.Redirect.DISCARD).start();
        try {
            p.getOutputStream().write("probe\n".getBytes(StandardCharsets.UTF_8));
            p.getOutputStream().close();
            String line = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8)).readLine();
            return line == null ? "timeout" : line;
        } finally {
            p.destroyForcibly();
            try {
                p.waitFor(5, java.util.concurrent.TimeUnit.SECONDS); // so the cgroup is empty when it is removed
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    private static double plaintext(String result) throws IOException {
        return c.metrics("node2").sumWhere("tessera_plaintext_connections_total", "destination_workload", "vault",
                "result", result);
    }

    private static String ap(String ns, String name, String spec) {
        return doc("AuthorizationPolicy", ns, name, spec);
    }

    private static String pa(String ns, String name, String spec) {
        return doc("PeerAuthentication", ns, name, spec);
    }

    private static String doc(String kind, String ns, String name, String spec) {
        return "apiVersion: security.tessera.dev/v1alpha1\nkind: " + kind + "\nmetadata:\n  name: " + name
                + "\n  namespace: " + ns + "\nspec:\n  " + spec.replace("\n", "\n  ") + "\n";
    }
}
