package dev.tessera.agent.control;

import dev.tessera.agent.config.ControllerAddress;
import dev.tessera.agent.testing.HandSource;
import dev.tessera.api.identity.CertificateAuthority;
import dev.tessera.api.identity.SpiffeId;
import dev.tessera.api.model.MeshSnapshot;
import dev.tessera.api.model.NodeInfo;
import dev.tessera.api.model.Service;
import dev.tessera.api.model.Workload;
import dev.tessera.api.policy.PeerAuthentication;
import dev.tessera.api.policy.PolicySet;
import dev.tessera.api.policy.Translation;
import dev.tessera.api.push.MeshConfig;
import dev.tessera.controller.identity.IssuingCa;
import dev.tessera.controller.identity.StaticTokenAuthenticator;
import dev.tessera.controller.identity.SvidIssuer;
import dev.tessera.controller.push.PushServer;
import dev.tessera.controller.push.PushServerConfig;
import dev.tessera.controller.watch.MeshSource;
import java.io.IOException;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * A real push server (real TLS, real CA, static tokens) fed by a hand-driven {@link MeshSource}, plus
 * helpers to build states and clients.
 */
final class ControlPlaneFixture implements AutoCloseable {

    static final String TD = "cluster.local";
    static final List<String> NODES = List.of("node1", "node2", "node3");

    final Path dir;
    final IssuingCa ca = IssuingCa.generate(TD);
    final StaticTokenAuthenticator tokens;
    /** Tokens issued after start (rotation) and tokens no longer valid (expired), on top of {@link #tokens}. */
    final Map<String, String> rotated = new java.util.concurrent.ConcurrentHashMap<>();
    final java.util.Set<String> expired = java.util.concurrent.ConcurrentHashMap.newKeySet();
    final dev.tessera.controller.identity.AgentAuthenticator authenticator;
    final Map<String, String> tokenByNode = new LinkedHashMap<>();
    final Path caFile;
    HandSource source = new HandSource();
    SvidIssuer issuer;
    PushServer server;
    private final List<AutoCloseable> clients = new ArrayList<>();

    ControlPlaneFixture(Path dir) throws IOException {
        this.dir = dir;
        var lines = new ArrayList<String>();
        for (String n : NODES) {
            String t = "token-of-" + n + "-0123456789abcdef";
            tokenByNode.put(n, t);
            lines.add(t + "," + n);
            Files.writeString(dir.resolve(n + ".token"), t + "\n");
        }
        tokens = StaticTokenAuthenticator.parse("tokens", lines);
        StaticTokenAuthenticator statics = tokens;
        authenticator = token -> {
            if (token != null && expired.contains(token.strip())) {
                throw new dev.tessera.controller.identity.SvidRefusedException(
                        dev.tessera.controller.identity.RefusalReason.TOKEN_INVALID, "token expired");
            }
            String node = token == null ? null : rotated.get(token.strip());
            return node != null ? new dev.tessera.controller.identity.AgentAuthenticator.Agent("tessera-system",
                    "tessera-agent", node) : statics.authenticate(token);
        };
        caFile = dir.resolve("root-cert.pem");
        Files.writeString(caFile, CertificateAuthority.Pem.write(ca.trustBundle().toArray()));
    }

    PushServer startServer(int port, int history) throws Exception {
        return startServer(port, history, dev.tessera.api.push.ProtocolVersions.CONTROLLER);
    }

    /** A push server serving only {@code versions} (standing in for a controller of another version). */
    PushServer startServer(int port, int history, dev.tessera.api.push.ProtocolVersions.Range versions) throws Exception {
        issuer = new SvidIssuer(ca, authenticator, () -> source.current().mesh(), TD, Duration.ofHours(1));
        var config = PushServerConfig.defaults(TD, "tessera-system")
                .withBind(InetAddress.getByName("127.0.0.1"), port)
                .withHistorySize(history).withProtocolVersions(versions);
        server = new PushServer(config, source, authenticator, issuer, ca).start();
        return server;
    }

    /** The node each client of {@link #client} speaks for. */
    final java.util.Map<ControllerClient, String> nodeOf = new java.util.concurrent.ConcurrentHashMap<>();

    /** What {@code c} holds of {@code c}onfig: protocol 3 sends its node's pods whole, the others compact. */
    MeshConfig viewOf(ControllerClient c, MeshConfig config) {
        return dev.tessera.api.push.NodeFrames.view(config, nodeOf.get(c));
    }

    ControllerClient client(String node, Path tokenFile, List<MeshConfig> applied) {
        var settings = new ControllerClient.Settings(new ControllerAddress("127.0.0.1", server.port()), node, tokenFile,
                caFile, Duration.ofMillis(50), Duration.ofMillis(500), Duration.ofSeconds(10), Duration.ofSeconds(60));
        var c = new ControllerClient(settings, applied::add, b -> { }).start();
        clients.add(c);
        nodeOf.put(c, node);
        return c;
    }

    ControllerClient client(String node, List<MeshConfig> applied) {
        return client(node, dir.resolve(node + ".token"), applied);
    }

    // ---- states

    static InetAddress ip(String s) {
        try {
            return InetAddress.getByName(s);
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    static Workload pod(String ns, String name, String node, int ip, String sa, String version) {
        return new Workload(ns, name, node, ip("198.18." + (NODES.indexOf(node) + 1) + "." + ip), sa,
                Map.of("app", name, "version", version), true, new SpiffeId(TD, ns, sa));
    }

    /** {@code pods} pods spread over the nodes, labelled with {@code label}, one service, one policy. */
    static MeshConfig state(long version, int pods, String label) {
        var nodes = new ArrayList<NodeInfo>();
        for (int i = 0; i < NODES.size(); i++) {
            nodes.add(new NodeInfo(NODES.get(i), ip("198.18.0." + (i + 1)), "198.18." + (i + 1) + ".0/24"));
        }
        var workloads = new ArrayList<Workload>();
        for (int i = 0; i < pods; i++) {
            String node = NODES.get(i % NODES.size());
            workloads.add(pod("shop", "pod-" + i, node, 2 + i / NODES.size(), "sa-" + node, label));
        }
        var svc = new Service("shop", "web", List.of(ip("198.19.0.10")), List.of(new Service.Port("http", 80, 8080)),
                workloads.stream().limit(3).map(w -> new Service.Endpoint(w.ip(), true, w.key())).toList());
        var pa = new PeerAuthentication("shop", "strict", null, PeerAuthentication.Mode.STRICT);
        return new MeshConfig(version, new MeshSnapshot(version, nodes, workloads, List.of(svc)),
                new PolicySet(version, List.of(), List.of(new Translation<>("PeerAuthentication", "shop", "strict", pa,
                        List.of(), null, null))));
    }

    /** Everything a configuration holds, keyed (MeshSnapshot has no equals). */
    static Map<String, Object> content(MeshConfig c) {
        var m = new LinkedHashMap<String, Object>();
        m.put("version", c.version());
        m.put("nodes", new TreeMap<>(c.mesh().nodes()));
        var w = new TreeMap<String, Workload>();
        c.mesh().workloads().forEach(x -> w.put(x.key(), x));
        m.put("workloads", w);
        var s = new TreeMap<String, Service>();
        c.mesh().services().forEach(x -> s.put(x.key(), x));
        m.put("services", s);
        var p = new TreeMap<String, Object>();
        c.policies().all().forEach(x -> p.put(x.kind() + "/" + x.key(), x));
        m.put("policies", p);
        return m;
    }

    @Override
    public void close() {
        for (AutoCloseable c : clients) {
            try {
                c.close();
            } catch (Exception e) {
                // next
            }
        }
        if (server != null) {
            server.close();
        }
    }
}
