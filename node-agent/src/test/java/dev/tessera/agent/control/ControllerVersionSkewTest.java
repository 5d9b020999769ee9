package dev.tessera.agent.control;

import static dev.tessera.agent.control.ControlPlaneFixture.content;
import static dev.tessera.agent.control.ControlPlaneFixture.state;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.tessera.agent.config.ControllerAddress;
import dev.tessera.api.push.MeshConfig;
import dev.tessera.api.push.Message;
import dev.tessera.api.push.ProtocolVersions;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The agent's side of version skew, over real TLS: it negotiates this build's version with a real push
 * server, reports a controller that refuses it (with the controller's reason) and refuses a controller that
 * chooses a version it does not speak; both are kept for readiness and counted until a session is welcomed.
 */
class ControllerVersionSkewTest {

    private static final Duration WAIT = Duration.ofSeconds(20);

    @TempDir
    Path dir;
    private ControlPlaneFixture f;

    @BeforeEach
    void start() throws Exception {
        f = new ControlPlaneFixture(dir);
    }

    @AfterEach
    void stop() {
        f.close();
    }

    @Test
    void anAgentAndAControllerOfThisBuildNegotiateTheCurrentVersion() throws Exception {
        MeshConfig v1 = state(1, 6, "v1");
        f.source.publish(v1);
        f.startServer(0, 8);
        var c = f.client("node1", new CopyOnWriteArrayList<>());
        await().atMost(WAIT).untilAsserted(() -> assertThat(content(c.current())).isEqualTo(content(f.viewOf(c, v1))));
        assertThat(c.protocolVersion()).isEqualTo(ProtocolVersions.CURRENT);
        assertThat(c.versionSkew()).isNull();
        assertThat(c.versionSkewRefusals()).isZero();
        await().atMost(WAIT).untilAsserted(() -> assertThat(f.server.connectedAgents()).singleElement()
                .satisfies(a -> assertThat(a.protocolVersion()).isEqualTo(ProtocolVersions.CURRENT)));
    }

    @Test
    void aControllerThatServesOnlyTheVersionBeforeRefusesAndTheAgentSaysWhatToUpgrade() throws Exception {
        f.source.publish(state(1, 6, "v1"));
        f.startServer(0, 8, new ProtocolVersions.Range(1, 1)); // a controller not upgraded yet
        var c = f.client("node1", new CopyOnWriteArrayList<>());
        await().atMost(WAIT).untilAsserted(() -> assertThat(c.versionSkew()).isNotNull());
        assertThat(c.versionSkew()).isEqualTo("the controller 127.0.0.1:" + f.server.port() + " refused this agent's"
                + " push protocol 4: PROTOCOL_VERSION: agent speaks protocol versions 4, this controller 1 (expected: an"
                + " agent speaking one of 1; upgrade the controller first: it must speak protocol 4 or newer (a"
                + " controller serves agents of its own protocol version and of at least the one before))");
        assertThat(c.synced()).isFalse();
        assertThat(c.protocolVersion()).isZero();
        assertThat(c.versionSkewRefusals()).isPositive();
        assertThat(f.server.counters().versionRefusals()).containsKey("newer");
    }

    @Test
    void aControllerOfProtocolVersion1IsReportedWithTheUpgradeOrder() {
        // what a controller of version 1 (before negotiation) answers: no ranges, so the agent adds the hint
        assertThat(ControllerClient.refusedByController("c:15012", "PROTOCOL_VERSION: protocol version: 4 (expected: 1)"))
                .isEqualTo("the controller c:15012 refused this agent's push protocol 4: PROTOCOL_VERSION: protocol"
                        + " version: 4 (expected: 1) (that controller predates version negotiation and speaks only"
                        + " protocol 1: upgrade the controller first, then the agents)");
    }

    @Test
    void theAgentRefusesAControllerThatChoosesAVersionItDoesNotSpeak() throws Exception {
        try (var server = new PushEpochIT.FakeController(f)) {
            var settings = new ControllerClient.Settings(new ControllerAddress("127.0.0.1", server.port()), "node1",
                    dir.resolve("node1.token"), f.caFile, Duration.ofMillis(50), Duration.ofMillis(500),
                    Duration.ofSeconds(10), Duration.ofSeconds(60));
            var applied = new CopyOnWriteArrayList<MeshConfig>();
            try (var c = new ControllerClient(settings, applied::add, b -> { }).start()) {
                server.accept();
                Message.Hello hello = server.read(Message.Hello.class);
                assertThat(hello.versions()).isEqualTo(ProtocolVersions.AGENT);

                server.send(new Message.Welcome(5, 5, 6)); // a controller two versions ahead that dropped ours
                Message.ErrorFrame error = server.read(Message.ErrorFrame.class);
                String why = "controller chose protocol version 5 (it speaks 5-6), this agent speaks 4 (expected: a"
                        + " controller speaking one of 4; upgrade the agent)";
                assertThat(error.reason()).isEqualTo("PROTOCOL_VERSION: " + why);
                await().atMost(WAIT).untilAsserted(() -> assertThat(c.versionSkew())
                        .isEqualTo("refused the controller 127.0.0.1:" + server.port() + ": " + why));
                assertThat(c.versionSkewRefusals()).isEqualTo(1);
                assertThat(c.protocolVersion()).isZero();
                assertThat(applied).isEmpty();
            }
        }
    }

    @Test
    void aSnapshotBeforeWelcomeIsAProtocolError() throws Exception {
        try (var server = new PushEpochIT.FakeController(f)) {
            var settings = new ControllerClient.Settings(new ControllerAddress("127.0.0.1", server.port()), "node1",
                    dir.resolve("node1.token"), f.caFile, Duration.ofMillis(50), Duration.ofMillis(500),
                    Duration.ofSeconds(10), Duration.ofSeconds(60));
            var applied = new CopyOnWriteArrayList<MeshConfig>();
            try (var c = new ControllerClient(settings, applied::add, b -> { }).start()) {
                server.accept();
                server.read(Message.Hello.class);
                server.send(new Message.Snapshot(1, f.ca.trustBundle(), state(1, 3, "v1")));
                assertThat(server.read(Message.ErrorFrame.class).reason()).isEqualTo("protocol error: SNAPSHOT before"
                        + " WELCOME (expected: a controller of protocol 4 answers HELLO with WELCOME first)");
                assertThat(applied).isEmpty();
            }
        }
    }
}
