package dev.tessera.images.harness;

import com.github.dockerjava.api.model.AccessMode;
import com.github.dockerjava.api.model.Bind;
import com.github.dockerjava.api.model.Capability;
import com.github.dockerjava.api.model.Volume;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.testcontainers.containers.GenericContainer;
import org.testcontainers.containers.startupcheck.IsRunningStartupCheckStrategy;
import org.testcontainers.utility.DockerImageName;

/**
 * The controller image in local mode, run the way the Deployment's securityContext runs the container: user
 * {@value #UID}, every capability dropped, no privilege escalation, read-only root file system with a tmpfs
 * {@code /tmp}. Its inputs come from a {@link LocalNode}: the manifests, {@code network.json} and the token file
 * read-only, the CA directory read-write — the one thing local mode writes is the issuing intermediate it
 * derives from the root ({@code issuing.crt} / {@code issuing.key} next to {@code ca.crt}), so that directory
 * and the token file are handed to {@value #UID} before the container starts. It sits on a {@link TestNetwork}
 * at a fixed address, which is its {@code --listen-address}: an IP SAN of its 15012 certificate, so agents dial
 * that address.
 */
public final class ControllerContainer extends GenericContainer<ControllerContainer> {

    /** Config push (mTLS). */
    public static final int PORT = 15012;
    /** /metrics and /healthz. */
    public static final int METRICS_PORT = 15014;
    /** The image's (and the Deployment's) user and group. */
    public static final int UID = 65532;
    /** Where the container sees its inputs. */
    public static final String MOUNT = "/etc/tessera/local";

    private final String ip;

    /** A local-mode controller at {@code ip} on {@code network} for {@code node}'s cluster, trusting {@code tokens}. */
    public ControllerContainer(String name, TestNetwork network, String ip, LocalNode node, Path tokens) throws IOException {
        super(DockerImageName.parse(Images.CONTROLLER));
        this.ip = ip;
        giveToController(node.caDir());
        giveToController(tokens);
        withCommand("--local-cluster", MOUNT + "/manifests", "--network", MOUNT + "/network.json",
                "--ca-dir", MOUNT + "/ca", "--tokens", MOUNT + "/tokens",
                "--listen-address", ip, "--port", Integer.toString(PORT), "--metrics-port", Integer.toString(METRICS_PORT));
        withNetwork(network.network());
        withStartupCheckStrategy(new IsRunningStartupCheckStrategy());
        withCreateContainerCmdModifier(cmd -> {
            cmd.withName(name).withIpv4Address(ip).withUser(UID + ":" + UID);
            cmd.getHostConfig()
                    .withReadonlyRootfs(true)
                    .withTmpFs(Map.of("/tmp", "rw,nosuid,nodev,size=32m"))
                    .withCapDrop(Capability.ALL)
                    .withSecurityOpts(List.of("no-new-privileges"))
                    .withBinds(
                            new Bind(node.manifests().toString(), new Volume(MOUNT + "/manifests"), AccessMode.ro),
                            new Bind(node.networkFile().toString(), new Volume(MOUNT + "/network.json"), AccessMode.ro),
                            new Bind(tokens.toString(), new Volume(MOUNT + "/tokens"), AccessMode.ro),
                            new Bind(node.caDir().toString(), new Volume(MOUNT + "/ca"), AccessMode.rw));
        });
    }

    /** The controller's address on the test network (what agents dial). */
    public String ip() {
        return ip;
    }

    /** {@code ip:15012}, the agents' {@code --controller}. */
    public String pushAddress() {
        return ip + ":" + PORT;
    }

    /** GET {@code http://<ip>:15014<path>} over the Docker network: status and body. */
    public HttpResponse<String> get(String path) throws Exception {
        HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
        return client.send(HttpRequest.newBuilder(URI.create("http://" + ip + ":" + METRICS_PORT + path))
                .timeout(Duration.ofSeconds(3)).build(), HttpResponse.BodyHandlers.ofString());
    }

    /** The controller's metrics, parsed. */
    public PromText metrics() throws Exception {
        HttpResponse<String> r = get("/metrics");
        if (r.statusCode() != 200) {
            throw new IOException("controller /metrics: HTTP " + r.statusCode() + " " + r.body());
        }
        return PromText.parse(r.body());
    }

    /** The host pid of the controller's JVM (the container's init process). */
    public long hostPid() {
        return getDockerClient().inspectContainerCmd(getContainerId()).exec().getState().getPidLong();
    }

    private static void giveToController(Path path) throws IOException {
        try (var s = Files.walk(path)) {
            for (Path p : s.toList()) {
                Files.setAttribute(p, "unix:uid", UID);
                Files.setAttribute(p, "unix:gid", UID);
            }
        }
    }
}
