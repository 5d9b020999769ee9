package dev.tessera.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.tessera.agent.config.AgentConfig;
import dev.tessera.agent.config.ControllerAddress;
import dev.tessera.agent.config.NetnsSource;
import dev.tessera.agent.redirect.BpfRedirector;
import dev.tessera.agent.testing.HandSource;
import dev.tessera.api.identity.CertificateAuthority;
import dev.tessera.api.identity.SpiffeId;
import dev.tessera.api.model.MeshSnapshot;
import dev.tessera.api.model.NodeInfo;
import dev.tessera.api.model.Workload;
import dev.tessera.api.netns.NetworkAttachments;
import dev.tessera.api.policy.PolicySet;
import dev.tessera.api.push.MeshConfig;
import dev.tessera.controller.identity.IssuingCa;
import dev.tessera.controller.identity.StaticTokenAuthenticator;
import dev.tessera.controller.identity.SvidIssuer;
import dev.tessera.controller.push.PushServer;
import dev.tessera.controller.push.PushServerConfig;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The readiness wiring of a whole {@link NodeAgent} (not only the pure {@code Readiness} rule): an agent
 * whose certificate for one local identity is refused by the controller answers 503 on
 * {@code /healthz/ready} naming that identity, and 200 once it is issued.
 *
 * <p>Root: the agent loads and attaches its eBPF programs (pinned under a directory of this run, removed
 * afterwards; no pod is enrolled, so nothing is captured). The controller is a real {@link PushServer} on
 * loopback whose node authorization judges a state the test holds back, the way a controller whose view lags
 * refuses a CSR with {@code NO_POD_ON_NODE}.
 */
@Timeout(120)
class ReadinessWiringNetnsIT {

    private static final String TD = "cluster.local";
    private static final Path PIN_ROOT = Path.of("/sys/fs/bpf/tessera-test-readiness");
    private static final SpiffeId API = new SpiffeId(TD, "shop", "api");
    private static final SpiffeId LATE = new SpiffeId(TD, "shop", "late");

    @TempDir
    Path dir;
    private final HandSource source = new HandSource();
    /** The mesh the controller's node authorization judges CSRs by. */
    private final AtomicReference<MeshSnapshot> issuerView = new AtomicReference<>();
    private PushServer controller;
    private NodeAgent agent;
    private Path pinDir;
    private int readyPort;

    @BeforeEach
    void setUp() throws Exception {
        requireRoot();
        IssuingCa ca = IssuingCa.generate(TD);
        Files.writeString(dir.resolve("node1.token"), "token-of-node1-0123456789abcdef\n");
        var tokens = StaticTokenAuthenticator.parse("tokens", List.of("token-of-node1-0123456789abcdef,node1"));
        Path caFile = dir.resolve("root-cert.pem");
        Files.writeString(caFile, CertificateAuthority.Pem.write(ca.trustBundle().toArray()));
        MeshConfig v1 = state(1, false);
        source.publish(v1);
        issuerView.set(v1.mesh());
        var issuer = new SvidIssuer(ca, tokens, issuerView::get, TD, Duration.ofHours(1));
        controller = new PushServer(PushServerConfig.defaults(TD, "tessera-system")
                .withBind(InetAddress.getByName("127.0.0.1"), 0), source, tokens, issuer, ca).start();

        Path network = dir.resolve("network.json");
        new NetworkAttachments("readiness", List.of(), List.of()).write(network);
        pinDir = PIN_ROOT.resolve("agent-" + ProcessHandle.current().pid());
        readyPort = freePort();
        var config = AgentConfig.parse("--node", "node1", "--node-ip", "127.0.0.1", "--trust-domain", TD,
                "--network", network.toString(), "--bpf-pin-dir", pinDir.toString(), "--mesh-cidr", "198.18.210.0/24",
                "--outbound-port", "" + freePort(), "--inbound-port", "" + freePort(), "--metrics-port", "" + freePort(),
                "--ready-port", "" + readyPort, "--admin-port", "" + freePort(), "--handoff-socket", "none",
                "--controller", "127.0.0.1:" + controller.port(), "--controller-token", dir.resolve("node1.token").toString(),
                "--controller-ca", caFile.toString(),
                // it runs in the host's own namespace: no reply routing there (the test adds nothing it cannot remove)
                "--transparent-delivery", "false");
        agent = NodeAgent.start(config);
    }

    @AfterEach
    void tearDown() throws Exception {
        try {
            if (agent != null) {
                agent.close();
            }
            if (controller != null) {
                controller.close();
            }
        } finally {
            if (Files.isDirectory(PIN_ROOT)) { // this run's pins and any left by an aborted one
                try (var dirs = Files.list(PIN_ROOT)) {
                    dirs.forEach(BpfRedirector::uninstall);
                }
                Files.deleteIfExists(PIN_ROOT);
            }
        }
    }

    @Test
    void aRefusedCertificateKeepsTheAgentUnreadyNamingTheIdentityUntilItIsIssued() throws Exception {
        await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> assertThat(ready()).isEqualTo("200"));

        // shop/late is scheduled here; the controller's node authorization does not know it yet.
        source.publish(state(2, true));
        await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> assertThat(ready())
                .startsWith("503").contains("certificates missing for [" + LATE + "]").doesNotContain(API.toString()));
        assertThat(agent.certificates().failedTotal()).as("refused certificate requests").isPositive();

        issuerView.set(state(2, true).mesh()); // the controller catches up: the next retry is signed
        await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> assertThat(ready()).isEqualTo("200"));
        assertThat(agent.certificates().certificates()).containsKeys(API, LATE);
    }

    /** {@code "200"}, or the status and body, e.g. {@code "503 certificates missing for [...]"}. */
    private String ready() throws IOException, InterruptedException {
        HttpResponse<String> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                URI.create("http://127.0.0.1:" + readyPort + "/healthz/ready")).timeout(Duration.ofSeconds(3)).build(),
                HttpResponse.BodyHandlers.ofString());
        return r.statusCode() == 200 ? "200" : r.statusCode() + " " + r.body().strip();
    }

    /** node1 runs shop/api and, with {@code late}, shop/late; pod addresses nobody else uses. */
    private static MeshConfig state(long version, boolean late) throws IOException {
        var node = new NodeInfo("node1", InetAddress.getByName("127.0.0.1"), "198.18.210.0/24");
        var pods = new java.util.ArrayList<Workload>();
        pods.add(new Workload("shop", "api", "node1", InetAddress.getByName("198.18.210.2"), "api", Map.of("app", "api"),
                true, API));
        if (late) {
            pods.add(new Workload("shop", "late", "node1", InetAddress.getByName("198.18.210.3"), "late",
                    Map.of("app", "late"), true, LATE));
        }
        return new MeshConfig(version, new MeshSnapshot(version, List.of(node), pods, List.of()),
                new PolicySet(version, List.of(), List.of()));
    }

    private static void requireRoot() throws IOException {
        boolean root = Files.readAllLines(Path.of("/proc/self/status")).stream().anyMatch(l -> l.matches("Uid:\\s+0\\s.*"));
        if (!root) {
            String msg = "netns tests need root (cgroup BPF)";
            if (Boolean.parseBoolean(System.getProperty("tessera.netns.allowSkip", "true"))) {
                org.junit.jupiter.api.Assumptions.abort(msg);
            }
            throw new IllegalStateException(msg + "; run as root or leave tessera.netns.allowSkip unset");
        }
    }

    private static int freePort() throws IOException {
        try (var s = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
            return s.getLocalPort();
        }
    }
}
