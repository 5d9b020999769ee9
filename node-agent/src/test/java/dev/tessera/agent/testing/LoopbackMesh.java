package dev.tessera.agent.testing;

import dev.tessera.agent.config.AgentConfig;
import dev.tessera.agent.connection.ConnectionListener;
import dev.tessera.agent.connection.ProxyCounters;
import dev.tessera.agent.identity.IdentityProvider;
import dev.tessera.agent.inbound.HboneServer;
import dev.tessera.agent.netty.EventLoops;
import dev.tessera.agent.outbound.OutboundProxy;
import dev.tessera.agent.redirect.OriginalDestinations;
import dev.tessera.agent.state.StateStore;
import dev.tessera.api.identity.CertificateAuthority;
import dev.tessera.api.identity.SpiffeId;
import dev.tessera.api.model.MeshSnapshot;
import dev.tessera.api.model.NodeInfo;
import dev.tessera.api.model.Workload;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.UnknownHostException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A small mesh on loopback: nodes are addresses (node-a 127.0.0.2, node-b 127.0.0.3, node-c 127.0.0.4),
 * pods are addresses 127.0.1.x where real echo servers listen. node-a runs an {@link OutboundProxy}; every
 * node runs an {@link HboneServer}. node-c's identities lie: it presents the certificate of
 * {@code shop/other} for {@code shop/victim}. Original destinations come from a map the test fills.
 */
public final class LoopbackMesh implements AutoCloseable {

    public static final String TD = "cluster.local";
    public static final SpiffeId CLIENT = new SpiffeId(TD, "shop", "client");
    public static final SpiffeId CACHE = new SpiffeId(TD, "shop", "cache");
    public static final SpiffeId SERVER = new SpiffeId(TD, "shop", "server");
    public static final SpiffeId OTHER = new SpiffeId(TD, "shop", "other");
    public static final SpiffeId VICTIM = new SpiffeId(TD, "shop", "victim");

    public static final String CLIENT_IP = "127.0.1.1";
    public static final String SERVER_IP = "127.0.1.2";
    public static final String CACHE_IP = "127.0.1.3";
    public static final String OTHER_IP = "127.0.1.4";
    public static final String PLAIN_IP = "127.0.1.5";
    public static final String UNMESHED_CLIENT_IP = "127.0.1.6";
    public static final String VICTIM_IP = "127.0.1.7";
    public static final String UNKNOWN_CLIENT_IP = "127.0.1.8";
    public static final String OUTSIDE_IP = "127.0.1.9";

    public final CertificateAuthority ca = CertificateAuthority.generate(TD);
    public final EventLoops loops = EventLoops.create(2);
    public final TestServers servers = new TestServers();
    public final StateStore state = new StateStore();
    public final Map<InetSocketAddress, InetSocketAddress> originalDst = new ConcurrentHashMap<>();
    public final OriginalDestinations destinations = c -> Optional.ofNullable(originalDst.remove(c));
    public final TestIdentities idsA = TestIdentities.issuedBy(ca, CLIENT, CACHE);
    public final TestIdentities idsB = TestIdentities.issuedBy(ca, SERVER, OTHER);
    public final TestIdentities idsC = new TestIdentities(List.of(ca.certificate()))
            .put(TestIdentities.issue(ca, VICTIM, OTHER));
    public final ProxyCounters countersA = new ProxyCounters();
    public final ProxyCounters countersB = new ProxyCounters();
    public final RecordingListener recordA = new RecordingListener();
    public final RecordingListener recordB = new RecordingListener();
    public final InetSocketAddress serverEcho;
    public final InetSocketAddress cacheEcho;
    public final InetSocketAddress otherEcho;
    public final InetSocketAddress plainEcho;
    public final InetSocketAddress victimEcho;
    public final InetSocketAddress outsideEcho;
    public final AgentConfig configA;
    public final AgentConfig configB;
    public final AgentConfig configC;
    public final OutboundProxy proxy;
    public final HboneServer hboneA;
    public final HboneServer hboneB;
    public final HboneServer hboneC;

    public LoopbackMesh() {
        serverEcho = servers.echo(SERVER_IP);
        cacheEcho = servers.echo(CACHE_IP);
        otherEcho = servers.echo(OTHER_IP);
        plainEcho = servers.echo(PLAIN_IP);
        victimEcho = servers.echo(VICTIM_IP);
        outsideEcho = servers.echo(OUTSIDE_IP);
        state.update(new MeshSnapshot(1,
                List.of(node("node-a", "127.0.0.2"), node("node-b", "127.0.0.3"), node("node-c", "127.0.0.4")),
                List.of(workload("client", "node-a", CLIENT_IP, CLIENT, true),
                        workload("cache", "node-a", CACHE_IP, CACHE, true),
                        workload("pclient", "node-a", UNMESHED_CLIENT_IP, new SpiffeId(TD, "legacy", "default"), false),
                        workload("server", "node-b", SERVER_IP, SERVER, true),
                        workload("other", "node-b", OTHER_IP, OTHER, true),
                        workload("plain", "node-b", PLAIN_IP, new SpiffeId(TD, "legacy", "plain"), false),
                        workload("victim", "node-c", VICTIM_IP, VICTIM, true))));
        int outbound = freePort("127.0.0.2");
        int inbound = freePort("127.0.0.2", "127.0.0.3", "127.0.0.4");
        configA = config("node-a", "127.0.0.2", outbound, inbound);
        configB = config("node-b", "127.0.0.3", outbound, inbound);
        configC = config("node-c", "127.0.0.4", outbound, inbound);
        proxy = new OutboundProxy(configA, state, idsA, destinations, ConnectionListener.of(countersA, recordA, new dev.tessera.agent.connection.JsonAccessLog()), loops);
        hboneA = new HboneServer(configA, state, idsA, ConnectionListener.of(countersA, recordA, new dev.tessera.agent.connection.JsonAccessLog()), loops);
        hboneB = new HboneServer(configB, state, idsB, ConnectionListener.of(countersB, recordB, new dev.tessera.agent.connection.JsonAccessLog()), loops);
        hboneC = new HboneServer(configC, state, idsC, ConnectionListener.NOOP, loops);
        proxy.start();
        hboneA.start();
        hboneB.start();
        hboneC.start();
        proxy.acceptConnections();
        hboneA.acceptConnections();
        hboneB.acceptConnections();
        hboneC.acceptConnections();
    }

    /**
     * A socket from {@code sourceIp} to the outbound proxy whose original destination is {@code dst}
     * (null: no record, as on a kernel miss).
     */
    public Socket connect(String sourceIp, InetSocketAddress dst) throws IOException {
        Socket s = new Socket();
        s.setSoTimeout(10_000);
        s.bind(new InetSocketAddress(sourceIp, 0));
        if (dst != null) {
            originalDst.put((InetSocketAddress) s.getLocalSocketAddress(), dst);
        }
        s.connect(proxy.localAddress(), 2_000);
        return s;
    }

    public static InetSocketAddress addr(String ip, int port) {
        return new InetSocketAddress(ip(ip), port);
    }

    private static NodeInfo node(String name, String ip) {
        return new NodeInfo(name, ip(ip), "198.18.0.0/24");
    }

    private static Workload workload(String name, String node, String ip, SpiffeId id, boolean meshed) {
        return new Workload(id.namespace(), name, node, ip(ip), id.serviceAccount(), Map.of("app", name), meshed, id);
    }

    private static AgentConfig config(String node, String ip, int outbound, int inbound) {
        return AgentConfig.parse("--node", node, "--node-ip", ip, "--trust-domain", TD, "--bpf-pin-dir", "/nonexistent",
                "--network", "/nonexistent/network.json", "--controller", "127.0.0.1:15012",
                "--outbound-port", "" + outbound, "--inbound-port", "" + inbound);
    }

    private static InetAddress ip(String ip) {
        try {
            return InetAddress.getByName(ip);
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException(ip, e);
        }
    }

    /** A port free on every one of {@code ips} at the time of the call. */
    static int freePort(String... ips) {
        for (int attempt = 0; attempt < 50; attempt++) {
            int port;
            try (ServerSocket first = new ServerSocket(0, 1, ip(ips[0]))) {
                port = first.getLocalPort();
            } catch (IOException e) {
                continue;
            }
            boolean ok = true;
            for (String other : ips) {
                try (ServerSocket s = new ServerSocket(port, 1, ip(other))) {
                    s.setReuseAddress(true);
                } catch (IOException e) {
                    ok = false;
                    break;
                }
            }
            if (ok) {
                return port;
            }
        }
        throw new IllegalStateException("no common free port on " + List.of(ips));
    }

    /** Identities held by each node (for tests that build their own clients). */
    public IdentityProvider identitiesOf(String node) {
        return switch (node) {
            case "node-a" -> idsA;
            case "node-b" -> idsB;
            default -> idsC;
        };
    }

    @Override
    public void close() {
        proxy.close();
        hboneA.close();
        hboneB.close();
        hboneC.close();
        loops.close();
        servers.close();
    }
}
