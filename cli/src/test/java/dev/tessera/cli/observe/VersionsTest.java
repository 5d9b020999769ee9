package dev.tessera.cli.observe;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.util.List;
import org.junit.jupiter.api.Test;

class VersionsTest {

    private static final String AGENT = """
            # TYPE tessera_build_info gauge
            tessera_build_info{component="node-agent",version="0.2.0"} 1.0
            tessera_mesh_pods{state="expected"} 2.0
            """;

    @Test
    void theVersionComesFromBuildInfoAndUnknownWithoutIt() {
        assertThat(Versions.version(PromText.parse(AGENT))).isEqualTo("0.2.0");
        assertThat(Versions.version(PromText.parse("tessera_mesh_pods{state=\"expected\"} 2.0\n"))).isEqualTo("unknown");
    }

    @Test
    void anUnreachableAgentIsReportedNotFatal() {
        Versions.Cluster c = Versions.collect("t", () -> PromText.parse(AGENT), List.of("node1", "node2"), node -> {
            if (node.equals("node2")) {
                throw new IOException("connection refused");
            }
            return PromText.parse(AGENT);
        });
        assertThat(c.allAnswered()).isFalse();
        assertThat(c.agents()).containsExactly(new Versions.Component("node1", "0.2.0", null),
                new Versions.Component("node2", null, "connection refused"));
        assertThat(Versions.table("0.2.0", c)).contains("agent node1", "0.2.0")
                .contains(String.format("%-22s %s%n", "agent node2", "unreachable: connection refused"));
    }
}
