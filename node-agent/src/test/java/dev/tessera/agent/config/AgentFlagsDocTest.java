package dev.tessera.agent.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tessera.agent.AgentMain;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/**
 * The agent's flags are documented in one place, generated from the options: {@code node-agent/FLAGS.md}
 * holds {@code tessera-node-agent --help}. Regenerate it with
 * {@code mvn -pl node-agent test -Dtest=AgentFlagsDocTest -Dtessera.regenerateDocs=true}.
 */
class AgentFlagsDocTest {

    private static final Path DOC = Path.of("FLAGS.md");

    static String expected() {
        return "# tessera-node-agent flags\n\n"
                + "Generated from the options in `AgentConfig` and `AgentMain` (`tessera-node-agent --help`); do not edit:\n"
                + "`mvn -pl node-agent test -Dtest=AgentFlagsDocTest -Dtessera.regenerateDocs=true` rewrites it.\n\n"
                + "```\n" + AgentMain.usage().stripTrailing() + "\n```\n";
    }

    @Test
    void flagsDocMatchesTheOptions() throws Exception {
        if (Boolean.getBoolean("tessera.regenerateDocs")) {
            Files.writeString(DOC, expected());
        }
        assertThat(Files.readString(DOC)).as("node-agent/FLAGS.md is stale: regenerate it (see this test's Javadoc)")
                .isEqualTo(expected());
    }

    @Test
    void defaultsAreTheDocumentedOnes() {
        var c = AgentConfig.parse("--node", "n1", "--node-ip", "198.18.0.1", "--controller", "c:15012",
                "--netns-source", "cri");
        assertThat(c.outboundPort()).isEqualTo(15001);
        assertThat(c.inboundPort()).isEqualTo(15008);
        assertThat(c.metricsPort()).isEqualTo(15020);
        assertThat(c.readyPort()).isEqualTo(15021);
        assertThat(c.adminPort()).isEqualTo(15000);
        assertThat(c.trustDomain()).isEqualTo("cluster.local");
        assertThat(c.meshCidrs()).containsExactly("0.0.0.0/0");
        assertThat(c.drainTimeout()).isEqualTo(Duration.ofSeconds(5));
        assertThat(c.coverageInterval()).isEqualTo(Duration.ofSeconds(5));
        assertThat(c.metricsEvictionGrace()).isEqualTo(Duration.ofMinutes(5));
        assertThat(c.handoffSocket()).isEqualTo(Path.of("/var/run/tessera/handoff/n1.sock"));
        assertThat(c.controller()).isEqualTo(new ControllerAddress("c", 15012));
        assertThat(c.warmUpConnections()).isEqualTo(1000);
        assertThat(c.transparentDelivery()).isTrue();
        assertThat(c.replyMark()).isEqualTo(0x2000);
        assertThat(c.replyRouteTable()).isEqualTo(15008);
    }

    @Test
    void badValuesNameTheFlagAndTheExpectation() {
        String[] base = {"--node", "n1", "--node-ip", "198.18.0.1", "--controller", "c:15012", "--netns-source", "cri"};
        assertThatThrownBy(() -> AgentConfig.parse("--node-ip", "198.18.0.1")).hasMessageContaining("--node: missing");
        assertThatThrownBy(() -> AgentConfig.parse("--node", "n1", "--node-ip", "198.18.0.1", "--netns-source", "cri"))
                .hasMessageContaining("--controller: missing");
        assertThatThrownBy(() -> AgentConfig.parse("--node", "n1", "--node-ip", "198.18.0.1", "--controller", "c:1"))
                .hasMessageContaining("--network: missing with --netns-source local");
        assertThatThrownBy(() -> AgentConfig.parse(concat(base, "--drain-timeout", "5 parsecs")))
                .hasMessageContaining("--drain-timeout: '5 parsecs' (expected:");
        assertThatThrownBy(() -> AgentConfig.parse(concat(base, "--coverage-interval", "0s")))
                .hasMessageContaining("--coverage-interval: '0s' (expected: a positive duration)");
        assertThatThrownBy(() -> AgentConfig.parse(concat(base, "--ready-port", "70000")))
                .hasMessageContaining("--ready-port: 70000 (expected: 1-65535)");
        assertThatThrownBy(() -> AgentConfig.parse(concat(base, "--netns-source", "docker")))
                .hasMessageContaining("--netns-source: docker (expected: local or cri)");
        assertThatThrownBy(() -> AgentConfig.parse(concat(base, "--warm-up", "-1")))
                .hasMessageContaining("--warm-up: -1 (expected: 0 or more connections)");
        assertThatThrownBy(() -> AgentConfig.parse(concat(base, "--reply-mark", "0x3000")))
                .hasMessageContaining("--reply-mark: 0x3000 (expected: one bit");
        assertThatThrownBy(() -> AgentConfig.parse(concat(base, "--reply-route-table", "32766")))
                .hasMessageContaining("--reply-route-table: 32766 (expected: 1-32765");
        assertThat(AgentConfig.parse(concat(base, "--transparent-delivery", "false")).transparentDelivery()).isFalse();
        assertThatThrownBy(() -> AgentConfig.parse(concat(base, "--no-such-flag")))
                .hasMessageContaining("--no-such-flag");
    }

    private static String[] concat(String[] a, String... b) {
        String[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
