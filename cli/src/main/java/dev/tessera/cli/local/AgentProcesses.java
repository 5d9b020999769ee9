package dev.tessera.cli.local;

import dev.tessera.common.local.NetworkAttachments.NodeAttachment;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * Starts and stops the node agents of one local cluster: one detached process per node, inside the
 * node's network namespace, with its pid (and start time, against pid reuse) in
 * {@code agent-<node>.pid} and its output in {@code agent-<node>.log}. Only those pids are ever signalled.
 */
final class AgentProcesses {

    /**
     * JVM options of the agent process unless {@code tessera.agent.jvmOptions} / TESSERA_AGENT_JVM_OPTIONS say
     * otherwise: the resource {@code agent-jvm.options} next to this class, which documents each option.
     */
    static final String DEFAULT_JVM_OPTIONS = defaultJvmOptions();

    private final NetnsCluster cluster;

    AgentProcesses(NetnsCluster cluster) {
        this.cluster = cluster;
    }

    /** The agent's command line for {@code node} (without the setsid/nsenter prefix). */
    List<String> command(NodeAttachment node) {
        var cmd = new ArrayList<String>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        String opts = System.getProperty("tessera.agent.jvmOptions",
                Optional.ofNullable(System.getenv("TESSERA_AGENT_JVM_OPTIONS")).orElse(DEFAULT_JVM_OPTIONS));
        Arrays.stream(opts.trim().split("\\s+")).filter(s -> !s.isEmpty()).forEach(cmd::add);
        cmd.addAll(List.of("-jar", agentJar().toString(),
                "--node", node.name(),
                "--node-ip", node.ip(),
                "--local-cluster", cluster.manifests().toString(),
                "--network", cluster.networkFile().toString(),
                "--ca-dir", cluster.caDir().toString(),
                "--bpf-pin-dir", cluster.bpfPinDir(node.name()).toString(),
                "--mesh-cidr", NetnsCluster.MESH_CIDR));
        return cmd;
    }

    private static String defaultJvmOptions() {
        try (var in = AgentProcesses.class.getResourceAsStream("agent-jvm.options")) {
            if (in == null) {
                throw new IllegalStateException("agent-jvm.options: missing from the CLI jar (expected: a resource of "
                        + AgentProcesses.class.getPackageName() + ")");
            }
            return new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8).lines()
                    .map(String::strip)
                    .filter(l -> !l.isEmpty() && !l.startsWith("#"))
                    .collect(java.util.stream.Collectors.joining(" "));
        } catch (IOException e) {
            throw new java.io.UncheckedIOException("agent-jvm.options: cannot be read", e);
        }
    }

    static Path agentJar() {
        String explicit = System.getProperty("tessera.agent.jar", System.getenv("TESSERA_AGENT_JAR"));
        if (explicit != null) {
            return Path.of(explicit);
        }
        return NetnsCluster.home().resolve("node-agent/target/tessera-node-agent.jar");
    }

    /** Starts the agent of {@code node} unless it runs already; returns its pid. */
    long start(String node) throws IOException {
        NodeAttachment n = cluster.node(node);
        Optional<ProcessHandle> running = handle(node);
        if (running.isPresent()) {
            return running.get().pid();
        }
        Path jar = agentJar();
        if (!Files.isRegularFile(jar)) {
            throw new IOException("agent jar: " + jar + " is missing (expected: built by `mvn -B -DskipTests package`)");
        }
        var cmd = new ArrayList<String>(List.of("setsid", "nsenter", "--net=" + n.netns(), "--"));
        cmd.addAll(command(n));
        Path log = cluster.agentLog(node);
        Files.writeString(log, "# " + java.time.Instant.now() + " starting: " + String.join(" ", cmd) + "\n",
                java.nio.file.StandardOpenOption.CREATE, java.nio.file.StandardOpenOption.APPEND);
        var pb = new ProcessBuilder(cmd)
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
                .redirectError(ProcessBuilder.Redirect.appendTo(log.toFile()));
        pb.environment().putIfAbsent("MALLOC_ARENA_MAX", "2");
        Process p = pb.start();
        long start = p.info().startInstant().map(java.time.Instant::toEpochMilli).orElse(0L);
        Files.writeString(pidFile(node), p.pid() + " " + start + "\n");
        return p.pid();
    }

    /** The live agent process of {@code node}, if the recorded pid still is that process. */
    Optional<ProcessHandle> handle(String node) {
        Path f = pidFile(node);
        if (!Files.isRegularFile(f)) {
            return Optional.empty();
        }
        try {
            String[] parts = Files.readString(f).trim().split("\\s+");
            long pid = Long.parseLong(parts[0]);
            long start = parts.length > 1 ? Long.parseLong(parts[1]) : 0L;
            return ProcessHandle.of(pid).filter(ProcessHandle::isAlive).filter(h -> start == 0L
                    || h.info().startInstant().map(i -> i.toEpochMilli() == start).orElse(false));
        } catch (IOException | RuntimeException e) {
            return Optional.empty();
        }
    }

    /** Sends SIGKILL to the agent of {@code node} and waits until it is gone. */
    void kill(String node) throws IOException {
        Optional<ProcessHandle> h = handle(node);
        if (h.isPresent()) {
            h.get().destroyForcibly();
            awaitExit(h.get(), Duration.ofSeconds(10));
        }
        Files.deleteIfExists(pidFile(node));
    }

    /** SIGTERM, then SIGKILL after {@code grace}. */
    void stop(String node, Duration grace) throws IOException {
        Optional<ProcessHandle> h = handle(node);
        if (h.isPresent()) {
            h.get().destroy();
            if (!awaitExit(h.get(), grace)) {
                h.get().destroyForcibly();
                awaitExit(h.get(), Duration.ofSeconds(10));
            }
        }
        Files.deleteIfExists(pidFile(node));
    }

    private static boolean awaitExit(ProcessHandle h, Duration timeout) throws IOException {
        try {
            h.onExit().get(timeout.toMillis(), TimeUnit.MILLISECONDS);
            return true;
        } catch (java.util.concurrent.TimeoutException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while waiting for agent pid " + h.pid(), e);
        } catch (java.util.concurrent.ExecutionException e) {
            return !h.isAlive();
        }
    }

    Path pidFile(String node) {
        return cluster.stateDir().resolve("agent-" + node + ".pid");
    }
}
