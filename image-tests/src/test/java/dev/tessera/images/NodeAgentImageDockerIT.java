package dev.tessera.images;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;
import static org.awaitility.Awaitility.await;

import dev.tessera.agent.redirect.BpfRedirector;
import dev.tessera.api.netns.Netns;
import dev.tessera.images.harness.AgentContainer;
import dev.tessera.images.harness.BpfPins;
import dev.tessera.images.harness.ControllerContainer;
import dev.tessera.images.harness.DockerSupport;
import dev.tessera.images.harness.Images;
import dev.tessera.images.harness.LocalNode;
import dev.tessera.images.harness.TestNetwork;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import org.awaitility.core.ConditionTimeoutException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The node agent image, run under Docker as the DaemonSet runs it ({@link AgentContainer}) against the
 * controller image in local mode ({@link ControllerContainer}, its only source of state and certificates): it loads and
 * attaches its eBPF programs to the host's cgroup v2 root, enrolls a pod whose network namespace lives on
 * the host, becomes ready on 15021 and serves metrics on 15020 over the Docker network; SIGTERM ends it
 * within the grace period and leaves capture pinned for the next agent (a DaemonSet rollout), which adopts
 * the same links. Every container, network, namespace and pin is removed after each test, also on failure.
 */
class NodeAgentImageDockerIT {

    private static final Duration READY_TIMEOUT = Duration.ofSeconds(90);
    private static final List<String> LINKS = List.of("tsp_ingress", "tsr_connect4", "tsr_connect6", "tsr_peername4",
            "tsr_peername6", "tsr_sockops");

    private final List<AgentContainer> containers = new ArrayList<>();
    private String prefix;
    private TestNetwork network;
    private LocalNode node;
    private Path pinDir;
    private ControllerContainer controller;
    private String token;

    @BeforeAll
    static void images() throws Exception {
        DockerSupport.requireDockerAndRoot();
        Images.build();
    }

    @BeforeEach
    void setUp() throws Exception {
        prefix = "tsi-" + HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextInt()).substring(0, 6);
        pinDir = Path.of("/sys/fs/bpf", prefix);
        network = TestNetwork.create(prefix);
        node = LocalNode.create(prefix, network.ip(10));
        byte[] b = new byte[24];
        new java.security.SecureRandom().nextBytes(b);
        token = HexFormat.of().formatHex(b);
        controller = new ControllerContainer(prefix + "-controller", network, network.ip(20), node, node.writeTokens(token));
        controller.start();
        await().atMost(READY_TIMEOUT).pollInterval(Duration.ofMillis(250)).ignoreExceptions()
                .until(() -> controller.get("/healthz/ready").statusCode() == 200);
    }

    @AfterEach
    void tearDown() throws Exception {
        for (AgentContainer c : containers) {
            c.stop(); // SIGKILL + remove: whatever the test left running
        }
        if (controller != null) {
            controller.stop();
        }
        try {
            if (Files.exists(pinDir)) {
                BpfRedirector.uninstall(pinDir); // detach every pinned link, remove every pin
            }
        } finally {
            try {
                network.close();
            } finally {
                node.close();
            }
        }
        assertThat(pinDir).doesNotExist();
    }

    @Test
    void startsWithTheDaemonSetCapabilitiesAttachesItsProgramsAndBecomesReady() throws Exception {
        AgentContainer agent = startAgent("a");

        // Exactly the granted capabilities, read from the running agent's process on the host.
        long pid = agent.getDockerClient().inspectContainerCmd(agent.getContainerId()).exec().getState().getPidLong();
        String capEff = Files.readString(Path.of("/proc/" + pid + "/status")).lines()
                .filter(l -> l.startsWith("CapEff:")).findFirst().orElseThrow().split("\\s+")[1];
        assertThat(Long.parseLong(capEff, 16)).as("CapEff of the agent (NET_ADMIN=12, SYS_ADMIN=21)")
                .isEqualTo((1L << 12) | (1L << 21));

        // The programs are attached to the host's cgroup v2 root through links pinned in the test's pin dir.
        Map<String, BpfPins.Link> links = BpfPins.links(pinDir);
        assertThat(links).containsOnlyKeys(LINKS);
        long root = BpfPins.cgroupId(AgentContainer.CGROUP_ROOT);
        assertThat(links.values()).allSatisfy(l -> assertThat(l.cgroupId()).isEqualTo(root));
        assertThat(BpfPins.attachedProgramIds(AgentContainer.CGROUP_ROOT))
                .containsAll(links.values().stream().map(BpfPins.Link::progId).toList());
        // The pod, found through the host's netns directory, is enrolled by its namespace cookie.
        assertThat(BpfPins.enrolledCookies(pinDir)).containsExactly(Netns.cookie(node.podNetns()));

        // The image carries iptables and ip: the agent installed the reply routing of transparent deliveries
        // (in the container's own network namespace here, which goes with the container).
        assertThat(agent.getLogs()).contains("reply routing in place: mark 0x2000/0x2000 -> table 15008");

        // Metrics on 15020 over the Docker network: the pod expected, captured and certified.
        String metrics = agent.get(15020, "/metrics").body();
        assertThat(metrics).contains("tessera_mesh_pods{state=\"expected\"} 1.0",
                "tessera_mesh_pods{state=\"captured\"} 1.0", "tessera_mesh_pods{state=\"certified\"} 1.0");
    }

    @Test
    void sigtermEndsTheAgentWithinTheGraceAndTheNextAgentAdoptsItsPinnedCapture() throws Exception {
        AgentContainer first = startAgent("a");
        Map<String, BpfPins.Link> before = BpfPins.links(pinDir);
        List<Long> attachedBefore = BpfPins.attachedProgramIds(AgentContainer.CGROUP_ROOT);
        long cookie = Netns.cookie(node.podNetns());

        long t0 = System.nanoTime();
        first.stopGracefully(Duration.ofSeconds(30));
        Duration took = Duration.ofNanos(System.nanoTime() - t0);
        // 143 = the JVM exited on SIGTERM after its shutdown hooks (NodeAgent.close); 137 would be the SIGKILL.
        assertThat(first.exitCode()).as("exit code after SIGTERM (logs:\n%s)", first.getLogs()).isEqualTo(143);
        assertThat(took).isLessThan(Duration.ofSeconds(25));
        assertThat(first.getLogs()).doesNotContain(" ERROR ", "Exception").doesNotContainPattern("closing .* failed");

        // Rollout semantics: capture stays (fail closed while no agent runs), the pod stays enrolled.
        assertThat(BpfPins.links(pinDir)).isEqualTo(before);
        assertThat(BpfPins.attachedProgramIds(AgentContainer.CGROUP_ROOT)).containsExactlyInAnyOrderElementsOf(attachedBefore);
        assertThat(BpfPins.enrolledCookies(pinDir)).containsExactly(cookie);

        first.stop();
        AgentContainer second = startAgent("b");
        // The replacement adopts the same links (same link ids: never detached) and swaps its freshly loaded
        // programs into them atomically: as many programs attached to the cgroup as before, none twice.
        Map<String, BpfPins.Link> after = BpfPins.links(pinDir);
        assertThat(after.keySet()).isEqualTo(before.keySet());
        after.forEach((name, link) -> {
            assertThat(link.id()).as("link id of %s", name).isEqualTo(before.get(name).id());
            assertThat(link.attachType()).isEqualTo(before.get(name).attachType());
        });
        List<Long> attachedAfter = BpfPins.attachedProgramIds(AgentContainer.CGROUP_ROOT);
        assertThat(attachedAfter).hasSameSizeAs(attachedBefore).doesNotHaveDuplicates()
                .containsAll(after.values().stream().map(BpfPins.Link::progId).toList());
        assertThat(BpfPins.enrolledCookies(pinDir)).containsExactly(cookie);
        assertThat(second.get(15020, "/metrics").body()).contains("tessera_mesh_pods{state=\"certified\"} 1.0");
    }

    private AgentContainer startAgent(String suffix) throws java.io.IOException {
        var agent = new AgentContainer(prefix + "-agent-" + suffix, network, network.ip(10), pinDir,
                node.controllerAgentFiles(suffix, token), LocalNode.controllerAgentFlags(controller.pushAddress()));
        containers.add(agent);
        agent.start();
        try {
            await().atMost(READY_TIMEOUT).pollInterval(Duration.ofMillis(250)).ignoreExceptions()
                    .until(() -> agent.get(15021, "/healthz/ready").statusCode() == 200);
        } catch (ConditionTimeoutException e) {
            String why;
            try {
                why = agent.get(15021, "/healthz/ready").body();
            } catch (Exception unreachable) {
                why = unreachable.toString();
            }
            fail("agent container not ready on " + agent.ip() + ":15021 within " + READY_TIMEOUT + ": " + why
                    + "\n--- container log ---\n" + agent.getLogs());
        }
        return agent;
    }
}
