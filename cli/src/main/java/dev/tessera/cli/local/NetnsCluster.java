package dev.tessera.cli.local;

import static java.util.Objects.requireNonNull;

import dev.tessera.api.identity.CertificateAuthority;
import dev.tessera.api.netns.NetworkAttachments.NodeAttachment;
import dev.tessera.api.netns.NetworkAttachments.PodAttachment;
import dev.tessera.api.netns.NetworkAttachments;
import dev.tessera.localcluster.ClusterDescription;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.stream.Stream;

/**
 * A local cluster made of Linux network namespaces: a "fabric" namespace with a bridge, one namespace
 * per node (veth to the bridge, 198.18.0.i/24, IP forwarding, routes to the other nodes' pod CIDRs) and
 * one per pod (veth to its node, pod IP/32, default route via the node). Its state lives in
 * {@code /run/tessera/local/<name>/}: {@code state.json}, {@code network.json}, the local CA
 * ({@code ca/}), agent pid files and logs. Agents pin their BPF objects under
 * {@code /sys/fs/bpf/tessera-local/<name>/<node>}.
 *
 * <p>{@link #create} rolls back on failure; {@link #destroy} stops only the agents this cluster started
 * and removes every namespace (their veths go with them), the pins and the state directory.
 */
public final class NetnsCluster implements AutoCloseable {

    /** Parent of every local cluster's state directory. */
    public static final Path STATE_ROOT = Path.of("/run/tessera/local");
    /** Parent of every local cluster's BPF pin directory. */
    public static final Path BPF_ROOT = Path.of("/sys/fs/bpf/tessera-local");
    /** The cluster name used when none is given. */
    public static final String DEFAULT_NAME = "tessera";
    /** Trust domain of the local CA. */
    public static final String TRUST_DOMAIN = "cluster.local";
    /** The controller's address on the fabric bridge (node addresses are 198.18.0.1 and up). */
    public static final String CONTROLLER_IP = "198.18.0.254";
    /** The name, inside the fabric namespace, of the veth that links the controller to the bridge. */
    static final String CONTROLLER_VETH = "vcp";

    private final ClusterState state;
    private final NetworkAttachments network;
    private final Path stateDir;
    private final AgentProcesses agents;
    private final ControllerProcess controller;

    private NetnsCluster(ClusterState state, NetworkAttachments network) {
        this.state = state;
        this.network = network;
        this.stateDir = STATE_ROOT.resolve(state.name());
        this.agents = new AgentProcesses(this);
        this.controller = new ControllerProcess(this);
    }

    /**
     * Builds the namespaces and links for {@code network} (whose netns paths must be under
     * /var/run/netns), writes network.json and a new local CA. {@code manifests} is what agents watch.
     * {@code agentCpus}: node -> the CPU list its agent runs on ({@link ClusterDescription#localCpus()}), checked
     * here against the CPUs this machine has online, before anything is made.
     */
    public static NetnsCluster create(NetworkAttachments network, Path manifests, Map<String, String> agentCpus)
            throws IOException {
        requireNonNull(network, "network");
        requireNonNull(manifests, "manifests");
        requireOnline(agentCpus);
        requireRoot();
        String name = Names.checkCluster(network.cluster());
        Path dir = STATE_ROOT.resolve(name);
        if (Files.exists(dir)) {
            throw new IOException("cluster '" + name + "' already exists (" + dir + "); remove it with `tessera local down --name " + name + "`");
        }
        var fabricVeths = new LinkedHashMap<String, String>();
        var podVeths = new LinkedHashMap<String, String>();
        var netns = new ArrayList<String>();
        String fabric = Names.fabricNetns(name);
        netns.add(fabric);
        netns.add(Names.controlPlaneNetns(name));
        int i = 0;
        for (NodeAttachment n : network.nodes()) {
            netns.add(netnsName(n.netns(), "node " + n.name()));
            fabricVeths.put(n.name(), "v" + (++i));
        }
        for (PodAttachment p : network.pods()) {
            netns.add(netnsName(p.netns(), "pod " + p.key()));
            podVeths.put(p.key(), "p" + p.ip().substring(p.ip().lastIndexOf('.') + 1));
        }
        for (String ns : netns) {
            if (Files.exists(Names.netnsPath(ns))) {
                throw new IOException("network namespace '" + ns + "' already exists (expected: a cluster name not in use)");
            }
        }
        Files.createDirectories(dir);
        var state = new ClusterState(name, manifests.toAbsolutePath().normalize().toString(), fabric, netns, fabricVeths,
                podVeths, agentCpus);
        state.write(dir.resolve("state.json"));
        var cluster = new NetnsCluster(state, network);
        try {
            new NetworkBuilder(cluster).build();
            network.write(cluster.networkFile());
            CertificateAuthority.generate(TRUST_DOMAIN).save(cluster.caDir());
            cluster.writeTokens();
            return cluster;
        } catch (IOException | RuntimeException e) {
            try {
                cluster.destroy();
            } catch (IOException rollback) {
                e.addSuppressed(rollback);
            }
            throw e;
        }
    }

    /** Opens an existing cluster from its state directory. */
    public static NetnsCluster open(String name) throws IOException {
        Path dir = STATE_ROOT.resolve(Names.checkCluster(name));
        Path stateFile = dir.resolve("state.json");
        if (!Files.isRegularFile(stateFile)) {
            throw new IOException("cluster '" + name + "' not found (expected: one of " + names() + ")");
        }
        ClusterState state = ClusterState.read(stateFile);
        Path net = dir.resolve("network.json");
        NetworkAttachments network = Files.isRegularFile(net) ? NetworkAttachments.read(net)
                : new NetworkAttachments(name, List.of(), List.of());
        return new NetnsCluster(state, network);
    }

    /** Removes the cluster {@code name} if its state directory exists; true when it did. */
    public static boolean destroyIfExists(String name) throws IOException {
        if (!Files.isRegularFile(STATE_ROOT.resolve(Names.checkCluster(name)).resolve("state.json"))) {
            return false;
        }
        open(name).destroy();
        return true;
    }

    /** Names of the local clusters that exist on this machine. */
    public static List<String> names() throws IOException {
        if (!Files.isDirectory(STATE_ROOT)) {
            return List.of();
        }
        try (Stream<Path> s = Files.list(STATE_ROOT)) {
            return s.filter(p -> Files.isRegularFile(p.resolve("state.json")))
                    .map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    /** {@code name} if given; otherwise the only cluster, or {@value #DEFAULT_NAME} among several. */
    public static String resolve(String name) throws IOException {
        if (name != null) {
            return Names.checkCluster(name);
        }
        List<String> all = names();
        if (all.size() == 1) {
            return all.get(0);
        }
        if (all.contains(DEFAULT_NAME) || all.isEmpty()) {
            return DEFAULT_NAME;
        }
        throw new IOException("several local clusters exist " + all + " (expected: --name NAME)");
    }

    /** The repository root: system property {@code tessera.home}, else derived from the CLI jar's location. */
    public static Path home() {
        String p = System.getProperty("tessera.home");
        if (p != null) {
            return Path.of(p).toAbsolutePath().normalize();
        }
        try {
            Path jar = Path.of(NetnsCluster.class.getProtectionDomain().getCodeSource().getLocation().toURI());
            return jar.getParent().getParent().getParent(); // <home>/cli/target/tessera-cli.jar
        } catch (Exception e) {
            return Path.of("").toAbsolutePath();
        }
    }

    /** Fails with a clear message unless this process runs as root. */
    public static void requireRoot() throws IOException {
        if (!Sh.isRoot()) {
            throw new IOException("local clusters need root (network namespaces, BPF): run as root, e.g. sudo ./tessera ...");
        }
    }

    private static String netnsName(String path, String what) {
        Path p = Path.of(path);
        if (!Names.NETNS_DIR.equals(p.getParent())) {
            throw new IllegalArgumentException(what + " netns: " + path + " (expected: /var/run/netns/NAME)");
        }
        return p.getFileName().toString();
    }

    public String name() {
        return state.name();
    }

    public ClusterState state() {
        return state;
    }

    /**
     * The agents' {@code --mesh-cidr}s: the cluster's pod CIDRs (one per node) and the Service CIDR, as a
     * real cluster's install carries them. Nodes and the controller lie outside.
     */
    public List<String> meshCidrs() {
        List<String> out = new ArrayList<>();
        network.nodes().forEach(n -> out.add(n.podCidr()));
        out.add(dev.tessera.localcluster.LocalServiceVips.SERVICE_CIDR);
        network.nodes().forEach(n -> network.podCidr6(n).ifPresent(out::add));
        return out;
    }

    public NetworkAttachments network() {
        return network;
    }

    public Path stateDir() {
        return stateDir;
    }

    public Path networkFile() {
        return stateDir.resolve("network.json");
    }

    /**
     * Asks the running controller to rotate to a new root (what {@code tessera local rotate-root} runs): the
     * new root is appended to {@code ca.crt} (agents verify the controller with it on every reconnect) and
     * written with its key and the overlap to {@code rotation/} under the CA directory, made visible by one
     * rename; the controller takes it from there (see {@code LocalRotationRequests}).
     *
     * @return the new root
     * @throws IllegalStateException when a rotation is already under way
     */
    public java.security.cert.X509Certificate rotateRoot(Duration overlap) throws IOException {
        Path dir = caDir();
        Path request = dir.resolve("rotation");
        if (Files.exists(request)) {
            throw new IllegalStateException("a root rotation is already under way (" + request
                    + " exists); see `tessera check`");
        }
        CertificateAuthority next = CertificateAuthority.generate(TRUST_DOMAIN);
        Path caCrt = dir.resolve(CertificateAuthority.CERT_FILE);
        var roots = new java.util.ArrayList<>(CertificateAuthority.Pem.readCertificates(Files.readString(caCrt)));
        roots.add(next.certificate());
        Path tmpCrt = dir.resolve(CertificateAuthority.CERT_FILE + ".tmp");
        Files.writeString(tmpCrt, CertificateAuthority.Pem.write(roots.toArray()));
        Files.move(tmpCrt, caCrt, java.nio.file.StandardCopyOption.REPLACE_EXISTING,
                java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        Path tmp = dir.resolve("rotation.tmp");
        if (Files.exists(tmp)) {
            try (var files = Files.list(tmp)) {
                for (Path p : files.toList()) {
                    Files.delete(p);
                }
            }
            Files.delete(tmp);
        }
        next.save(tmp);
        Files.writeString(tmp.resolve("overlap"), overlap.toString());
        Files.move(tmp, request, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        return next.certificate();
    }

    public Path caDir() {
        return stateDir.resolve("ca");
    }

    /** The controller's static token file: one {@code token,node} line per agent (mode 0600). */
    public Path tokensFile() {
        return stateDir.resolve("tokens");
    }

    /** The token the agent of {@code node} authenticates to the controller with (mode 0600). */
    public Path tokenFile(String node) {
        return stateDir.resolve("token-" + node);
    }

    /** The controller's network namespace. */
    public Path controlPlaneNetns() {
        return Names.netnsPath(Names.controlPlaneNetns(name()));
    }

    /** A random 256-bit token per node: the local stand-in for the agents' projected service-account tokens. */
    private void writeTokens() throws IOException {
        var random = new java.security.SecureRandom();
        var lines = new StringBuilder("# token,node: written by `tessera local up`, read by the controller\n");
        for (NodeAttachment n : network.nodes()) {
            byte[] b = new byte[32];
            random.nextBytes(b);
            String token = java.util.HexFormat.of().formatHex(b);
            writePrivate(tokenFile(n.name()), token + "\n");
            lines.append(token).append(',').append(n.name()).append('\n');
        }
        writePrivate(tokensFile(), lines.toString());
    }

    private static void writePrivate(Path file, String content) throws IOException {
        Files.deleteIfExists(file);
        Files.createFile(file, java.nio.file.attribute.PosixFilePermissions.asFileAttribute(
                java.nio.file.attribute.PosixFilePermissions.fromString("rw-------")));
        Files.writeString(file, content);
    }

    public Path manifests() {
        return Path.of(state.manifests());
    }

    /** A CPU the machine lacks would only fail later, at the agent's start. */
    private static void requireOnline(Map<String, String> agentCpus) throws IOException {
        if (agentCpus.isEmpty()) {
            return;
        }
        String online = OnlineCpus.online();
        for (var e : agentCpus.entrySet()) {
            OnlineCpus.require("Node " + e.getKey() + ": metadata.annotations[" + ClusterDescription.LOCAL_CPUS_ANNOTATION
                    + "]", e.getValue(), online);
        }
    }

    /** The CPU list the agent of {@code node} runs on, if its Node has {@code tessera.dev/local-cpus}. */
    public Optional<String> agentCpus(String node) {
        return Optional.ofNullable(state.agentCpus().get(node));
    }

    public Path fabricNetns() {
        return Names.netnsPath(state.fabricNetns());
    }

    public NodeAttachment node(String node) {
        return network.node(node).orElseThrow(() -> new IllegalArgumentException("node: '" + node
                + "' (expected: one of " + network.nodes().stream().map(NodeAttachment::name).toList() + ")"));
    }

    public PodAttachment pod(String namespace, String pod) {
        return network.pod(namespace, pod).orElseThrow(() -> new IllegalArgumentException("pod: '" + namespace + "/"
                + pod + "' (expected: one of " + network.pods().stream().map(PodAttachment::key).toList() + ")"));
    }

    public Path nodeNetns(String node) {
        return Path.of(node(node).netns());
    }

    public Path podNetns(String namespace, String pod) {
        return Path.of(pod(namespace, pod).netns());
    }

    public Path bpfPinDir(String node) {
        return BPF_ROOT.resolve(name()).resolve(node);
    }

    public Path agentLog(String node) {
        return stateDir.resolve("agent-" + node + ".log");
    }

    /**
     * Flags appended to every agent's command line from now on (e.g. a test's short {@code --hbone-idle-timeout});
     * held by this object only, so agents started through another {@code NetnsCluster} of the same cluster (the
     * {@code tessera local} commands) keep the defaults. Empty unless set.
     */
    public void agentFlags(List<String> flags) {
        agents.extraFlags(flags);
    }

    /**
     * Starts every agent from now on in a cgroup namespace of its own ({@code unshare --cgroup}), as a container
     * runtime starts a DaemonSet's agent: its view of cgroup paths (e.g. what {@code iptables -m cgroup --path}
     * would resolve) is rooted at its own cgroup, while the host's cgroup v2 mount stays visible. Held by this
     * object only, as {@link #agentFlags}.
     */
    public void agentsInOwnCgroupNamespace(boolean own) {
        agents.ownCgroupNamespace(own);
    }

    /** The command line (java ... -jar ... flags) the agent of {@code node} is started with. */
    public List<String> agentCommand(String node) {
        return agents.command(node(node));
    }

    /** Starts the controller, waits until it is ready, then starts every node's agent and waits for them. */
    public void startAgents(Duration readyTimeout) throws IOException {
        Instant start = Instant.now();
        startController();
        controller.awaitReady(readyTimeout);
        readyTimeout = readyTimeout.minus(Duration.between(start, Instant.now()));
        for (NodeAttachment n : network.nodes()) {
            agents.start(n.name());
        }
        Instant deadline = Instant.now().plus(readyTimeout);
        for (NodeAttachment n : network.nodes()) {
            awaitAgentReady(n.name(), Duration.between(Instant.now(), deadline));
        }
    }

    /** Starts the controller (unless running) without waiting; returns its pid. */
    public long startController() throws IOException {
        return controller.start();
    }

    /** Polls the controller's {@code /healthz/ready} until 200. */
    public void awaitControllerReady(Duration timeout) throws IOException {
        controller.awaitReady(timeout);
    }

    /** SIGKILLs the controller (agents keep serving with their last state) and waits for its exit. */
    public void killController() throws IOException {
        controller.kill();
    }

    /** The pid of the running controller. */
    public OptionalLong controllerPid() {
        return controller.handle().map(h -> OptionalLong.of(h.pid())).orElse(OptionalLong.empty());
    }

    /** {@code ready}, {@code starting} or {@code stopped}. */
    public String controllerState() {
        return controller.state();
    }

    public Path controllerLog() {
        return controller.log();
    }

    /** The command line the controller is started with. */
    public List<String> controllerCommand() {
        return controller.command();
    }

    /** Starts the agent of {@code node} (unless running) without waiting; returns its pid. */
    public long startAgent(String node) throws IOException {
        node(node);
        return agents.start(node);
    }

    /** Polls {@code /healthz/ready} until 200; fails early if the agent exits, quoting its log. */
    public void awaitAgentReady(String node, Duration timeout) throws IOException {
        agents.awaitReady(node, timeout);
    }

    /** SIGKILLs the agent of {@code node} (pinned programs stay: meshed pods fail closed) and waits for its exit. */
    public void killAgent(String node) throws IOException {
        node(node);
        agents.kill(node);
    }

    /**
     * Upgrades (restarts) the agent of {@code node} without refusing a new connection: a new agent starts
     * while the old one runs and takes its listening sockets over the handoff socket; once the new one is
     * ready the old one gets SIGTERM, serves its open connections until they end (at most its drain
     * timeout) and exits. Returns when the old agent is gone (SIGKILL after {@code exitTimeout}).
     *
     * @return the new agent's pid
     * @throws IOException when no agent runs on the node, or the new one does not get ready (the old one
     *     then keeps serving)
     */
    public long upgradeAgent(String node, Duration readyTimeout, Duration exitTimeout) throws IOException {
        node(node);
        return agents.upgrade(node, readyTimeout, exitTimeout);
    }

    /** The listener handoff socket of the agent of {@code node}. */
    public Path agentHandoffSocket(String node) {
        node(node);
        return agents.handoffSocket(node);
    }

    /** Sends SIGTERM to the agent of {@code node} (it drains, then exits) without waiting; false if none ran. */
    public boolean terminateAgent(String node) {
        node(node);
        return agents.handle(node).map(ProcessHandle::destroy).orElse(false);
    }

    /** The pid of the running agent of {@code node}. */
    public OptionalLong agentPid(String node) {
        return agents.handle(node).map(h -> OptionalLong.of(h.pid())).orElse(OptionalLong.empty());
    }

    /** {@code ready}, {@code starting} (running, not ready) or {@code stopped}. */
    public String agentState(String node) {
        return agents.state(node);
    }

    /** The last {@code lines} lines of the agent log of {@code node}. */
    public String logTail(String node, int lines) {
        return agents.logTail(node, lines);
    }

    /**
     * Removes everything this cluster made: its agents (by recorded pid), BPF pins, namespaces with their
     * veths, and the state directory. Keeps going past errors and reports them all at the end.
     */
    public void destroy() throws IOException {
        var errors = new ArrayList<String>();
        for (String node : state.fabricVeths().keySet()) {
            try {
                agents.stopAll(node, Duration.ofSeconds(5));
            } catch (IOException e) {
                errors.add(e.getMessage());
            }
        }
        try {
            controller.stop(Duration.ofSeconds(5));
        } catch (IOException e) {
            errors.add(e.getMessage());
        }
        agents.removeCgroups(errors);
        deleteTree(BPF_ROOT.resolve(name()), errors);
        try {
            Files.deleteIfExists(BPF_ROOT); // only when no other local cluster pins there
        } catch (IOException stillInUse) {
            // DirectoryNotEmptyException: another cluster's pins
        }
        List<String> reversed = new ArrayList<>(state.netns());
        java.util.Collections.reverse(reversed);
        for (String ns : reversed) {
            if (Files.exists(Names.netnsPath(ns))) {
                Sh.Result r = Sh.tryRun("ip", "netns", "del", ns);
                if (!r.ok()) {
                    errors.add("ip netns del " + ns + ": " + r.stderr().strip());
                }
            }
        }
        deleteTree(stateDir, errors);
        if (!errors.isEmpty()) {
            throw new IOException("cluster " + name() + " not fully removed: " + String.join("; ", errors));
        }
    }

    @Override
    public void close() throws IOException {
        destroy();
    }

    private static void deleteTree(Path root, List<String> errors) {
        if (!Files.exists(root)) {
            return;
        }
        try (Stream<Path> s = Files.walk(root)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            errors.add("cannot delete " + root + ": " + e);
        }
    }
}
