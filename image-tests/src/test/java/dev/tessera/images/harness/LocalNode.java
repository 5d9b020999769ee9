package dev.tessera.images.harness;

import dev.tessera.api.identity.CertificateAuthority;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Comparator;

/**
 * The inputs of a local cluster of one node for the image tests, as {@code tessera local up} writes them: a
 * folder of manifests (node {@code n1}, an ambient namespace {@code demo} with pod {@code web}), a
 * {@code network.json} with the node at the container's address and the pod in a real network namespace
 * on the host ({@code /var/run/netns/<prefix>-pod}), and a local CA directory. They feed a controller
 * container in local mode ({@link ControllerContainer}, with {@link #writeTokens}); its agents get only
 * {@link #controllerAgentFiles} (token, controller CA, network.json) mounted at {@link #MOUNT}. {@link #close}
 * removes the folder and the namespace.
 */
public final class LocalNode implements AutoCloseable {

    /** Where the container sees {@link #dir()}. */
    public static final String MOUNT = "/etc/tessera/local";
    public static final String NODE = "n1";
    public static final String POD_IP = "198.18.250.2";

    private final Path dir;
    private final String podNetns;

    private LocalNode(Path dir, String podNetns) {
        this.dir = dir;
        this.podNetns = podNetns;
    }

    /** Creates the files and the pod's namespace; {@code prefix} must be unique to the test (tsi-...). */
    public static LocalNode create(String prefix, String nodeIp) throws IOException {
        String netns = prefix + "-pod";
        Host.tryRun(10, "ip", "netns", "del", netns); // a leftover of a crashed run
        Path dir = Files.createTempDirectory(prefix + "-");
        var node = new LocalNode(dir, netns);
        try {
            Host.run(10, "ip", "netns", "add", netns);
            Files.createDirectories(dir.resolve("manifests"));
            Files.writeString(dir.resolve("manifests/cluster.yaml"), """
                    apiVersion: v1
                    kind: Node
                    metadata:
                      name: n1
                    ---
                    apiVersion: v1
                    kind: Namespace
                    metadata:
                      name: demo
                      labels:
                        tessera.dev/dataplane-mode: "ambient"
                    ---
                    apiVersion: v1
                    kind: Pod
                    metadata:
                      name: web
                      namespace: demo
                    spec:
                      nodeName: n1
                      serviceAccountName: web
                      containers:
                        - name: main
                          image: example/web
                    """);
            Files.writeString(dir.resolve("network.json"), """
                    {"cluster": "%s",
                     "nodes": [{"name": "n1", "ip": "%s", "podCidr": "198.18.250.0/24", "netns": "/proc/1/ns/net"}],
                     "pods": [{"namespace": "demo", "name": "web", "node": "n1", "ip": "%s", "netns": "%s"}]}
                    """.formatted(prefix, nodeIp, POD_IP, podNetnsPath(netns)));
            CertificateAuthority.generate("cluster.local").save(dir.resolve("ca"));
            return node;
        } catch (IOException | RuntimeException e) {
            node.close();
            throw e;
        }
    }

    private static String podNetnsPath(String netns) {
        return "/var/run/netns/" + netns;
    }

    public Path dir() {
        return dir;
    }

    /** The pod's network namespace on the host (and, through the netns mount, in the container). */
    public Path podNetns() {
        return Path.of(podNetnsPath(podNetns));
    }

    /** The cluster's manifests folder (node n1, namespace demo, pod web). */
    public Path manifests() {
        return dir.resolve("manifests");
    }

    /** The cluster's {@code network.json}. */
    public Path networkFile() {
        return dir.resolve("network.json");
    }

    /** The local CA directory: the root {@code ca.crt} / {@code ca.key} as {@code tessera local up} writes them. */
    public Path caDir() {
        return dir.resolve("ca");
    }

    /**
     * The controller's token file (mode 0600): one line {@code token,n1}, as {@code tessera local up} writes it.
     */
    public Path writeTokens(String token) throws IOException {
        Path file = dir.resolve("tokens");
        secret(file, "# token,node\n" + token + "," + NODE + "\n");
        return file;
    }

    /**
     * The files of an agent that takes its state and certificates from a controller, in a directory of their
     * own to mount at {@link #MOUNT}: its token ({@code token}, mode 0600), the root certificate the
     * controller's certificate chains to ({@code controller-ca.crt}) and {@code network.json} (where the pod's
     * namespace is). No CA key and no manifests: everything else has to come from the controller.
     */
    public Path controllerAgentFiles(String name, String token) throws IOException {
        Path files = dir.resolve("agent-" + name);
        Files.createDirectories(files);
        secret(files.resolve("token"), token + "\n");
        Files.copy(caDir().resolve("ca.crt"), files.resolve("controller-ca.crt"));
        Files.copy(networkFile(), files.resolve("network.json"));
        return files;
    }

    /** The flags of an agent with {@link #controllerAgentFiles} mounted at {@link #MOUNT}, dialing {@code hostPort}. */
    public static String[] controllerAgentFlags(String hostPort) {
        return new String[] {"--controller", hostPort, "--controller-token", MOUNT + "/token",
                "--controller-ca", MOUNT + "/controller-ca.crt", "--network", MOUNT + "/network.json"};
    }

    private static void secret(Path file, String content) throws IOException {
        Files.deleteIfExists(file);
        Files.createFile(file, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        Files.writeString(file, content);
    }


    @Override
    public void close() throws IOException {
        IOException failure = null;
        if (Files.exists(podNetns())) {
            Host.Result r = Host.tryRun(10, "ip", "netns", "del", podNetns);
            if (!r.ok()) {
                failure = new IOException("ip netns del " + podNetns + ": " + r.stderr().strip());
            }
        }
        if (Files.exists(dir)) {
            try (var s = Files.walk(dir)) {
                for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                    Files.deleteIfExists(p);
                }
            }
        }
        if (failure != null) {
            throw failure;
        }
    }
}
