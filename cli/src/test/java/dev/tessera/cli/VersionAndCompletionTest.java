package dev.tessera.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tessera.api.config.BuildInfo;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class VersionAndCompletionTest {

    private record Run(int exit, String out) {}

    private static Run run(String... args) {
        PrintStream old = System.out;
        var bytes = new ByteArrayOutputStream();
        System.setOut(new PrintStream(bytes, true, StandardCharsets.UTF_8));
        try {
            int exit = Main.commandLine().execute(args);
            return new Run(exit, bytes.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(old);
        }
    }

    @Test
    void theBuildKnowsItsVersion() {
        assertThat(BuildInfo.VERSION).isNotEqualTo("unknown").doesNotContain("${").matches("\\d+\\.\\d+\\.\\d+.*");
    }

    @Test
    void clientVersionAsJson() throws Exception {
        Run r = run("version", "--client", "-o", "json");
        assertThat(r.exit()).isZero();
        JsonNode j = new ObjectMapper().readTree(r.out());
        assertThat(j.path("client").path("version").asText()).isEqualTo(BuildInfo.VERSION);
        assertThat(j.path("cluster").isNull()).isTrue();
    }

    @Test
    void clientVersionAsTable() {
        Run r = run("version", "--client");
        assertThat(r.exit()).isZero();
        assertThat(r.out()).isEqualTo(String.format("%-22s %s%n", "client", BuildInfo.VERSION));
    }

    @Test
    void aBadOutputIsAUsageError() {
        // yaml joined table and json (issue 14): something else is still a usage error
        assertThat(run("version", "--client", "-o", "xml").exit()).isEqualTo(2);
    }

    @Test
    void clientVersionAsYaml() {
        var r = run("version", "--client", "-o", "yaml");
        assertThat(r.exit()).isZero();
        assertThat(r.out()).isEqualTo("client:\n  version: " + BuildInfo.VERSION + "\ncluster: null\n");
    }

    @Test
    void completionIsABashScriptCoveringTheSubcommands() {
        Run r = run("completion");
        assertThat(r.exit()).isZero();
        assertThat(r.out()).contains("complete -F _complete_tessera").contains("local").contains("restart-agent")
                .contains("version").contains("--output");
    }
}
