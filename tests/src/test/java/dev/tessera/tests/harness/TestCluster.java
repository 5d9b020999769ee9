package dev.tessera.tests.harness;

import static java.util.Objects.requireNonNull;

import dev.tessera.api.netns.Netns;
import dev.tessera.api.netns.NetworkAttachments;
import dev.tessera.cli.local.Names;
import dev.tessera.cli.local.NetnsCluster;
import dev.tessera.localcluster.ClusterDescription;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

/**
 * A real local cluster for one test class: {@link NetnsCluster} built from a {@link ClusterSpec}, with
 * the manifests in their own folder (the agents watch it; {@link #setNamespaceLabels} edits it), helpers
 * to run code and processes inside pods, capture packets, read agent metrics and kill/restart agents.
 * {@link #close} removes everything; a JVM shutdown hook does the same if the test JVM is stopped first.
 */
public final class TestCluster implements AutoCloseable {

    /** How long agents may take to become ready. */
    public static final Duration AGENT_READY_TIMEOUT = Duration.ofSeconds(60);

    private final NetnsCluster cluster;
    private final Path manifestsDir;
    private final Thread shutdownHook;
    private final List<AutoCloseable> resources = new ArrayList<>();
    private volatile ClusterSpec spec;
    private boolean closed;

    private TestCluster(NetnsCluster cluster, Path manifestsDir, ClusterSpec spec) {
        this.cluster = cluster;
        this.manifestsDir = manifestsDir;
        this.spec = spec;
        this.shutdownHook = new Thread(this::destroyQuietly, "test-cluster-down-" + cluster.name());
        Runtime.getRuntime().addShutdownHook(shutdownHook);
    }

    /**
     * Creates cluster {@code name} (use a {@code tsc...} name; a leftover of the same name from a crashed
     * run is removed first) and, if {@code agents}, starts and awaits every node's agent.
     */
    public static TestCluster create(String name, ClusterSpec spec, boolean agents) throws IOException {
        return create(name, spec, agents, List.of());
    }

    /**
     * As {@link #create(String, ClusterSpec, boolean)}, every agent (also those started later by
     * {@link #startAgent}) started with {@code agentFlags} after the usual ones, e.g. {@code
     * List.of("--hbone-idle-timeout", "3s")}.
     */
    public static TestCluster create(String name, ClusterSpec spec, boolean agents, List<String> agentFlags)
            throws IOException {
        return create(name, spec, agents, agentFlags, cluster -> {});
    }

    /**
     * As {@link #create(String, ClusterSpec, boolean, List)}, with {@code beforeAgents} applied to the cluster
     * before any agent starts (e.g. {@link NetnsCluster#agentsInOwnCgroupNamespace}).
     */
    public static TestCluster create(String name, ClusterSpec spec, boolean agents, List<String> agentFlags,
            java.util.function.Consumer<NetnsCluster> beforeAgents) throws IOException {
        return create(name, spec, agents, agentFlags, beforeAgents, false);
    }

    /**
     * As {@link #create(String, ClusterSpec, boolean, List, java.util.function.Consumer)}, dual-stack when
     * {@code dualStack} (every node and pod has an IPv6 address too: {@link #podIp6}, {@link #nodeIp6}).
     */
    public static TestCluster create(String name, ClusterSpec spec, boolean agents, List<String> agentFlags,
            java.util.function.Consumer<NetnsCluster> beforeAgents, boolean dualStack) throws IOException {
        requireNonNull(spec, "spec");
        requireNonNull(agentFlags, "agentFlags");
        // -Dtessera.test.clusterPrefix=h12- keeps concurrent runs from several checkouts on one machine apart
        // (a leftover of the same name is destroyed below: without a prefix that could be another run's cluster).
        name = System.getProperty("tessera.test.clusterPrefix", "") + requireNonNull(name, "name");
        NetnsCluster.destroyIfExists(name);
        Path dir = Files.createTempDirectory("tessera-e2e-" + name + "-");
        Files.writeString(dir.resolve("cluster.yaml"), spec.toYaml());
        ClusterDescription description = ClusterDescription.load(dir);
        NetworkAttachments network = Names.plan(description, name).withDualStack(dualStack);
        NetnsCluster cluster;
        try {
            cluster = NetnsCluster.create(network, dir, description.localCpus());
        } catch (IOException | RuntimeException e) {
            deleteDir(dir);
            throw e;
        }
        cluster.agentFlags(agentFlags);
        var tc = new TestCluster(cluster, dir, spec);
        try {
            beforeAgents.accept(cluster);
        } catch (RuntimeException e) {
            tc.close();
            throw e;
        }
        if (agents) {
            try {
                cluster.startAgents(AGENT_READY_TIMEOUT);
            } catch (IOException | RuntimeException e) {
                tc.close();
                throw e;
            }
        }
        return tc;
    }

    public NetnsCluster cluster() {
        return cluster;
    }

    public String name() {
        return cluster.name();
    }

    public ClusterSpec spec() {
        return spec;
    }

    public String podIp(String namespace, String pod) {
        return cluster.pod(namespace, pod).ip();
    }

    public String nodeIp(String node) {
        return cluster.node(node).ip();
    }

    /** The pod's IPv6 address in a dual-stack cluster. */
    public String podIp6(String namespace, String pod) {
        return cluster.network().ip6(cluster.pod(namespace, pod)).orElseThrow(
                () -> new IllegalStateException("cluster " + name() + " is not dual-stack"));
    }

    /** The node's IPv6 address in a dual-stack cluster. */
    public String nodeIp6(String node) {
        return cluster.network().ip6(cluster.node(node)).orElseThrow(
                () -> new IllegalStateException("cluster " + name() + " is not dual-stack"));
    }

    public Path podNetns(String namespace, String pod) {
        return cluster.podNetns(namespace, pod);
    }

    public Path nodeNetns(String node) {
        return cluster.nodeNetns(node);
    }

    /** Runs {@code task} on a thread inside the pod's network namespace (sockets it opens belong to the pod). */
    public <T> T inPod(String namespace, String pod, Callable<T> task) throws IOException {
        return Netns.call(podNetns(namespace, pod), task);
    }

    /** A thread pool whose threads live in the pod's network namespace; shut down by {@link #close}. */
    public ExecutorService podThreads(String namespace, String pod, int threads) {
        Path netns = podNetns(namespace, pod);
        ExecutorService pool = Executors.newFixedThreadPool(threads, r -> {
            Thread t = new Thread(() -> {
                try {
                    Netns.enter(netns);
                } catch (IOException e) {
                    throw new IllegalStateException(e);
                }
                r.run();
            }, "pod-" + pod);
            t.setDaemon(true);
            return t;
        });
        resources.add(pool::shutdownNow);
        return pool;
    }

    /** Starts a TCP server inside a pod; closed by {@link #close} at the latest. */
    public PodServer server(String namespace, String pod, int port, PodServer.Handler handler) throws IOException {
        PodServer s = PodServer.start(podNetns(namespace, pod), podIp(namespace, pod), port, handler);
        resources.add(s);
        return s;
    }

    /** Starts a TCP server inside a pod on its IPv6 address (a dual-stack cluster); closed by {@link #close} at the latest. */
    public PodServer server6(String namespace, String pod, int port, PodServer.Handler handler) throws IOException {
        PodServer s = PodServer.start(podNetns(namespace, pod), podIp6(namespace, pod), port, handler);
        resources.add(s);
        return s;
    }

    /** Runs a program inside a pod (nsenter --net) and waits for it. */
    public ProcessResult exec(String namespace, String pod, Duration timeout, String... command) throws IOException {
        return ProcessResult.run(podNetns(namespace, pod), timeout, command);
    }

    /** Starts tcpdump on the node's link to the fabric ({@code eth0} in the node namespace). */
    public PacketCapture capture(String node, String filter) throws IOException {
        PacketCapture c = PacketCapture.start(nodeNetns(node), "eth0", filter, cluster.stateDir());
        resources.add(c);
        return c;
    }

    /** The agent's Prometheus metrics, scraped from inside the node namespace. */
    public AgentMetrics metrics(String node) throws IOException {
        return AgentMetrics.scrape(nodeNetns(node), nodeIp(node));
    }

    /** SIGKILLs the node's agent (its BPF pins stay) and waits for it to exit. */
    public void killAgent(String node) throws IOException {
        cluster.killAgent(node);
    }

    /** Starts the node's agent again without waiting for readiness. */
    public long startAgent(String node) throws IOException {
        return cluster.startAgent(node);
    }

    public void awaitAgentReady(String node) throws IOException {
        cluster.awaitAgentReady(node, AGENT_READY_TIMEOUT);
    }

    /** Rewrites the manifests with new labels on {@code namespace} (atomic rename; agents watch the folder). */
    public void setNamespaceLabels(String namespace, Map<String, String> labels) throws IOException {
        ClusterSpec edited = spec.withNamespaceLabels(namespace, labels);
        Path tmp = manifestsDir.resolve(".cluster.yaml.tmp");
        Files.writeString(tmp, edited.toYaml());
        Files.move(tmp, manifestsDir.resolve("cluster.yaml"), StandardCopyOption.REPLACE_EXISTING,
                StandardCopyOption.ATOMIC_MOVE);
        spec = edited;
    }

    /**
     * Writes (or replaces) an extra manifest file, e.g. policies, next to {@code cluster.yaml} in the folder
     * the agents watch (atomic rename). {@code fileName} must end in {@code .yaml}.
     */
    public void writeManifest(String fileName, String yaml) throws IOException {
        if (!fileName.endsWith(".yaml") || fileName.startsWith(".") || fileName.contains("/")
                || fileName.equals("cluster.yaml")) {
            throw new IllegalArgumentException("fileName: '" + fileName + "' (expected: a plain name.yaml other than cluster.yaml)");
        }
        Path tmp = manifestsDir.resolve("." + fileName + ".tmp");
        Files.writeString(tmp, yaml);
        Files.move(tmp, manifestsDir.resolve(fileName), StandardCopyOption.REPLACE_EXISTING,
                StandardCopyOption.ATOMIC_MOVE);
    }

    /** Removes a manifest written by {@link #writeManifest} (no-op when absent). */
    public void removeManifest(String fileName) throws IOException {
        Files.deleteIfExists(manifestsDir.resolve(fileName));
    }

    /** GETs a path of the node agent's admin API (127.0.0.1:15000 inside the node namespace); fails unless HTTP 200. */
    public String admin(String node, String path) throws IOException {
        var r = dev.tessera.cli.local.NodeHttp.get(nodeNetns(node), "127.0.0.1", 15000, path, Duration.ofSeconds(3));
        if (r.status() != 200) {
            throw new IOException("GET admin " + path + " on " + node + ": HTTP " + r.status());
        }
        return r.body();
    }

    /** The network namespace cookie of a pod (unchanged as long as the pod is not recreated). */
    public long podCookie(String namespace, String pod) throws IOException {
        return Netns.cookie(podNetns(namespace, pod));
    }

    @Override
    public synchronized void close() throws IOException {
        if (closed) {
            return;
        }
        closed = true;
        try {
            Runtime.getRuntime().removeShutdownHook(shutdownHook);
        } catch (IllegalStateException shuttingDown) {
            // the hook is running or will run
        }
        destroy();
    }

    private void destroy() throws IOException {
        for (int i = resources.size() - 1; i >= 0; i--) {
            try {
                resources.get(i).close();
            } catch (Exception e) {
                // keep removing the rest
            }
        }
        try {
            cluster.destroy();
        } finally {
            deleteDir(manifestsDir);
        }
    }

    private void destroyQuietly() {
        try {
            destroy();
        } catch (IOException e) {
            System.err.println("test cluster " + cluster.name() + ": " + e.getMessage());
        }
    }

    private static void deleteDir(Path dir) throws IOException {
        if (Files.exists(dir)) {
            try (var s = Files.walk(dir)) {
                for (Path p : s.sorted(java.util.Comparator.reverseOrder()).toList()) {
                    Files.deleteIfExists(p);
                }
            }
        }
    }

    /** Waits for a pool's tasks (helper for tests that use {@link #podThreads}). */
    public static void shutdownAndAwait(ExecutorService pool, Duration timeout) throws InterruptedException {
        pool.shutdown();
        pool.awaitTermination(timeout.toMillis(), TimeUnit.MILLISECONDS);
    }
}
