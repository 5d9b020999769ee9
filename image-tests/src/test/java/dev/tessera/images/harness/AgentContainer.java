package dev.tessera.images.harness;

import com.github.dockerjava.api.model.AccessMode;
import com.github.dockerjava.api.model.Bind;
import com.github.dockerjava.api.model.Capability;
import com.github.dockerjava.api.model.Volume;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.testcontainers.containers.GenericContainer;
import org.testcontainers.containers.startupcheck.IsRunningStartupCheckStrategy;
import org.testcontainers.utility.DockerImageName;

/**
 * The node agent image run the way the DaemonSet runs it: root, every capability dropped except
 * {@link #CAPABILITIES}, the host's bpffs, cgroup v2 root and network-namespace directory mounted at the same
 * paths, the local-mode inputs of a {@link LocalNode} read-only at {@link LocalNode#MOUNT}. It sits on a
 * {@link TestNetwork} at a fixed address (its node IP); the host reaches 15020/15021 there, no port is published.
 */
public final class AgentContainer extends GenericContainer<AgentContainer> {

    /**
     * The capabilities the container gets. The DaemonSet names BPF, NET_ADMIN and SYS_ADMIN; Debian's Docker
     * 20.10 rejects CAP_BPF as unknown, and the kernel grants BPF operations to CAP_SYS_ADMIN as well
     * ({@code bpf_capable()}), so the set here is the DaemonSet's minus a capability SYS_ADMIN already implies.
     * SYS_ADMIN: setns into pod namespaces, bpffs; NET_ADMIN: cgroup_skb and socket options on the data path.
     */
    public static final List<Capability> CAPABILITIES = List.of(Capability.NET_ADMIN, Capability.SYS_ADMIN);
    /** The cgroup v2 root of this machine (hybrid layout); a unified host has it at /sys/fs/cgroup. */
    public static final Path CGROUP_ROOT = Path.of("/sys/fs/cgroup/unified");

    private final String ip;
    private final Path pinDir;

    /**
     * An agent of node {@link LocalNode#NODE} at {@code ip} on {@code network}, pinning under {@code pinDir}, with
     * {@code files} mounted read-only at {@link LocalNode#MOUNT} and {@code modeFlags} saying where its state and
     * certificates come from (e.g. {@link LocalNode#controllerAgentFlags}).
     */
    public AgentContainer(String name, TestNetwork network, String ip, Path pinDir, Path files, String... modeFlags) {
        super(DockerImageName.parse(Images.NODE_AGENT));
        this.ip = ip;
        this.pinDir = pinDir;
        var args = new ArrayList<>(List.of("--node", LocalNode.NODE, "--node-ip", ip, "--bpf-pin-dir", pinDir.toString(),
                "--cgroup", CGROUP_ROOT.toString(), "--mesh-cidr", "198.18.0.0/15"));
        args.addAll(List.of(modeFlags));
        withCommand(args.toArray(String[]::new));
        withNetwork(network.network());
        withStartupCheckStrategy(new IsRunningStartupCheckStrategy());
        withCreateContainerCmdModifier(cmd -> {
            cmd.withName(name).withIpv4Address(ip);
            cmd.getHostConfig()
                    .withCapDrop(Capability.ALL)
                    .withCapAdd(CAPABILITIES.toArray(Capability[]::new))
                    .withBinds(
                            new Bind("/sys/fs/bpf", new Volume("/sys/fs/bpf")),
                            new Bind(CGROUP_ROOT.toString(), new Volume(CGROUP_ROOT.toString())),
                            new Bind("/var/run/netns", new Volume("/var/run/netns")),
                            new Bind(files.toString(), new Volume(LocalNode.MOUNT), AccessMode.ro));
        });
    }

    public String ip() {
        return ip;
    }

    public Path pinDir() {
        return pinDir;
    }

    /** GET {@code http://<ip>:<port><path>} over the Docker network: status and body. */
    public HttpResponse<String> get(int port, String path) throws Exception {
        HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
        return client.send(HttpRequest.newBuilder(URI.create("http://" + ip + ":" + port + path))
                .timeout(Duration.ofSeconds(3)).build(), HttpResponse.BodyHandlers.ofString());
    }

    /**
     * GET {@code http://127.0.0.1:<port><path>} from inside the container's network namespace (the admin API
     * on 15000 listens on localhost only; the image has no shell or curl): the host's curl under
     * {@code nsenter --net}. Returns the body; fails on a non-2xx status.
     */
    public String getLocal(int port, String path) throws java.io.IOException {
        long pid = getDockerClient().inspectContainerCmd(getContainerId()).exec().getState().getPidLong();
        return Host.run(15, "nsenter", "--net=/proc/" + pid + "/ns/net", "curl", "-sS", "--fail-with-body",
                "--max-time", "5", "http://127.0.0.1:" + port + path);
    }

    /** Stops the container the way the kubelet does: SIGTERM, then SIGKILL after {@code grace}. */
    public void stopGracefully(Duration grace) {
        getDockerClient().stopContainerCmd(getContainerId()).withTimeout((int) grace.toSeconds()).exec();
    }

    /** The exit code of a stopped container. */
    public long exitCode() {
        return getDockerClient().inspectContainerCmd(getContainerId()).exec().getState().getExitCodeLong();
    }
}
