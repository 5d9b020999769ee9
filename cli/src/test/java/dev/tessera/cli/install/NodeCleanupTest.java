package dev.tessera.cli.install;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tessera.agent.AgentMain;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.apps.DaemonSet;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** The uninstall DaemonSet runs the agent's own {@code --uninstall} on the pin directory the agent uses. */
class NodeCleanupTest {

    @Test
    void cleanupRunsTheAgentsUninstallOnItsPinDirectoryWithTheAgentsCapabilities() throws Exception {
        Path file = Path.of(System.getProperty("user.dir")).resolve("../daemonset/uninstall/node-cleanup.yaml").normalize();
        List<HasMetadata> objects = Manifests.parse(file.toString(), Files.readString(file));
        assertThat(objects).hasSize(1);
        DaemonSet ds = (DaemonSet) objects.get(0);
        String agentPinDir = new CommandLine(new AgentMain()).getCommandSpec().findOption("--bpf-pin-dir").defaultValue();
        List<Container> all = new java.util.ArrayList<>(ds.getSpec().getTemplate().getSpec().getInitContainers());
        all.addAll(ds.getSpec().getTemplate().getSpec().getContainers());
        assertThat(all).hasSize(2);
        for (Container c : all) {
            var parsed = new CommandLine(new AgentMain()).parseArgs(c.getArgs().toArray(String[]::new));
            assertThat(parsed.hasMatchedOption("--uninstall")).isTrue();
            assertThat((Object) parsed.matchedOptionValue("--bpf-pin-dir", null)).hasToString(agentPinDir);
            assertThat(c.getSecurityContext().getCapabilities().getAdd()).containsExactly("BPF", "NET_ADMIN", "SYS_ADMIN");
            assertThat(c.getSecurityContext().getPrivileged()).isNull();
            assertThat(c.getSecurityContext().getAppArmorProfile().getType()).isEqualTo("Unconfined");
        }
        assertThat(ds.getSpec().getTemplate().getSpec().getAutomountServiceAccountToken()).isFalse();
        // the reply routing it removes lives in the node's network namespace
        assertThat(ds.getSpec().getTemplate().getSpec().getHostNetwork()).isTrue();
    }
}
