package dev.tessera.agent.config;

import dev.tessera.api.config.Durations;
import dev.tessera.api.config.Ports;
import dev.tessera.api.net.Addresses;
import dev.tessera.logging.LevelSpec;
import dev.tessera.logging.LogFormat;
import java.net.InetAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import picocli.CommandLine.Option;
import picocli.CommandLine;

/**
 * Everything the node agent is started with, defined once as its command-line options: the flags, their
 * defaults and their help text all come from the {@link Option} annotations below ({@code tessera-node-agent
 * --help} prints them; {@code node-agent/FLAGS.md} is generated from them and a test keeps it in sync). Every
 * listener and component is built from this one object; {@link #parse} is the only way to make one, so a
 * test configures an agent with the same flags an operator writes.
 *
 * <p>Values are checked when parsed; a bad one fails naming the flag and the expected value.
 */
public final class AgentConfig {

    /** Default {@code --controller-token}: the projected, audience-bound service-account token. */
    public static final String CONTROLLER_TOKEN = "/var/run/secrets/tessera/token";
    /** Default {@code --controller-ca}: the controller's trust bundle (the {@code tessera-ca-root-cert} ConfigMap). */
    public static final String CONTROLLER_CA = "/var/run/tessera/ca/root-cert.pem";
    /** Directory of the default listener handoff socket (a hostPath in the DaemonSet). */
    public static final String HANDOFF_DIR = "/var/run/tessera/handoff";

    @Option(names = "--node", paramLabel = "NAME", description = "This node's name (required).")
    String nodeName;

    @Option(names = "--node-ip", paramLabel = "IP", description = "The node's address: the pods' redirect target and"
            + " the HBONE bind address (required).")
    String nodeIpText;

    @Option(names = "--node-ip6", paramLabel = "IPV6", description = "The node's IPv6 address, for dual-stack and"
            + " IPv6 clusters: the outbound listener also binds [IPV6]:--outbound-port and is the redirect target of"
            + " pods' native IPv6 connects to IPv6 --mesh-cidr destinations. Without it such connects are refused"
            + " (fail closed); with no IPv6 --mesh-cidr none is captured.")
    String nodeIp6Text;

    @Option(names = "--node-ips", paramLabel = "IPS", description = "The node's addresses, comma-separated, as"
            + " Kubernetes' status.hostIPs lists them (the DaemonSet passes it): its IPv6 address is --node-ip6 when"
            + " that is not given; an IPv4-only list changes nothing.")
    String nodeIpsText;

    @Option(names = "--trust-domain", paramLabel = "TD", defaultValue = "cluster.local",
            description = "SPIFFE trust domain of the mesh. Default: ${DEFAULT-VALUE}.")
    String trustDomain;

    @Option(names = "--controller", paramLabel = "HOST:PORT", description = "The controller's agent endpoint (port "
            + Ports.CONTROLLER_PUSH + "): state, policies and certificates come from it (required).")
    String controllerText;

    @Option(names = "--controller-token", paramLabel = "FILE", defaultValue = CONTROLLER_TOKEN,
            description = "The agent's bearer token for the controller (projected service-account token), re-read at"
                    + " every reconnect. Default: ${DEFAULT-VALUE}.")
    Path controllerToken;

    @Option(names = "--controller-ca", paramLabel = "FILE", defaultValue = CONTROLLER_CA,
            description = "PEM roots the controller's certificate must chain to. Default: ${DEFAULT-VALUE}.")
    Path controllerCa;

    @Option(names = "--netns-source", paramLabel = "local|cri", defaultValue = "local",
            converter = NetnsSourceConverter.class,
            description = "Where pods' network namespaces come from: local (--network, a local cluster) or cri"
                    + " (containerd/CRI-O sandbox specs under --host-root). Default: ${DEFAULT-VALUE}.")
    NetnsSource netnsSource;

    @Option(names = "--network", paramLabel = "FILE", description = "With --netns-source local: network.json written"
            + " by `tessera local up`.")
    Path networkFile;

    @Option(names = "--host-root", paramLabel = "DIR", defaultValue = "/",
            description = "Where the host's / is mounted (for --netns-source cri). Default: ${DEFAULT-VALUE}.")
    Path hostRoot;

    @Option(names = "--bpf-pin-dir", paramLabel = "DIR", defaultValue = "/sys/fs/bpf/tessera",
            description = "bpffs directory of the programs' and maps' pins. Default: ${DEFAULT-VALUE}.")
    Path bpfPinDir;

    @Option(names = "--cgroup", paramLabel = "DIR", description = "cgroup v2 directory the programs attach to."
            + " Default: the cgroup2 mount.")
    Path cgroupPath;

    @Option(names = "--mesh-cidr", paramLabel = "CIDR", defaultValue = "0.0.0.0/0", split = ",",
            description = "Captured destinations, a.b.c.d/n or x:x::/n (repeatable or comma-separated); native IPv6"
                    + " destinations are captured only inside an IPv6 one. Default: ${DEFAULT-VALUE}.")
    List<String> meshCidrs;

    @Option(names = "--outbound-port", paramLabel = "N", defaultValue = "" + Ports.OUTBOUND,
            description = "Captured outbound connections. Default: ${DEFAULT-VALUE}.")
    int outboundPort;

    @Option(names = "--inbound-port", paramLabel = "N", defaultValue = "" + Ports.HBONE,
            description = "HBONE (HTTP/2 CONNECT over mutual TLS) from other agents. Default: ${DEFAULT-VALUE}.")
    int inboundPort;

    @Option(names = "--metrics-port", paramLabel = "N", defaultValue = "" + Ports.METRICS,
            description = "Prometheus metrics. Default: ${DEFAULT-VALUE}.")
    int metricsPort;

    @Option(names = "--ready-port", paramLabel = "N", defaultValue = "" + Ports.READY,
            description = "Readiness (/healthz/ready). Default: ${DEFAULT-VALUE}.")
    int readyPort;

    @Option(names = "--admin-port", paramLabel = "N", defaultValue = "" + Ports.ADMIN,
            description = "Admin API on 127.0.0.1. Default: ${DEFAULT-VALUE}.")
    int adminPort;

    @Option(names = "--drain-timeout", paramLabel = "DURATION", defaultValue = "5s",
            description = "On SIGTERM, how long open connections may take to finish before they are cut (0s: at"
                    + " once). Keep it below the pod's termination grace period. Default: ${DEFAULT-VALUE}.")
    String drainTimeoutText;

    @Option(names = "--handoff-socket", paramLabel = "PATH|none", description = "Unix socket of the listener handoff:"
            + " a starting agent takes the listeners from the agent serving it (no connection refused during an"
            + " upgrade), then serves it itself. 'none' disables. Default: " + HANDOFF_DIR + "/<node>.sock.")
    String handoffSocketText;

    @Option(names = "--coverage-interval", paramLabel = "DURATION", defaultValue = "5s",
            description = "How often mesh coverage (captured and certified pods) is re-checked against the kernel"
                    + " and the certificates. Default: ${DEFAULT-VALUE}.")
    String coverageIntervalText;

    @Option(names = "--metrics-eviction-grace", paramLabel = "DURATION", defaultValue = "5m",
            description = "How long the workload series of a pod that left the node are kept. Default: ${DEFAULT-VALUE}.")
    String evictionGraceText;

    @Option(names = "--warm-up", paramLabel = "N", defaultValue = "1000",
            description = "Most connections run through a private copy of the data path on loopback before the"
                    + " agent reports ready (or takes the running agent's listeners), so the first seconds are"
                    + " compiled code: it ends once the JIT has settled (at least 30,000 round trips), after N"
                    + " connections, or after 15 s. 0 disables. Default: ${DEFAULT-VALUE}.")
    int warmUpConnections;

    @Option(names = "--root-rotation-window", paramLabel = "DURATION", defaultValue = "60s",
            description = "When the controller's signing root changes (a root rotation), each held workload certificate"
                    + " is re-issued at a random moment within this window, so a rotation's CSRs are spread out."
                    + " Default: ${DEFAULT-VALUE}.")
    String rootRotationWindowText;

    @Option(names = "--max-pods", paramLabel = "N", defaultValue = "4096",
            description = "Meshed pods this node can hold: the size of the kernel maps of enrolled pods (tsr_enrolled)"
                    + " and of their PeerAuthentication (tsp_pods). A pod beyond it is refused, named in readiness."
                    + " Maps pinned by an earlier agent keep their size until `uninstall`. Default: ${DEFAULT-VALUE}.")
    int maxPods;

    @Option(names = "--hbone-idle-timeout", paramLabel = "DURATION", defaultValue = "10m",
            description = "An HBONE server connection (from another agent) that carries no stream this long gets a"
                    + " drain notice (GOAWAY) and is closed, so unused pooled connections hold no resources."
                    + " Default: ${DEFAULT-VALUE}.")
    String hboneIdleTimeoutText;

    @Option(names = "--log-level", paramLabel = "LEVEL[,LOGGER=LEVEL...]", defaultValue = "info",
            description = "Log level: trace, debug, info, warn, error or off, optionally followed by levels per logger"
                    + " (name prefix), e.g. info,tessera.access=off,dev.tessera.agent.hbone=debug. io.netty stays at"
                    + " warn unless named. Changeable at run time: admin POST /logging?level=debug[&logger=NAME]."
                    + " Default: ${DEFAULT-VALUE}.")
    String logLevelText;

    @Option(names = "--log-format", paramLabel = "text|json", defaultValue = "text",
            description = "Log lines as text (TIME [THREAD] LEVEL LOGGER - MESSAGE) or one JSON object per line"
                    + " (ztunnel's keys: level, time, scope, message, plus thread and error); with json the access"
                    + " log's records use ztunnel's access-log field names (src.addr, dst.workload, bytes_sent, ...)."
                    + " Default: ${DEFAULT-VALUE}.")
    String logFormatText;

    @Option(names = "--transparent-delivery", paramLabel = "true|false", defaultValue = "true", arity = "1",
            description = "Dial local pods from the client pod's address (IP_TRANSPARENT), so servers see their real"
                    + " client, for same-node delivery and for HBONE from a verified source; needs the reply"
                    + " routing below (installed by the agent with iptables and ip). false: from the node address."
                    + " Default: ${DEFAULT-VALUE}.")
    boolean transparentDelivery;

    @Option(names = "--reply-mark", paramLabel = "MARK", defaultValue = "0x2000",
            description = "Packet mark bit (one bit, also its own mask) set on packets of the agent's transparent"
                    + " sockets, so a pod's replies to a client pod's address are routed to the agent instead of"
                    + " forwarded. Default: ${DEFAULT-VALUE}.")
    String replyMarkText;

    @Option(names = "--reply-route-table", paramLabel = "N", defaultValue = "15008",
            description = "Routing table (and ip rule priority) of that local route. Default: ${DEFAULT-VALUE}.")
    int replyRouteTable;

    @Option(names = "--probe-cgroup", paramLabel = "PATH", defaultValue = "system.slice/kubelet.service",
            description = "cgroup v2 path of the kubelet, relative to the directory the programs attach to (--cgroup:"
                    + " the host's cgroup v2 root): its TCP connections to the mesh CIDRs are marked in the kernel"
                    + " (connect4/connect6, by cgroup id, so the agent's own cgroup namespace does not matter) and"
                    + " SNATed to the probe address, and STRICT and plaintext policy trust that address instead of"
                    + " the node address. Empty, or a cgroup that does not exist: no SNAT, and the node address is"
                    + " trusted as before (logged at WARN). Default: ${DEFAULT-VALUE}.")
    String probeCgroup;

    @Option(names = "--probe-mark", paramLabel = "MARK", defaultValue = "0x4000",
            description = "Socket mark bit (one bit, also its mask; not --reply-mark's) the kernel program sets on the"
                    + " kubelet's connections to the mesh CIDRs; the node's nat POSTROUTING SNATs packets carrying it"
                    + " to the probe address. Default: ${DEFAULT-VALUE}.")
    String probeMarkText;

    @Option(names = "--probe-address", paramLabel = "IPV4", defaultValue = "169.254.7.127",
            description = "Link-local address the kubelet's probes are SNATed to (Istio ambient's)."
                    + " Default: ${DEFAULT-VALUE}.")
    String probeAddressText;

    private InetAddress nodeIp;
    private java.net.Inet6Address nodeIp6;
    private int replyMark;
    private int probeMark;
    private LevelSpec logLevel;
    private LogFormat logFormat;
    private ControllerAddress controller;
    private Duration hboneIdleTimeout;
    private Duration drainTimeout;
    private Duration coverageInterval;
    private Duration evictionGrace;
    private Duration rootRotationWindow;

    /** Only through {@link #parse} or as picocli's mixin ({@link #validate} then runs before use). */
    public AgentConfig() {}

    /**
     * The configuration the flags {@code args} describe, checked.
     *
     * @throws IllegalArgumentException naming the flag and the expected value
     */
    public static AgentConfig parse(String... args) {
        var config = new AgentConfig();
        var cl = new CommandLine(new Holder(config));
        try {
            cl.parseArgs(args);
        } catch (CommandLine.ParameterException e) {
            throw new IllegalArgumentException(e.getMessage(), e);
        }
        return config.validate();
    }

    @CommandLine.Command(name = "tessera-node-agent")
    private static final class Holder {
        @CommandLine.Mixin
        final AgentConfig config;

        Holder(AgentConfig config) {
            this.config = config;
        }
    }

    /**
     * Checks the values and derives the typed ones; returns this.
     *
     * @throws IllegalArgumentException naming the flag and the expected value
     */
    public AgentConfig validate() {
        if (nodeName == null || nodeName.isBlank()) {
            throw new IllegalArgumentException("--node: missing (expected: this node's name)");
        }
        if (nodeIpText == null) {
            throw new IllegalArgumentException("--node-ip: missing (expected: this node's address)");
        }
        nodeIp = Addresses.parse("--node-ip", nodeIpText);
        nodeIp6 = nodeIp6Text != null ? nodeIp6(nodeIp6Text) : nodeIpsText == null ? null : ipv6Of(nodeIpsText);
        if (controllerText == null) {
            throw new IllegalArgumentException("--controller: missing (expected: HOST:PORT of the controller's agent"
                    + " endpoint, e.g. tessera-controller.tessera-system.svc:" + Ports.CONTROLLER_PUSH + ")");
        }
        controller = ControllerAddress.parse(controllerText);
        if (netnsSource == NetnsSource.LOCAL && networkFile == null) {
            throw new IllegalArgumentException("--network: missing with --netns-source local (expected: network.json"
                    + " written by `tessera local up`, or --netns-source cri on a Kubernetes node)");
        }
        checkPort("--outbound-port", outboundPort);
        checkPort("--inbound-port", inboundPort);
        checkPort("--metrics-port", metricsPort);
        checkPort("--ready-port", readyPort);
        checkPort("--admin-port", adminPort);
        if (maxPods < 1 || maxPods > 1_048_576) {
            throw new IllegalArgumentException("--max-pods: " + maxPods + " (expected: 1-1048576)");
        }
        if (warmUpConnections < 0) {
            throw new IllegalArgumentException("--warm-up: " + warmUpConnections + " (expected: 0 or more connections)");
        }
        logLevel = logLevel(logLevelText);
        logFormat = LogFormat.parse(logFormatText);
        meshCidrs = List.copyOf(meshCidrs);
        validateReplyRouting();
        probeAddress();
        drainTimeout = Durations.parse("--drain-timeout", drainTimeoutText);
        coverageInterval = Durations.parsePositive("--coverage-interval", coverageIntervalText);
        evictionGrace = Durations.parsePositive("--metrics-eviction-grace", evictionGraceText);
        rootRotationWindow = Durations.parsePositive("--root-rotation-window",
                rootRotationWindowText == null ? "60s" : rootRotationWindowText);
        hboneIdleTimeout = Durations.parsePositive("--hbone-idle-timeout", hboneIdleTimeoutText);
        return this;
    }

    /** The IPv6 entry of a {@code --node-ips} list (null when it has none); every entry must be an address. */
    private static java.net.Inet6Address ipv6Of(String list) {
        java.net.Inet6Address found = null;
        for (String part : list.split(",", -1)) {
            String text = part.strip();
            if (text.isEmpty()) {
                if (list.isBlank()) {
                    return null; // status.hostIPs not filled in (an older API server): nothing to add
                }
                throw new IllegalArgumentException("--node-ips: '" + list + "' (expected: the node's addresses,"
                        + " comma-separated, e.g. 10.0.0.5,2001:db8::5)");
            }
            InetAddress a = Addresses.parse("--node-ips", text);
            if (a instanceof java.net.Inet6Address && found == null) {
                found = nodeIp6(text);
            }
        }
        return found;
    }

    private static java.net.Inet6Address nodeIp6(String text) {
        String expected = " (expected: this node's global IPv6 address, e.g. 2001:db8::1)";
        if (!text.contains(":")) {
            throw new IllegalArgumentException("--node-ip6: '" + text + "'" + expected);
        }
        InetAddress a = Addresses.parse("--node-ip6", text);
        if (!(a instanceof java.net.Inet6Address v6) || a.isAnyLocalAddress() || a.isLoopbackAddress()
                || a.isLinkLocalAddress() || a.isMulticastAddress()) {
            throw new IllegalArgumentException("--node-ip6: '" + text + "'" + expected);
        }
        return v6;
    }

    /** Checks and parses {@code --reply-mark} and {@code --reply-route-table} (also what --uninstall needs). */
    public void validateReplyRouting() {
        replyMark = oneBit(replyMarkText);
        if (replyMark == 0) {
            throw new IllegalArgumentException("--reply-mark: " + replyMarkText + " (expected: one bit, e.g. 0x2000)");
        }
        probeMark = oneBit(probeMarkText);
        if (probeMark == 0 || probeMark == replyMark) {
            throw new IllegalArgumentException("--probe-mark: " + probeMarkText
                    + " (expected: one bit other than --reply-mark's, e.g. 0x4000)");
        }
        if (replyRouteTable < 1 || replyRouteTable > 32765) {
            throw new IllegalArgumentException("--reply-route-table: " + replyRouteTable
                    + " (expected: 1-32765, a table and ip rule priority before main)");
        }
    }

    /** A packet/socket mark flag's value when it is exactly one bit (decimal or 0x hex), else 0. */
    private static int oneBit(String text) {
        try {
            int v = Integer.decode(text);
            return Integer.bitCount(v) == 1 ? v : 0;
        } catch (NumberFormatException | NullPointerException e) {
            return 0;
        }
    }

    private static void checkPort(String flag, int port) {
        if (port < 1 || port > 65535) {
            throw new IllegalArgumentException(flag + ": " + port + " (expected: 1-65535)");
        }
    }

    /** The kubelet's cgroup v2 path (relative to the root), or "" for none. */
    public String probeCgroup() {
        return probeCgroup == null ? "" : probeCgroup.strip();
    }

    /** The link-local address kubelet probes are SNATed to. */
    public java.net.Inet4Address probeAddress() {
        try {
            InetAddress a = InetAddress.getByName(probeAddressText);
            if (a instanceof java.net.Inet4Address v4 && a.isLinkLocalAddress()
                    && probeAddressText.chars().allMatch(ch -> ch == '.' || Character.isDigit(ch))) {
                return v4;
            }
        } catch (java.net.UnknownHostException e) {
            // below
        }
        throw new IllegalArgumentException("--probe-address: " + probeAddressText
                + " (expected: an IPv4 link-local address, 169.254.0.0/16)");
    }

    /** Whether local pods are dialled from the client pod's address. */
    public boolean transparentDelivery() {
        return transparentDelivery;
    }

    /** The mark bit of the reply routing (also its mask). */
    public int replyMark() {
        return replyMark;
    }

    /** The socket mark bit of the kubelet's probe connections ({@code --probe-mark}). */
    public int probeMark() {
        return probeMark;
    }

    /** The reply routing's table, also its ip rule priority. */
    public int replyRouteTable() {
        return replyRouteTable;
    }

    public String nodeName() {
        return nodeName;
    }

    public InetAddress nodeIp() {
        return nodeIp;
    }

    /** {@code --node-ip6}, or null when not given (no IPv6 outbound listener, no native IPv6 capture). */
    public java.net.Inet6Address nodeIp6() {
        return nodeIp6;
    }

    public String trustDomain() {
        return trustDomain;
    }

    public Path networkFile() {
        return networkFile;
    }

    public Path bpfPinDir() {
        return bpfPinDir;
    }

    /** The cgroup the programs attach to, or null for the cgroup2 mount. */
    public Path cgroupPath() {
        return cgroupPath;
    }

    public List<String> meshCidrs() {
        return meshCidrs;
    }

    public int outboundPort() {
        return outboundPort;
    }

    public int inboundPort() {
        return inboundPort;
    }

    public int metricsPort() {
        return metricsPort;
    }

    public int readyPort() {
        return readyPort;
    }

    public int adminPort() {
        return adminPort;
    }

    public NetnsSource netnsSource() {
        return netnsSource;
    }

    public Path hostRoot() {
        return hostRoot;
    }

    public ControllerAddress controller() {
        return controller;
    }

    public Path controllerToken() {
        return controllerToken;
    }

    public Path controllerCa() {
        return controllerCa;
    }

    public Duration drainTimeout() {
        return drainTimeout;
    }

    /** {@code --log-level}, with {@code io.netty=warn} unless it names io.netty. */
    public LevelSpec logLevel() {
        return logLevel;
    }

    /** {@code --log-format}. */
    public LogFormat logFormat() {
        return logFormat;
    }

    /**
     * Parses a {@code --log-level} value; Netty's loggers stay at warn unless the value names them.
     *
     * @throws IllegalArgumentException naming {@code --log-level} and the expected shape
     */
    public static LevelSpec logLevel(String value) {
        LevelSpec spec = LevelSpec.parse(value);
        return spec.prefixes().containsKey("io.netty") ? spec : LevelSpec.parse("io.netty=warn," + value);
    }

    /** Applies {@code --log-level} and {@code --log-format} to the process's logging (also for --uninstall). */
    public void applyLogging() {
        dev.tessera.logging.TesseraLogging.registry().configure(logLevel(logLevelText), LogFormat.parse(logFormatText));
    }

    /** The handoff socket, or null when disabled ({@code --handoff-socket none}). */
    public Path handoffSocket() {
        if (handoffSocketText == null) {
            return Path.of(HANDOFF_DIR, nodeName + ".sock");
        }
        return "none".equals(handoffSocketText) ? null : Path.of(handoffSocketText);
    }

    public Duration coverageInterval() {
        return coverageInterval;
    }

    /** Size of the per-pod kernel maps ({@code --max-pods}). */
    public int maxPods() {
        return maxPods;
    }

    /** Connections of the start-up warm-up ({@code --warm-up}); 0: none. */
    public int warmUpConnections() {
        return warmUpConnections;
    }

    /** Window over which certificates are re-issued after the signing root changed ({@code --root-rotation-window}). */
    public Duration rootRotationWindow() {
        return rootRotationWindow == null ? Duration.ofSeconds(60) : rootRotationWindow;
    }

    public Duration metricsEvictionGrace() {
        return evictionGrace;
    }

    /** How long an HBONE server connection may carry no stream before it is drained and closed. */
    public Duration hboneIdleTimeout() {
        return hboneIdleTimeout;
    }

    /** {@code local} or {@code cri}, lower case on the command line. */
    static final class NetnsSourceConverter implements CommandLine.ITypeConverter<NetnsSource> {
        @Override
        public NetnsSource convert(String value) {
            for (NetnsSource s : NetnsSource.values()) {
                if (s.name().equalsIgnoreCase(value)) {
                    return s;
                }
            }
            throw new CommandLine.TypeConversionException("--netns-source: " + value + " (expected: local or cri)");
        }
    }
}
