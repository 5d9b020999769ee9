package dev.tessera.images.harness;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The images under test, built once per test JVM by {@code daemonset/images/build.sh} from this checkout's
 * Maven outputs (the base image is rebuilt only when its recipe changed; the rest uses Docker's layer cache).
 */
public final class Images {

    public static final String TAG = "0.1.0";
    public static final String JRE = "tessera/jre:17";
    public static final String NODE_AGENT = "tessera/node-agent:" + TAG;
    public static final String CONTROLLER = "tessera/controller:" + TAG;

    private static boolean built;

    private Images() {}

    /** The repository root (system property {@code tessera.home}, set by the pom). */
    public static Path home() {
        return Path.of(System.getProperty("tessera.home", "..")).toAbsolutePath().normalize();
    }

    /** Builds all three images unless this JVM did already; fails with build.sh's output. */
    public static synchronized void build() throws IOException {
        if (built) {
            return;
        }
        Path script = home().resolve("daemonset/images/build.sh");
        if (!Files.isExecutable(script)) {
            throw new IOException(script + ": missing or not executable");
        }
        String out = Host.run(600, script.toString());
        System.out.print(out);
        built = true;
    }
}
