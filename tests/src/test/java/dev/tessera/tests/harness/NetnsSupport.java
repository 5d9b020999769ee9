package dev.tessera.tests.harness;

import static org.assertj.core.api.Assertions.fail;

import dev.tessera.cli.local.Sh;
import java.io.IOException;
import org.junit.jupiter.api.Assumptions;

/**
 * The root gate of the {@code *NetnsIT} tests. Without root they are skipped, unless the system
 * property {@code tessera.netns.allowSkip=false} (set by scripts/test.sh and CI), in which case they fail.
 */
public final class NetnsSupport {

    private NetnsSupport() {}

    /** Call from {@code @BeforeAll}: skips or fails unless root with the tools the harness uses. */
    public static void requireRoot() {
        boolean allowSkip = Boolean.parseBoolean(System.getProperty("tessera.netns.allowSkip", "true"));
        String problem = null;
        if (!Sh.isRoot()) {
            problem = "network-namespace tests need root (uid 0)";
        } else {
            for (String tool : new String[] {"ip", "nsenter", "setsid", "tcpdump"}) {
                try {
                    if (!Sh.tryRun("sh", "-c", "command -v " + tool).ok()) {
                        problem = tool + " is not installed (expected: scripts/setup.sh was run)";
                    }
                } catch (IOException e) {
                    problem = e.getMessage();
                }
            }
        }
        if (problem == null) {
            return;
        }
        if (allowSkip) {
            Assumptions.abort(problem + " — skipped (tessera.netns.allowSkip=true)");
        }
        fail(problem + " and tessera.netns.allowSkip=false: these tests must run (run as root: sudo scripts/test.sh)");
    }
}
