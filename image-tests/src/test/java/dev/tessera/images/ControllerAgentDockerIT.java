package dev.tessera.images;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tessera.agent.redirect.BpfRedirector;
import dev.tessera.api.identity.CertificateAuthority;
import dev.tessera.images.harness.AgentContainer;
import dev.tessera.images.harness.ControllerContainer;
import dev.tessera.images.harness.DockerSupport;
import dev.tessera.images.harness.Images;
import dev.tessera.images.harness.LocalNode;
import dev.tessera.images.harness.PromText;
import dev.tessera.images.harness.TestNetwork;
import dev.tessera.images.harness.TlsPeek;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ThreadLocalRandom;
import org.awaitility.core.ConditionTimeoutException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The controller image in local mode and an agent container that takes its state and its workload
 * certificate from it, both on one Docker network in 198.19.0.0/16: the controller ({@link ControllerContainer}:
 * user 65532, no capabilities, read-only root file system, only its CA directory writable) reads the cluster's
 * manifests, {@code network.json}, root CA and token file; the agent ({@link AgentContainer}, the DaemonSet's
 * capabilities and mounts) gets its token, the root certificate and {@code network.json} only — no CA key, no
 * manifests — and dials the controller's address on 15012. An agent presenting a token the controller does not
 * know is refused, keeps being refused and never becomes ready. Every container, network, namespace and pin is
 * removed after each test, also on failure.
 */
class ControllerAgentDockerIT {

    private static final Duration READY_TIMEOUT = Duration.ofSeconds(90);
    private static final String IDENTITY = "spiffe://cluster.local/ns/demo/sa/web";
    private static final ObjectMapper JSON = new ObjectMapper();

    private final List<AgentContainer> agents = new ArrayList<>();
    private final List<Path> pinDirs = new ArrayList<>();
    private String prefix;
    private TestNetwork network;
    private LocalNode node;
    private ControllerContainer controller;
    private String token;
    private Instant started;

    @BeforeAll
    static void images() throws Exception {
        DockerSupport.requireDockerAndRoot("nsenter", "curl");
        Images.build();
    }

    @BeforeEach
    void setUp() throws Exception {
        started = Instant.now().truncatedTo(ChronoUnit.SECONDS);
        prefix = "tsd-" + HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextInt()).substring(0, 6);
        network = TestNetwork.create(prefix);
        node = LocalNode.create(prefix, network.ip(10));
        token = randomToken();
        assertThat(node.caDir().resolve("issuing.crt")).as("before the controller starts").doesNotExist();
        controller = new ControllerContainer(prefix + "-controller", network, network.ip(20), node, node.writeTokens(token));
        controller.start();
        awaitReady("controller", controller.ip() + ":15014", () -> controller.get("/healthz/ready"), controller::getLogs);
    }

    @AfterEach
    void tearDown() throws Exception {
        try {
            for (AgentContainer a : agents) {
                a.stop(); // SIGKILL + remove
            }
            if (controller != null) {
                controller.stop();
            }
            for (Path pins : pinDirs) {
                if (Files.exists(pins)) {
                    BpfRedirector.uninstall(pins); // detach every pinned link, remove every pin
                }
            }
        } finally {
            try {
                network.close();
            } finally {
                node.close();
            }
        }
        assertThat(pinDirs).allSatisfy(p -> assertThat(p).doesNotExist());
    }

    @Test
    void anAgentContainerGetsItsCertificateFromTheControllerContainer() throws Exception {
        // The controller as the Deployment runs it: its JVM is user 65532 on a read-only root file system.
        long pid = controller.hostPid();
        assertThat(Files.readString(Path.of("/proc/" + pid + "/status")).lines().filter(l -> l.startsWith("Uid:"))
                .findFirst().orElseThrow().split("\\s+")[1]).isEqualTo(Integer.toString(ControllerContainer.UID));
        assertThat(controller.getDockerClient().inspectContainerCmd(controller.getContainerId()).exec()
                .getHostConfig().getReadonlyRootfs()).isTrue();
        // What it wrote: only the issuing intermediate it derived from the root, next to the root, just now.
        try (var files = Files.list(node.caDir())) {
            assertThat(files.map(p -> p.getFileName().toString()))
                    .containsExactlyInAnyOrder("ca.crt", "ca.key", "issuing.crt", "issuing.key");
        }
        X509Certificate root = CertificateAuthority.load(node.caDir()).certificate();
        X509Certificate issuing = CertificateAuthority.Pem.readCertificates(
                Files.readString(node.caDir().resolve("issuing.crt"))).get(0);
        issuing.verify(root.getPublicKey());
        // Derived by this controller (CertificateAuthority backdates notBefore by 5 minutes against clock skew).
        assertThat(issuing.getNotBefore().toInstant().plusSeconds(300)).isBetween(started.minusSeconds(5), Instant.now());
        PromText before = controller.metrics();
        assertThat(before.get("tessera_controller_connected_agents")).hasValue(0.0);
        assertThat(before.valueOr0("tessera_controller_certificates_issued_total")).isZero();

        AgentContainer agent = startAgent("a", token);
        awaitReady("agent", agent.ip() + ":15021", () -> agent.get(15021, "/healthz/ready"), agent::getLogs);

        // The agent: its pod captured and certified, one certificate requested and issued, valid for the
        // controller's SVID lifetime (24 h).
        PromText agentMetrics = PromText.parse(agent.get(15020, "/metrics").body());
        assertThat(agentMetrics.get("tessera_mesh_pods{state=\"certified\"}")).hasValue(1.0);
        assertThat(agentMetrics.get("tessera_mesh_pods{state=\"captured\"}")).hasValue(1.0);
        assertThat(agentMetrics.valueOr0("tessera_certificate_requests_total{result=\"issued\"}")).isGreaterThanOrEqualTo(1);
        assertThat(agentMetrics.valueOr0("tessera_certificate_requests_total{result=\"failed\"}")).isZero();
        double expiry = agentMetrics.get("tessera_certificate_expiry_timestamp_seconds{identity=\"" + IDENTITY + "\"}")
                .orElseThrow(() -> new AssertionError("no certificate expiry for " + IDENTITY + ": " + agentMetrics));
        assertThat(expiry).isBetween((double) started.plus(Duration.ofHours(23)).getEpochSecond(),
                (double) Instant.now().plus(Duration.ofHours(24)).plusSeconds(60).getEpochSecond());

        // The certificate it holds (its admin API, localhost-only in its network namespace) was signed by the
        // intermediate the controller derived, not by the root: the agent never saw a CA key.
        JsonNode certs = JSON.readTree(agent.getLocal(15000, "/certificates"));
        assertThat(certs).hasSize(1);
        assertThat(certs.get(0).get("identity").asText()).isEqualTo(IDENTITY);
        assertThat(certs.get(0).get("issuer").asText()).isEqualTo(issuing.getSubjectX500Principal().getName())
                .isNotEqualTo(root.getSubjectX500Principal().getName());
        assertThat(certs.get(0).get("chainLength").asInt()).as("leaf + controller intermediate").isEqualTo(2);
        // And that certificate itself, as the agent presents it for the pod's identity on HBONE (15008):
        // signed by the controller's intermediate, for the pod's SPIFFE id, the serial the admin API shows.
        List<X509Certificate> chain = TlsPeek.serverChain(agent.ip(), 15008, "web.demo.cluster.local.spiffe.tessera");
        X509Certificate leaf = chain.get(0);
        leaf.verify(issuing.getPublicKey());
        assertThat(chain).hasSize(2).element(1).isEqualTo(issuing);
        assertThat(leaf.getSerialNumber().toString(16)).isEqualTo(certs.get(0).get("serial").asText());
        assertThat(leaf.getSubjectAlternativeNames()).containsExactly(List.of(6, IDENTITY));

        // The controller: one agent connected over the test network, the certificate counted, nothing refused.
        PromText after = controller.metrics();
        assertThat(after.get("tessera_controller_connected_agents")).hasValue(1.0);
        assertThat(after.valueOr0("tessera_controller_certificates_issued_total")).isGreaterThanOrEqualTo(1);
        assertThat(after.samples()).allSatisfy((k, v) -> {
            if (k.startsWith("tessera_controller_push_rejected_total")
                    || k.startsWith("tessera_controller_certificate_refusals_total")) {
                assertThat(v).as(k).isZero();
            }
        });
        assertThat(after.valueOr0("tessera_controller_push_frames_total{type=\"snapshot\"}")).isGreaterThanOrEqualTo(1);
        assertThat(controller.getLogs()).contains("agent of node " + LocalNode.NODE + " connected from /" + agent.ip());
    }

    @Test
    void anAgentWithAWrongTokenIsRefusedAndNeverBecomesReady() throws Exception {
        AgentContainer intruder = startAgent("x", randomToken());

        // Refused at every attempt (it reconnects with backoff): three refusals, each of them for the token.
        String rejected = "tessera_controller_push_rejected_total{reason=\"TOKEN_INVALID\"}";
        await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(250)).ignoreExceptions()
                .failFast("the controller accepted the agent with the wrong token",
                        () -> controller.metrics().valueOr0("tessera_controller_connected_agents") > 0)
                .until(() -> controller.metrics().valueOr0(rejected) >= 3);
        PromText m = controller.metrics();
        assertThat(m.samples()).allSatisfy((k, v) -> {
            if (k.startsWith("tessera_controller_push_rejected_total") && !k.equals(rejected)) {
                assertThat(v).as(k).isZero();
            }
        });
        assertThat(m.get("tessera_controller_connected_agents")).hasValue(0.0);
        assertThat(m.valueOr0("tessera_controller_certificates_issued_total")).isZero();

        // The agent runs on, not ready: no state, so no pods and no certificate.
        assertThat(intruder.isRunning()).isTrue();
        var ready = intruder.get(15021, "/healthz/ready");
        assertThat(ready.statusCode()).isEqualTo(503);
        assertThat(ready.body()).contains("cluster state not synced");
        PromText agentMetrics = PromText.parse(intruder.get(15020, "/metrics").body());
        assertThat(agentMetrics.valueOr0("tessera_mesh_pods{state=\"certified\"}")).isZero();
        assertThat(agentMetrics.valueOr0("tessera_certificate_requests_total{result=\"issued\"}")).isZero();
        assertThat(intruder.getLogs()).contains("TOKEN_INVALID");
    }

    private AgentContainer startAgent(String suffix, String agentToken) throws Exception {
        Path pins = Path.of("/sys/fs/bpf", prefix + "-" + suffix);
        pinDirs.add(pins);
        var agent = new AgentContainer(prefix + "-agent-" + suffix, network, network.ip(10), pins,
                node.controllerAgentFiles(suffix, agentToken), LocalNode.controllerAgentFlags(controller.pushAddress()));
        agents.add(agent);
        agent.start();
        return agent;
    }

    private static void awaitReady(String what, String where, Callable<java.net.http.HttpResponse<String>> probe,
            java.util.function.Supplier<String> logs) {
        try {
            await().atMost(READY_TIMEOUT).pollInterval(Duration.ofMillis(250)).ignoreExceptions()
                    .until(() -> probe.call().statusCode() == 200);
        } catch (ConditionTimeoutException e) {
            String why;
            try {
                why = probe.call().body();
            } catch (Exception unreachable) {
                why = unreachable.toString();
            }
            fail(what + " container not ready on " + where + " within " + READY_TIMEOUT + ": " + why
                    + "\n--- container log ---\n" + logs.get());
        }
    }

    private static String randomToken() {
        byte[] b = new byte[24];
        new SecureRandom().nextBytes(b);
        return HexFormat.of().formatHex(b);
    }
}
