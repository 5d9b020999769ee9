package dev.tessera.tests;

import static dev.tessera.tests.harness.AgentMetrics.CONNECTIONS_OPENED;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.tessera.tests.harness.ClusterSpec;
import dev.tessera.tests.harness.NetnsSupport;
import dev.tessera.tests.harness.PacketCapture;
import dev.tessera.tests.harness.Payload;
import dev.tessera.tests.harness.Pcap;
import dev.tessera.tests.harness.PodServer;
import dev.tessera.tests.harness.ProcessResult;
import dev.tessera.tests.harness.RawSocket;
import dev.tessera.tests.harness.TestCluster;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Capture through {@code cgroup/connect4}: the clients most applications are (curl, socat, Python, a plain
 * AF_INET socket) open AF_INET sockets, which {@code connect4} handles, while the JDK's default sockets are
 * AF_INET6 and go through {@code connect6}. Each client talks to a meshed pod on the other node on several
 * ports, and each connection must be proven captured, not merely answered (a direct plaintext connection
 * also gets the answer): both agents count it, the node link carries it only inside the tunnel to :15008
 * (no pod-to-pod packet, no plaintext marker), and the kernel's {@code getpeername()} still shows the
 * original destination.
 */
@Timeout(300)
class NativeClientCaptureNetnsIT {

    private static final String MESH = "mesh";
    /** The end-to-end tests' usual port, an HTTP port and a Redis port: capture must not depend on the port. */
    private static final List<Integer> PORTS = List.of(7000, 80, 6379);
    private static final String MARKER = new String(Payload.MARKER, StandardCharsets.US_ASCII);

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
        c = TestCluster.create("tsc-c4", SPEC, true);
        serverIp = c.podIp(MESH, "server");
        for (int port : PORTS) {
            c.server(MESH, "server", port, httpOrLineEcho("server:" + port));
        }
    }

    @AfterAll
    static void down() throws IOException {
        if (c != null) {
            c.close();
        }
    }

    /**
     * Answers an HTTP GET with a 200 whose body is {@code "<tag> <X-Marker header>"}; any other first line
     * {@code L} with {@code "<tag> L"} per line (socat, Python).
     */
    private static PodServer.Handler httpOrLineEcho(String tag) {
        return s -> {
            var in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.US_ASCII));
            OutputStream out = s.getOutputStream();
            String line = in.readLine();
            if (line != null && line.startsWith("GET ")) {
                String marker = "";
                for (String h = in.readLine(); h != null && !h.isEmpty(); h = in.readLine()) {
                    if (h.regionMatches(true, 0, "X-Marker:", 0, 9)) {
                        marker = h.substring(9).strip();
                    }
                }
                byte[] body = (tag + " " + marker).getBytes(StandardCharsets.US_ASCII);
                out.write(("HTTP/1.1 200 OK\r\nContent-Length: " + body.length + "\r\nConnection: close\r\n\r\n")
                        .getBytes(StandardCharsets.US_ASCII));
                out.write(body);
                out.flush();
                return;
            }
            for (; line != null; line = in.readLine()) {
                out.write((tag + " " + line + "\n").getBytes(StandardCharsets.US_ASCII));
                out.flush();
            }
        };
    }

    @Test
    void curlSocatPythonAndRawAfInetSocketsAreCapturedOnEveryPort() throws Exception {
        String node1 = c.nodeIp("node1");
        String node2 = c.nodeIp("node2");
        PacketCapture capture = c.capture("node1", "tcp");
        for (int port : PORTS) {
            String tag = "server:" + port;
            captured("curl to :" + port, () -> {
                ProcessResult r = c.exec(MESH, "client", Duration.ofSeconds(15), "curl", "-sS", "--max-time", "5",
                        "-4", "-H", "X-Marker: " + MARKER, "http://" + serverIp + ":" + port + "/");
                assertThat(r.exitCode()).as("curl: %s", r.stderr()).isZero();
                assertThat(r.stdout()).isEqualTo(tag + " " + MARKER);
            });
            captured("socat to :" + port, () -> {
                ProcessResult r = c.exec(MESH, "client", Duration.ofSeconds(15), "sh", "-c",
                        "echo socat-" + MARKER + " | socat -t 5 -T 5 - TCP4:" + serverIp + ":" + port);
                assertThat(r.exitCode()).as("socat: %s", r.stderr()).isZero();
                assertThat(r.stdout()).isEqualTo(tag + " socat-" + MARKER + "\n");
            });
            captured("python to :" + port, () -> {
                // getpeername() as the kernel answers it (the getpeername4 hook), from a libc client.
                ProcessResult r = c.exec(MESH, "client", Duration.ofSeconds(15), "/usr/bin/python3", "-c",
                        "import socket,sys\n"
                                + "s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)\n"
                                + "s.settimeout(5)\n"
                                + "s.connect((sys.argv[1], int(sys.argv[2])))\n"
                                + "ip, port = s.getpeername()\n"
                                + "s.sendall(b'py-' + sys.argv[3].encode() + b'\\n')\n"
                                + "f = s.makefile('rb')\n"
                                + "print('%s:%d|%s' % (ip, port, f.readline().decode().strip()))\n",
                        serverIp, String.valueOf(port), MARKER);
                assertThat(r.exitCode()).as("python: %s", r.stderr()).isZero();
                assertThat(r.stdout().strip()).isEqualTo(serverIp + ":" + port + "|" + tag + " py-" + MARKER);
            });
            captured("raw AF_INET socket to :" + port, () -> {
                Object[] result = c.inPod(MESH, "client", () -> {
                    try (RawSocket s = RawSocket.connect(new InetSocketAddress(serverIp, port))) {
                        InetSocketAddress peer = s.peer();
                        s.write(("raw-" + MARKER + "\n").getBytes(StandardCharsets.US_ASCII));
                        var reply = new StringBuilder();
                        while (reply.indexOf("\n") < 0) {
                            byte[] b = s.read(256);
                            if (b.length == 0) {
                                break;
                            }
                            reply.append(new String(b, StandardCharsets.US_ASCII));
                        }
                        return new Object[] {peer, reply.toString().strip()};
                    }
                });
                assertThat(result[0]).as("getpeername()").isEqualTo(new InetSocketAddress(serverIp, port));
                assertThat(result[1]).isEqualTo(tag + " raw-" + MARKER);
            });
        }
        PacketCapture.Result r = capture.stop();

        assertThat(r.complete()).as("capture lost packets: %s", r.tcpdumpOutput()).isTrue();
        assertThat(r.contains(Payload.MARKER)).as("plaintext marker on the node1-node2 link").isFalse();
        Set<Integer> appPorts = Set.copyOf(PORTS);
        assertThat(r.packets()).as("packets addressed pod to pod on an application port (a bypass of the tunnel)")
                .noneMatch(p -> appPorts.contains(p.dstPort()) || appPorts.contains(p.srcPort()));
        List<Pcap.Packet> toTunnel = r.packets().stream()
                .filter(p -> p.src().equals(node1) && p.dst().equals(node2) && p.dstPort() == 15008).toList();
        assertThat(toTunnel).as("traffic from node1 to node2's HBONE port").isNotEmpty();
    }

    /**
     * Coverage repair, end to end: the client pod's netns cookie is deleted from the agent's pinned
     * {@code tsr_enrolled} map behind its back (what a crashed enrollment, a CNI race or a stray tool does).
     * The pod's connections then leave uncaptured. Within one coverage check period (5 s) the agent must put
     * the entry back, count the repair, and the pod's traffic must go through the mesh again.
     */
    @Test
    void aPodDeletedFromTheKernelMapIsReEnrolledCountedAndMeshedAgain() throws Exception {
        Path enrolledMap = c.cluster().bpfPinDir("node1").resolve("maps").resolve("tsr_enrolled");
        long cookie = c.podCookie(MESH, "client");
        assertThat(enrolled(enrolledMap)).as("client pod enrolled before the test").contains(cookie);
        double repairs = c.metrics("node1").sum(COVERAGE_REPAIRS);

        var delete = new java.util.ArrayList<>(List.of("bpftool", "map", "delete", "pinned", enrolledMap.toString(),
                "key", "hex"));
        delete.addAll(hexLittleEndian(cookie));
        ProcessResult deleted = ProcessResult.run(c.nodeNetns("node1"), Duration.ofSeconds(10),
                delete.toArray(String[]::new));
        assertThat(deleted.exitCode()).as("bpftool map delete: %s", deleted.stderr()).isZero();

        // One check period (5 s) plus the time to scrape.
        await().atMost(Duration.ofSeconds(8)).pollInterval(Duration.ofMillis(200)).untilAsserted(() -> {
            assertThat(enrolled(enrolledMap)).as("client pod back in tsr_enrolled").contains(cookie);
            assertThat(c.metrics("node1").sum(COVERAGE_REPAIRS)).as(COVERAGE_REPAIRS).isEqualTo(repairs + 1);
        });
        captured("socat after the repair", () -> {
            ProcessResult r = c.exec(MESH, "client", Duration.ofSeconds(15), "sh", "-c",
                    "echo repaired | socat -t 5 -T 5 - TCP4:" + serverIp + ":7000");
            assertThat(r.exitCode()).as("socat: %s", r.stderr()).isZero();
            assertThat(r.stdout()).isEqualTo("server:7000 repaired\n");
        });
    }

    private static final String COVERAGE_REPAIRS = "tessera_mesh_coverage_repairs_total";

    /** The netns cookies in a pinned {@code tsr_enrolled} map (u64 keys, host byte order), read with bpftool. */
    private static Set<Long> enrolled(Path map) throws IOException {
        ProcessResult r = ProcessResult.run(c.nodeNetns("node1"), Duration.ofSeconds(10), "bpftool", "-j",
                "map", "dump", "pinned", map.toString());
        assertThat(r.exitCode()).as("bpftool map dump: %s", r.stderr()).isZero();
        var out = new java.util.HashSet<Long>();
        for (var entry : JSON.readTree(r.stdout())) {
            long v = 0;
            var key = entry.get("key");
            for (int i = key.size() - 1; i >= 0; i--) {
                v = (v << 8) | Long.decode(key.get(i).asText());
            }
            out.add(v);
        }
        return out;
    }

    /** {@code v} as bpftool's {@code key hex} bytes, little endian (the map's key is a host-order u64). */
    private static List<String> hexLittleEndian(long v) {
        var bytes = new java.util.ArrayList<String>();
        for (int i = 0; i < 8; i++) {
            bytes.add(String.format("%02x", (v >>> (8 * i)) & 0xff));
        }
        return bytes;
    }

    private static final com.fasterxml.jackson.databind.ObjectMapper JSON = new com.fasterxml.jackson.databind.ObjectMapper();

    /**
     * Runs one client connection and proves the agents carried it: the outbound agent (node1) and the
     * inbound agent (node2) each count one more connection. A connection that bypassed the capture is
     * answered just the same, so the reply alone proves nothing.
     */
    private static void captured(String what, ThrowingRunnable client) throws Exception {
        double out = c.metrics("node1").sumWhere(CONNECTIONS_OPENED);
        double in = c.metrics("node2").sumWhere(CONNECTIONS_OPENED);
        client.run();
        await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> {
            assertThat(c.metrics("node1").sumWhere(CONNECTIONS_OPENED)).as("%s: connections opened by node1's agent", what)
                    .isEqualTo(out + 1);
            assertThat(c.metrics("node2").sumWhere(CONNECTIONS_OPENED)).as("%s: connections opened by node2's agent", what)
                    .isEqualTo(in + 1);
        });
    }

    @FunctionalInterface
    private interface ThrowingRunnable {
        void run() throws Exception;
    }
}
