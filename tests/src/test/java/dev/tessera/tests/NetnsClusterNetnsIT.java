package dev.tessera.tests;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tessera.api.netns.NetworkAttachments;
import dev.tessera.cli.Main;
import dev.tessera.cli.local.NetnsCluster;
import dev.tessera.cli.local.Sh;
import dev.tessera.tests.harness.ClusterSpec;
import dev.tessera.tests.harness.Exchange;
import dev.tessera.tests.harness.NetnsSupport;
import dev.tessera.tests.harness.PacketCapture;
import dev.tessera.tests.harness.Payload;
import dev.tessera.tests.harness.PodServer;
import dev.tessera.tests.harness.ProcessResult;
import dev.tessera.tests.harness.TestCluster;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The harness itself, without agents: the cluster's network carries plain pod-to-pod traffic across
 * and within nodes, processes run inside pods, captures see plaintext, the CLI works against it, and
 * teardown (and a failed setup) leaves nothing behind.
 */
@Timeout(120)
class NetnsClusterNetnsIT {

    private static final ClusterSpec SPEC = ClusterSpec.builder()
            .nodes("node1", "node2")
            .meshedNamespace("mesh")
            .plainNamespace("plain")
            .pod("mesh", "a", "node1", "sa-a")
            .pod("plain", "b", "node2", "sa-b")
            .pod("plain", "c", "node1", "sa-c")
            .build();

    @BeforeAll
    static void root() {
        NetnsSupport.requireRoot();
    }

    @Test
    void buildsAWorkingNetworkAndRemovesEverything() throws Exception {
        String links = Sh.run("ip", "-o", "link");
        String name = "tsc-h1";
        List<String> created;
        try (TestCluster c = TestCluster.create(name, SPEC, false)) {
            NetnsCluster cl = c.cluster();
            created = cl.state().netns();
            assertThat(created).hasSize(2 + 2 + 3); // fabric, controller, 2 nodes, 3 pods
            assertThat(Sh.run("ip", "netns", "list")).contains(created);
            assertThat(c.nodeIp("node2")).isEqualTo("198.18.0.2");
            assertThat(c.podIp("mesh", "a")).isEqualTo("198.18.1.2");
            assertThat(c.podIp("plain", "b")).isEqualTo("198.18.2.2");
            assertThat(c.podIp("plain", "c")).isEqualTo("198.18.1.3");
            assertThat(NetworkAttachments.read(cl.networkFile())).isEqualTo(cl.network());
            assertThat(cl.caDir().resolve("ca.crt")).exists();
            // One token per agent, readable by root only, and the controller's file naming each node.
            assertThat(java.nio.file.Files.getPosixFilePermissions(cl.tokenFile("node1")))
                    .containsExactlyInAnyOrder(java.nio.file.attribute.PosixFilePermission.OWNER_READ,
                            java.nio.file.attribute.PosixFilePermission.OWNER_WRITE);
            assertThat(Files.readString(cl.tokensFile())).contains(Files.readString(cl.tokenFile("node1")).strip() + ",node1")
                    .contains(",node2");
            // The controller's namespace sits on the fabric bridge at .254 (agents reach it in the other tests).
            assertThat(Sh.run("ip", "-n", cl.controlPlaneNetns().getFileName().toString(), "-o", "addr", "show", "eth0"))
                    .contains("198.18.0.254/24");
            // A pin directory like the agent's, to prove teardown removes it.
            Files.createDirectories(cl.bpfPinDir("node1"));

            // Across nodes and on one node, plain sockets, no agent anywhere.
            PodServer b = c.server("plain", "b", 7000, PodServer.lineEcho("b"));
            PodServer cc = c.server("plain", "c", 7000, PodServer.lineEcho("c"));
            assertThat(c.inPod("mesh", "a", () -> Exchange.lineRoundTrip(c.podIp("plain", "b"), 7000, "x", 3000))).isEqualTo("b x");
            assertThat(c.inPod("mesh", "a", () -> Exchange.lineRoundTrip(c.podIp("plain", "c"), 7000, "y", 3000))).isEqualTo("c y");
            assertThat(c.inPod("plain", "b", () -> Exchange.lineRoundTrip(c.podIp("plain", "c"), 7000, "z", 3000))).isEqualTo("c z");
            assertThat(b.accepted()).isEqualTo(1);
            assertThat(cc.accepted()).isEqualTo(2);
            // Without an agent the pod's view of its peer is the peer itself.
            Socket s = c.inPod("mesh", "a", () -> {
                var sock = new Socket();
                sock.connect(new InetSocketAddress(c.podIp("plain", "b"), 7000), 3000);
                return sock;
            });
            s.close();

            // Processes inside pods: they see the pod's address; exit codes come through.
            ProcessResult addr = c.exec("mesh", "a", Duration.ofSeconds(10), "ip", "-4", "-o", "addr", "show", "dev", "eth0");
            assertThat(addr.exitCode()).isZero();
            assertThat(addr.stdout()).contains("198.18.1.2/32");
            assertThat(c.exec("plain", "b", Duration.ofSeconds(10), "sh", "-c", "exit 3").exitCode()).isEqualTo(3);
            assertThat(Main.commandLine().execute("local", "exec", "--name", name, "plain/b", "--", "sh", "-c", "exit 4")).isEqualTo(4);

            // The status command reads the same cluster.
            String json = captureStdout(() -> Main.commandLine().execute("local", "status", "--name", name, "-o", "json"));
            assertThat(json).contains("\"198.18.1.2\"", "\"meshed\" : true", "\"meshed\" : false", "\"agent\" : \"stopped\"");

            // Capture sanity: plaintext between nodes is visible on node1's link (the negative control of the mesh tests).
            PacketCapture capture = c.capture("node1", "tcp port 7001");
            c.server("plain", "b", 7001, sock -> {
                Payload.read(sock.getInputStream(), 4 << 20);
                sock.getOutputStream().write('k'); // everything arrived: the capture saw it pass
            });
            c.inPod("plain", "c", () -> {
                try (var sock = new Socket()) {
                    sock.connect(new InetSocketAddress(c.podIp("plain", "b"), 7001), 3000);
                    Payload.write(sock.getOutputStream(), 4 << 20, 1);
                    assertThat(sock.getInputStream().read()).isEqualTo('k');
                }
                return null;
            });
            PacketCapture.Result r = capture.stop();
            assertThat(r.complete()).as(r.tcpdumpOutput()).isTrue();
            assertThat(r.contains(Payload.MARKER)).as("marker in %d packets, tcpdump: %s, first payload %s", r.packets().size(),
                    r.tcpdumpOutput(), r.packets().stream().filter(p -> p.payload().length > 0).findFirst()
                            .map(p -> new String(p.payload(), java.nio.charset.StandardCharsets.ISO_8859_1)).orElse("-")).isTrue();
            long payload = r.packets().stream().filter(p -> p.dstPort() == 7001).mapToLong(p -> p.payloadLength()).sum();
            assertThat(payload).isGreaterThanOrEqualTo(4 << 20); // retransmissions may add
        }
        assertThat(Sh.run("ip", "netns", "list")).doesNotContain(name + "-");
        assertThat(NetnsCluster.STATE_ROOT.resolve(name)).doesNotExist();
        assertThat(NetnsCluster.BPF_ROOT.resolve(name)).doesNotExist();
        assertThat(Sh.run("ip", "-o", "link")).isEqualTo(links);
    }

    @Test
    void failedSetupRollsBack() throws Exception {
        String name = "tsc-h2";
        NetnsCluster.destroyIfExists(name);
        var bad = new NetworkAttachments(name,
                List.of(new NetworkAttachments.NodeAttachment("node1", "198.18.0.1", "198.18.1.0/24", "/var/run/netns/tsc-h2-n-node1")),
                List.of(new NetworkAttachments.PodAttachment("x", "p", "node1", "198.18.1.999", "/var/run/netns/tsc-h2-p-x-p")));
        assertThatThrownBy(() -> NetnsCluster.create(bad, Files.createTempFile("tsc-h2", ".yaml"), java.util.Map.of()))
                .hasMessageContaining("198.18.1.999");
        assertThat(Sh.run("ip", "netns", "list")).doesNotContain(name + "-");
        assertThat(NetnsCluster.STATE_ROOT.resolve(name)).doesNotExist();
    }

    @Test
    void agentAndControllerCommandLinesCarryTheLocalClusterFlags() throws Exception {
        try (TestCluster c = TestCluster.create("tsc-h3", ClusterSpec.builder().nodes("n1").build(), false)) {
            List<String> cmd = c.cluster().agentCommand("n1");
            assertThat(String.join(" ", cmd)).contains(
                    "-jar " + NetnsCluster.home().resolve("node-agent/target/tessera-node-agent.jar"),
                    "--node n1", "--node-ip 198.18.0.1",
                    "--controller 198.18.0.254:15012",
                    "--controller-token " + c.cluster().tokenFile("n1"),
                    "--controller-ca " + c.cluster().caDir().resolve("ca.crt"),
                    "--network " + c.cluster().networkFile(),
                    "--bpf-pin-dir /sys/fs/bpf/tessera-local/tsc-h3/n1",
                    "--mesh-cidr 198.18.1.0/24,198.19.0.0/20"); // the node's pod CIDR and the Service CIDR
            assertThat(String.join(" ", c.cluster().controllerCommand())).contains(
                    "-jar " + NetnsCluster.home().resolve("controller/target/tessera-controller.jar"),
                    "--local-cluster " + c.cluster().manifests(),
                    "--network " + c.cluster().networkFile(),
                    "--ca-dir " + c.cluster().caDir(),
                    "--tokens " + c.cluster().tokensFile(),
                    "--listen-address 198.18.0.254");
        }
    }

    /**
     * A Node's {@code tessera.dev/local-cpus} runs its agent on those CPUs from its start, and again after an upgrade
     * ({@code restart-agent}); a node without it runs where the CLI runs. The list is kept in state.json, so every
     * later {@code tessera local} command starts that node's agent the same way.
     */
    @Test
    void agentsRunOnTheirNodesCpus() throws Exception {
        var spec = ClusterSpec.builder().nodes("n1", "n2").nodeCpus("n1", "0").build();
        try (TestCluster c = TestCluster.create("tsc-h4", spec, true, List.of("--warm-up", "0"))) {
            NetnsCluster cl = c.cluster();
            assertThat(cpusAllowed(cl.agentPid("n1").orElseThrow())).isEqualTo("0");
            assertThat(cpusAllowed(cl.agentPid("n2").orElseThrow())).isEqualTo(cpusAllowed(ProcessHandle.current().pid()));
            assertThat(cl.state().agentCpus()).isEqualTo(java.util.Map.of("n1", "0"));

            long upgraded = cl.upgradeAgent("n1", Duration.ofSeconds(60), Duration.ofSeconds(30));
            assertThat(cpusAllowed(upgraded)).isEqualTo("0");
            assertThat(cl.agentState("n1")).isEqualTo("ready");
        }
    }

    /** A CPU the machine does not have is refused, naming the field, before a namespace or state file is made. */
    @Test
    void aNodeCpuTheMachineLacksIsRefusedBeforeAnythingIsMade() throws Exception {
        String name = "tsc-h5";
        var spec = ClusterSpec.builder().nodes("n1").nodeCpus("n1", "4095").build();
        String online = Files.readString(java.nio.file.Path.of("/sys/devices/system/cpu/online")).trim();
        assertThatThrownBy(() -> TestCluster.create(name, spec, false)).hasMessage("Node n1: metadata.annotations"
                + "[tessera.dev/local-cpus]: '4095' names CPU 4095, which this machine does not have online (expected: CPUs"
                + " among " + online + ")");
        assertThat(Sh.run("ip", "netns", "list")).doesNotContain(name + "-");
        assertThat(NetnsCluster.STATE_ROOT.resolve(name)).doesNotExist();
    }

    /** The {@code Cpus_allowed_list} of a process, e.g. {@code 0} or {@code 0-1}. */
    private static String cpusAllowed(long pid) throws java.io.IOException {
        return Files.readAllLines(java.nio.file.Path.of("/proc/" + pid + "/status")).stream()
                .filter(l -> l.startsWith("Cpus_allowed_list:")).map(l -> l.substring(l.indexOf(':') + 1).trim())
                .findFirst().orElseThrow();
    }

    private static String captureStdout(Runnable r) {
        PrintStream old = System.out;
        var buf = new ByteArrayOutputStream();
        System.setOut(new PrintStream(buf, true));
        try {
            r.run();
        } finally {
            System.setOut(old);
        }
        return buf.toString();
    }
}
