package dev.tessera.cli.local;

import dev.tessera.api.netns.NetworkAttachments.NodeAttachment;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Starts and stops the node agents of one local cluster: one detached process per node, inside the
 * node's network namespace, with its pid (and start time, against pid reuse) in
 * {@code agent-<node>.pid} and its output in {@code agent-<node>.log}. Only those pids are ever signalled.
 * Each agent takes its state, policies and certificates from the cluster's controller, authenticating
 * with its node's token; it finds pod namespaces in {@code network.json}.
 */
final class AgentProcesses {

    /**
     * JVM options of the agent process unless {@code tessera.agent.jvmOptions} / TESSERA_AGENT_JVM_OPTIONS say
     * otherwise: node-agent/src/main/jvm/agent-jvm.options (the image reads the same file), carried by the cli jar
     * as the resource {@code agent-jvm.options} next to this class; it documents each option.
     */
    static final String DEFAULT_JVM_OPTIONS = DetachedProcess.jvmOptionsResource("agent-jvm.options");

    private final NetnsCluster cluster;
    private volatile List<String> extraFlags = List.of();
    private volatile boolean ownCgroupNamespace;

    AgentProcesses(NetnsCluster cluster) {
        this.cluster = cluster;
    }

    /** The agent's command line for {@code node} (without the setsid/nsenter prefix). */
    List<String> command(NodeAttachment node) {
        var cmd = new ArrayList<>(DetachedProcess.java("tessera.agent.jvmOptions", "TESSERA_AGENT_JVM_OPTIONS",
                DEFAULT_JVM_OPTIONS));
        cmd.addAll(List.of("-jar", agentJar().toString(),
                "--node", node.name(),
                "--node-ip", node.ip(),
                "--controller", NetnsCluster.CONTROLLER_IP + ":" + ControllerProcess.PORT,
                "--controller-token", cluster.tokenFile(node.name()).toString(),
                "--controller-ca", cluster.caDir().resolve("ca.crt").toString(),
                "--network", cluster.networkFile().toString(),
                "--bpf-pin-dir", cluster.bpfPinDir(node.name()).toString(),
                "--mesh-cidr", String.join(",", cluster.meshCidrs()),
                "--handoff-socket", handoffSocket(node.name()).toString()));
        cluster.network().ip6(node).ifPresent(ip6 -> cmd.addAll(List.of("--node-ip6", ip6)));
        cmd.addAll(extraFlags);
        return cmd;
    }

    /** Whether agents start in a cgroup namespace of their own (see {@link NetnsCluster#agentsInOwnCgroupNamespace}). */
    void ownCgroupNamespace(boolean own) {
        this.ownCgroupNamespace = own;
    }

    /**
     * The process to run for {@code node}: {@link #command}, on the node's CPUs ({@link #cpuAffinity}); when asked,
     * first moved into a cgroup v2 of its own ({@link #agentCgroup}) and then into a new cgroup namespace rooted
     * there, as a container runtime does.
     */
    private List<String> launch(NodeAttachment node) throws IOException {
        var cmd = new ArrayList<String>();
        if (ownCgroupNamespace) {
            Path cgroup = agentCgroup(node.name());
            Files.createDirectories(cgroup);
            cmd.addAll(List.of("sh", "-c", "echo $$ > \"$0/cgroup.procs\" && exec unshare --cgroup -- \"$@\"",
                    cgroup.toString()));
        }
        cmd.addAll(cpuAffinity(node.name()));
        cmd.addAll(command(node));
        return cmd;
    }

    /**
     * {@code taskset -c LIST} when the node has {@code tessera.dev/local-cpus} (the agent then runs on those CPUs
     * from its first instruction: its JVM and event loops are sized for them, as on a node of its own), else nothing.
     * taskset execs the agent, so the recorded pid stays the agent's.
     */
    List<String> cpuAffinity(String node) {
        return cluster.agentCpus(node).map(cpus -> List.of("taskset", "-c", cpus)).orElse(List.of());
    }

    /** The cgroup v2 an agent started in its own cgroup namespace runs in (removed with the cluster). */
    Path agentCgroup(String node) throws IOException {
        return cgroupV2Root().resolve("tessera-local-" + cluster.name() + "-" + node);
    }

    /** Where cgroup v2 is mounted, from /proc/self/mountinfo. */
    static Path cgroupV2Root() throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/mountinfo"))) {
            String[] halves = line.split(" - ", 2);
            String[] f = halves[0].split(" ");
            if (halves.length == 2 && halves[1].startsWith("cgroup2 ") && f.length > 4) {
                return Path.of(f[4]);
            }
        }
        throw new IOException("no cgroup2 mount in /proc/self/mountinfo (expected: cgroup v2 mounted)");
    }

    /** Removes the cgroups {@link #launch} made for this cluster's agents (empty once they exited). */
    void removeCgroups(List<String> errors) {
        try (var dirs = Files.list(cgroupV2Root())) {
            for (Path d : (Iterable<Path>) dirs::iterator) {
                if (d.getFileName().toString().startsWith("tessera-local-" + cluster.name() + "-")) {
                    try {
                        Files.deleteIfExists(d); // rmdir of a cgroup: its control files go with it
                    } catch (IOException e) {
                        errors.add("cgroup " + d + ": " + e.getMessage());
                    }
                }
            }
        } catch (IOException e) {
            errors.add("cgroups: " + e.getMessage());
        }
    }

    /** Flags appended to the agents' command lines (see {@link NetnsCluster#agentFlags}). */
    void extraFlags(List<String> flags) {
        this.extraFlags = List.copyOf(flags);
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
        Path jar = agentJar();
        if (!Files.isRegularFile(jar)) {
            throw new IOException("agent jar: " + jar + " is missing (expected: built by `mvn -B -DskipTests package`)");
        }
        return process(node).start(Path.of(n.netns()), launch(n));
    }

    /** The live agent process of {@code node}, if the recorded pid still is that process. */
    Optional<ProcessHandle> handle(String node) {
        return process(node).handle();
    }

    /** Sends SIGKILL to the agent of {@code node} and waits until it is gone. */
    void kill(String node) throws IOException {
        process(node).kill();
    }

    /** SIGTERM, then SIGKILL after {@code grace}. */
    void stop(String node, Duration grace) throws IOException {
        process(node).stop(grace);
    }

    /** Polls the agent's {@code /healthz/ready} until 200; fails early if it exits. */
    void awaitReady(String node, Duration timeout) throws IOException {
        NodeAttachment n = cluster.node(node);
        process(node).awaitReady(Path.of(n.netns()), n.ip(), dev.tessera.cli.observe.Agents.READY, timeout);
    }

    /** {@code ready}, {@code starting} or {@code stopped}. */
    String state(String node) {
        NodeAttachment n = cluster.node(node);
        return process(node).state(Path.of(n.netns()), n.ip(), dev.tessera.cli.observe.Agents.READY);
    }

    /** The last lines of the agent's log. */
    String logTail(String node, int lines) {
        return process(node).logTail(lines);
    }

    Path pidFile(String node) {
        return cluster.stateDir().resolve("agent-" + node + ".pid");
    }

    /** Where the agent of {@code node} serves its listeners to the next one (listener handoff). */
    Path handoffSocket(String node) {
        return cluster.stateDir().resolve("handoff-" + node + ".sock");
    }

    /** During an upgrade: the previous agent of {@code node}, draining, until it exited. */
    Path previousPidFile(String node) {
        return cluster.stateDir().resolve("agent-" + node + ".previous.pid");
    }

    /**
     * Upgrades the agent of {@code node} without refusing a connection: starts a new agent while the old
     * one runs (the new one takes the listening sockets over the handoff socket), waits until the new one
     * is ready, then sends SIGTERM to the old one and waits up to {@code exitTimeout} for it to finish its
     * open connections and exit (SIGKILL after that). While both run, the old pid is recorded in
     * {@code agent-<node>.previous.pid} and the new one in {@code agent-<node>.pid}.
     *
     * @return the new agent's pid
     */
    long upgrade(String node, Duration readyTimeout, Duration exitTimeout) throws IOException {
        NodeAttachment n = cluster.node(node);
        try (NodeLock held = lock(node)) {
            return upgradeLocked(node, n, readyTimeout, exitTimeout);
        }
    }

    private long upgradeLocked(String node, NodeAttachment n, Duration readyTimeout, Duration exitTimeout)
            throws IOException {
        DetachedProcess previous = previous(node);
        finishInterrupted(node, n, previous, readyTimeout, exitTimeout);
        ProcessHandle old = handle(node).orElseThrow(() -> new IOException("agent of " + node
                + ": not running (expected: a running agent to upgrade; start one instead)"));
        Files.move(pidFile(node), previousPidFile(node), java.nio.file.StandardCopyOption.REPLACE_EXISTING,
                java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        long pid;
        try {
            pid = start(node);
            process(node).awaitReady(Path.of(n.netns()), n.ip(), dev.tessera.cli.observe.Agents.READY, readyTimeout,
                    "pid=" + pid);
        } catch (IOException | RuntimeException e) {
            process(node).kill(); // the new agent, if it started; the old one keeps serving
            Files.move(previousPidFile(node), pidFile(node), java.nio.file.StandardCopyOption.REPLACE_EXISTING,
                    java.nio.file.StandardCopyOption.ATOMIC_MOVE);
            throw new IOException("upgrade of the agent of " + node + " failed (the previous agent, pid " + old.pid()
                    + ", keeps serving): " + e.getMessage(), e);
        }
        previous.stop(exitTimeout); // SIGTERM: it drains its open connections, then exits
        return pid;
    }

    /**
     * An upgrade interrupted between its start of the new agent and its stop of the old one (the CLI killed) left the
     * old agent running under {@code agent-<node>.previous.pid}. The next upgrade would have moved the current pid over
     * that record and lost the old agent. Instead it completes the interrupted one: the old agent is stopped (it
     * drains) once the new one is ready, or, when the new one is gone, recorded as the current agent again.
     */
    private void finishInterrupted(String node, NodeAttachment n, DetachedProcess previous, Duration readyTimeout,
            Duration exitTimeout) throws IOException {
        if (previous.handle().isEmpty()) {
            return;
        }
        Optional<ProcessHandle> current = handle(node);
        if (current.isPresent()) {
            System.err.println("completing an interrupted upgrade of the agent of " + node + ": stopping the previous"
                    + " agent once the current one is ready");
            process(node).awaitReady(Path.of(n.netns()), n.ip(), dev.tessera.cli.observe.Agents.READY, readyTimeout,
                    "pid=" + current.get().pid());
            previous.stop(exitTimeout);
        } else {
            System.err.println("an interrupted upgrade of the agent of " + node + " left its previous agent serving:"
                    + " upgrading that one");
            Files.move(previousPidFile(node), pidFile(node), java.nio.file.StandardCopyOption.REPLACE_EXISTING,
                    java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        }
    }

    /** Stops the agent of {@code node} and, if an upgrade was interrupted, its previous agent. */
    void stopAll(String node, Duration grace) throws IOException {
        try (NodeLock held = lock(node)) {
            previous(node).stop(grace);
            stop(node, grace);
        }
    }

    /**
     * The lock {@link #upgrade} and {@link #stopAll} hold on the agent processes of {@code node} (see {@link NodeLock}):
     * a second {@code restart-agent} of the node waits for the first, then upgrades the agent the first one started.
     */
    NodeLock lock(String node) throws IOException {
        return NodeLock.acquire(cluster.stateDir().resolve("agent-" + node + ".lock"), "the agent of " + node
                + " (cluster " + cluster.name() + ")", System.err);
    }

    /** During an upgrade (or after an interrupted one): the previous agent of {@code node}. */
    private DetachedProcess previous(String node) {
        return new DetachedProcess("previous agent of " + node, previousPidFile(node), cluster.agentLog(node));
    }

    private DetachedProcess process(String node) {
        return new DetachedProcess("agent of " + node, pidFile(node), cluster.agentLog(node));
    }
}
