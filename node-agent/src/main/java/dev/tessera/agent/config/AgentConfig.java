package dev.tessera.agent.config;

import static java.util.Objects.requireNonNull;

import dev.tessera.agent.control.ControllerAddress;
import java.net.InetAddress;
import java.nio.file.Path;
import java.util.List;

/**
 * Everything the node agent is started with. Built from the command line by
 * {@code dev.tessera.agent.AgentMain}; every listener and component is built from this one bundle.
 *
 * <p>Command-line flags (defaults in brackets):
 * <pre>
 *   --node NAME                this node's name (required)
 *   --node-ip IP               the node's address: pods' redirect target and HBONE bind (required)
 *   --trust-domain TD          [cluster.local]
 *   --local-cluster PATH       local mode: Kubernetes manifests (a file or a folder), watched
 *   --network FILE             local mode: network.json written by `tessera local up`
 *   --ca-dir DIR               local mode: the local certificate authority (ca.crt, ca.key)
 *   --bpf-pin-dir DIR          [/sys/fs/bpf/tessera]
 *   --cgroup DIR               cgroup v2 directory the programs attach to [the cgroup2 mount]
 *   --mesh-cidr CIDR           destinations that are captured, repeatable [0.0.0.0/0]
 *   --outbound-port N          [15001]   --inbound-port N   [15008]
 *   --metrics-port N           [15020]   --ready-port N     [15021]   --admin-port N [15000]
 *   --netns-source local|cri   where pods' network namespaces come from [local]: network.json, or the
 *                              container runtime's sandbox specs (containerd, CRI-O)
 *   --host-root DIR            where the host's / is mounted, for --netns-source cri [/]
 *   --controller HOST:PORT     take state, policies and certificates from the controller (15012) instead of
 *                              --local-cluster / --ca-dir (--network still resolves pod netns in local clusters)
 *   --controller-token FILE    the agent's bearer token, re-read at every reconnect [/var/run/secrets/tessera/token]
 *   --controller-ca FILE       PEM roots the controller's certificate must chain to [/var/run/tessera/ca/root-cert.pem]
 * </pre>
 */
public record AgentConfig(
        String nodeName,
        InetAddress nodeIp,
        String trustDomain,
        Path localCluster,
        Path networkFile,
        Path caDir,
        Path bpfPinDir,
        Path cgroupPath,
        List<String> meshCidrs,
        int outboundPort,
        int inboundPort,
        int metricsPort,
        int readyPort,
        int adminPort,
        NetnsSource netnsSource,
        Path hostRoot,
        ControllerAddress controller,
        Path controllerToken,
        Path controllerCa) {

    public static final int OUTBOUND_PORT = 15001;
    public static final int INBOUND_PORT = 15008;
    public static final int METRICS_PORT = 15020;
    public static final int READY_PORT = 15021;
    public static final int ADMIN_PORT = 15000;
    /** Default {@code --controller-token}: the projected, audience-bound service-account token. */
    public static final String CONTROLLER_TOKEN = "/var/run/secrets/tessera/token";
    /** Default {@code --controller-ca}: the controller's trust bundle (the {@code tessera-ca-root-cert} ConfigMap). */
    public static final String CONTROLLER_CA = "/var/run/tessera/ca/root-cert.pem";
    /** {@code --host-root} default: the agent runs on the host itself. */
    public static final String HOST_ROOT = "/";

    public AgentConfig {
        requireNonNull(nodeName, "nodeName");
        requireNonNull(nodeIp, "nodeIp");
        requireNonNull(trustDomain, "trustDomain");
        requireNonNull(bpfPinDir, "bpfPinDir");
        meshCidrs = List.copyOf(requireNonNull(meshCidrs, "meshCidrs"));
        checkPort("outboundPort", outboundPort);
        checkPort("inboundPort", inboundPort);
        checkPort("metricsPort", metricsPort);
        checkPort("readyPort", readyPort);
        checkPort("adminPort", adminPort);
        requireNonNull(netnsSource, "netnsSource");
        requireNonNull(hostRoot, "hostRoot");
        if (controller != null) {
            requireNonNull(controllerToken, "controllerToken");
            requireNonNull(controllerCa, "controllerCa");
        }
    }

    /** Local mode (no controller): state from {@code localCluster}, certificates from {@code caDir}, pods' netns from {@code networkFile}. */
    public AgentConfig(String nodeName, InetAddress nodeIp, String trustDomain, Path localCluster, Path networkFile,
            Path caDir, Path bpfPinDir, Path cgroupPath, List<String> meshCidrs, int outboundPort, int inboundPort,
            int metricsPort, int readyPort, int adminPort) {
        this(nodeName, nodeIp, trustDomain, localCluster, networkFile, caDir, bpfPinDir, cgroupPath, meshCidrs,
                outboundPort, inboundPort, metricsPort, readyPort, adminPort, NetnsSource.LOCAL, Path.of(HOST_ROOT),
                null, Path.of(CONTROLLER_TOKEN), Path.of(CONTROLLER_CA));
    }

    private static void checkPort(String name, int port) {
        if (port < 1 || port > 65535) {
            throw new IllegalArgumentException(name + ": " + port + " (expected: 1-65535)");
        }
    }
}
