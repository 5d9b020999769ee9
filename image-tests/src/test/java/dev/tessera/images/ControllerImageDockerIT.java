package dev.tessera.images;

import static org.assertj.core.api.Assertions.assertThat;

import com.github.dockerjava.api.model.Capability;
import dev.tessera.images.harness.DockerSupport;
import dev.tessera.images.harness.Images;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.testcontainers.DockerClientFactory;
import org.testcontainers.containers.GenericContainer;
import org.testcontainers.containers.startupcheck.OneShotStartupCheckStrategy;
import org.testcontainers.utility.DockerImageName;

/**
 * The controller image as the Deployment runs it: non-root (65532), no capabilities, read-only root file
 * system with a tmpfs /tmp, entry point {@code dev.tessera.controller.ControllerMain}.
 *
 * <p>The controller image serving an agent container (local mode, config push and certificates on 15012) is
 * {@link ControllerAgentDockerIT}.
 */
class ControllerImageDockerIT {

    @BeforeAll
    static void images() throws Exception {
        DockerSupport.requireDocker();
        Images.build();
    }

    @Test
    void runsAsNonRootWithItsMainClassAsEntryPoint() {
        var config = DockerClientFactory.instance().client().inspectImageCmd(Images.CONTROLLER).exec().getConfig();
        assertThat(config.getUser()).isEqualTo("65532:65532");
        assertThat(config.getEntrypoint()).endsWith("-cp", "/opt/tessera/tessera-controller.jar:/opt/tessera/lib/*",
                "dev.tessera.controller.ControllerMain");
    }

    @Test
    void itsRuntimeStartsAsNonRootOnAReadOnlyRootFileSystemWithoutCapabilities() {
        // The image's own java with the controller's class path, run the way the Deployment's securityContext
        // runs it; the JVM reports who it runs as.
        try (var c = new GenericContainer<>(DockerImageName.parse(Images.CONTROLLER))
                .withCreateContainerCmdModifier(cmd -> {
                    cmd.withEntrypoint("/opt/java/bin/java", "-cp", "/opt/tessera/tessera-controller.jar:/opt/tessera/lib/*",
                            "-XshowSettings:properties", "-version");
                    cmd.getHostConfig().withNetworkMode("none").withReadonlyRootfs(true)
                            .withTmpFs(java.util.Map.of("/tmp", "rw,nosuid,size=64m"))
                            .withCapDrop(Capability.ALL);
                })
                .withStartupCheckStrategy(new OneShotStartupCheckStrategy().withTimeout(Duration.ofSeconds(60)))) {
            c.start();
            List<String> lines = c.getLogs().lines().map(String::strip).toList();
            assertThat(lines).contains("user.name = nonroot", "user.home = /home/nonroot", "java.home = /opt/java");
            assertThat(lines).anyMatch(l -> l.startsWith("java.version = 17"));
        }
    }
}
