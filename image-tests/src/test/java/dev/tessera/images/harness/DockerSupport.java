package dev.tessera.images.harness;

import static org.assertj.core.api.Assertions.fail;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Assumptions;
import org.testcontainers.DockerClientFactory;

/**
 * The gate of the {@code *DockerIT} tests, mirroring the netns tests' {@code tessera.netns.allowSkip}: without a
 * Docker engine, root or the host tools they are skipped, unless {@code tessera.docker.allowSkip=false}
 * (scripts/test.sh and CI, which start a private engine with scripts/docker.sh), in which case they fail.
 */
public final class DockerSupport {

    private DockerSupport() {}

    /**
     * Call from {@code @BeforeAll}: a reachable engine, root (BPF pins, netns) and bpftool/ip on the host, plus
     * {@code moreTools} (e.g. nsenter and curl to reach an agent's localhost-only admin API).
     */
    public static void requireDockerAndRoot(String... moreTools) {
        String problem = null;
        if (!DockerClientFactory.instance().isDockerAvailable()) {
            problem = "no Docker engine (DOCKER_HOST=" + System.getenv("DOCKER_HOST")
                    + "; start one with: sudo scripts/docker.sh start && eval \"$(scripts/docker.sh env)\")";
        } else if (!isRoot()) {
            problem = "the agent image tests need root (BPF pins, network namespaces)";
        } else {
            var tools = new java.util.ArrayList<>(java.util.List.of("ip", "bpftool"));
            tools.addAll(java.util.List.of(moreTools));
            for (String tool : tools) {
                if (!Host.has(tool)) {
                    problem = tool + " is not installed (expected: scripts/setup.sh was run)";
                }
            }
        }
        gate(problem);
    }

    /** Call from {@code @BeforeAll}: a reachable engine. */
    public static void requireDocker() {
        gate(DockerClientFactory.instance().isDockerAvailable() ? null
                : "no Docker engine (DOCKER_HOST=" + System.getenv("DOCKER_HOST") + ")");
    }

    private static void gate(String problem) {
        if (problem == null) {
            return;
        }
        boolean allowSkip = Boolean.parseBoolean(System.getProperty("tessera.docker.allowSkip", "true"));
        if (allowSkip) {
            Assumptions.abort(problem + " — skipped (tessera.docker.allowSkip=true)");
        }
        fail(problem + " and tessera.docker.allowSkip=false: these tests must run (sudo scripts/test.sh)");
    }

    private static boolean isRoot() {
        try {
            return Files.readString(Path.of("/proc/self/status")).lines()
                    .filter(l -> l.startsWith("Uid:")).anyMatch(l -> l.split("\\s+")[1].equals("0"));
        } catch (java.io.IOException e) {
            return false;
        }
    }
}
