package dev.tessera.cli.local;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The controller of one local cluster, in local mode: it reads the cluster's manifests and
 * {@code network.json}, signs workload certificates with the cluster's CA after checking the calling
 * agent's token against {@code tokens}, and pushes state to the agents on
 * {@value NetnsCluster#CONTROLLER_IP}:{@value #PORT} from its own network namespace on the fabric bridge.
 * Pid in {@code controller.pid}, output in {@code controller.log}.
 */
final class ControllerProcess {

    /** Config push port (mTLS). */
    static final int PORT = dev.tessera.api.config.Ports.CONTROLLER_PUSH;
    /** Metrics and health port. */
    static final int METRICS_PORT = dev.tessera.api.config.Ports.CONTROLLER_METRICS;
    /** JVM options unless {@code tessera.controller.jvmOptions} / TESSERA_CONTROLLER_JVM_OPTIONS say otherwise. */
    static final String DEFAULT_JVM_OPTIONS = DetachedProcess.jvmOptionsResource("controller-jvm.options");

    private final NetnsCluster cluster;

    ControllerProcess(NetnsCluster cluster) {
        this.cluster = cluster;
    }

    /** The controller's command line (without the setsid/nsenter prefix). */
    List<String> command() {
        var cmd = new ArrayList<>(DetachedProcess.java("tessera.controller.jvmOptions",
                "TESSERA_CONTROLLER_JVM_OPTIONS", DEFAULT_JVM_OPTIONS));
        cmd.addAll(List.of("-jar", controllerJar().toString(),
                "--local-cluster", cluster.manifests().toString(),
                "--network", cluster.networkFile().toString(),
                "--ca-dir", cluster.caDir().toString(),
                "--tokens", cluster.tokensFile().toString(),
                "--trust-domain", NetnsCluster.TRUST_DOMAIN,
                "--listen-address", NetnsCluster.CONTROLLER_IP,
                "--port", Integer.toString(PORT),
                "--metrics-port", Integer.toString(METRICS_PORT)));
        return cmd;
    }

    static Path controllerJar() {
        String explicit = System.getProperty("tessera.controller.jar", System.getenv("TESSERA_CONTROLLER_JAR"));
        if (explicit != null) {
            return Path.of(explicit);
        }
        return NetnsCluster.home().resolve("controller/target/tessera-controller.jar");
    }

    /** Starts the controller unless it runs already; returns its pid. */
    long start() throws IOException {
        Path jar = controllerJar();
        if (!Files.isRegularFile(jar)) {
            throw new IOException("controller jar: " + jar + " is missing (expected: built by `mvn -B -DskipTests package`)");
        }
        return process().start(cluster.controlPlaneNetns(), command());
    }

    /** Polls {@code /healthz/ready} on {@value #METRICS_PORT} until 200; fails early if the controller exits. */
    void awaitReady(Duration timeout) throws IOException {
        process().awaitReady(cluster.controlPlaneNetns(), NetnsCluster.CONTROLLER_IP, METRICS_PORT, timeout);
    }

    /** {@code ready}, {@code starting} (running, not ready) or {@code stopped}. */
    String state() {
        return process().state(cluster.controlPlaneNetns(), NetnsCluster.CONTROLLER_IP, METRICS_PORT);
    }

    Optional<ProcessHandle> handle() {
        return process().handle();
    }

    void kill() throws IOException {
        process().kill();
    }

    void stop(Duration grace) throws IOException {
        process().stop(grace);
    }

    Path log() {
        return cluster.stateDir().resolve("controller.log");
    }

    private DetachedProcess process() {
        return new DetachedProcess("controller", cluster.stateDir().resolve("controller.pid"), log());
    }
}
