package dev.tessera.agent.redirect;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.tessera.agent.config.AgentConfig;
import dev.tessera.agent.connection.CloseReason;
import dev.tessera.agent.connection.ConnectionListener;
import dev.tessera.agent.netty.EventLoops;
import dev.tessera.agent.outbound.OutboundProxy;
import dev.tessera.agent.state.StateStore;
import dev.tessera.agent.testing.RecordingListener;
import dev.tessera.agent.testing.TestIdentities;
import dev.tessera.api.netns.Netns;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The agent's IPv6 outbound listener with the real capture: with {@code --node-ip6} the outbound proxy also binds
 * [node-ip6]:port, an enrolled pod's native IPv6 connect lands there, and the handler finds its original IPv6
 * destination through {@link BpfRedirector#take}. (Routing an IPv6 destination is the outbound route's business:
 * here the state is empty, so the connection is closed after its original destination was found.)
 */
class Ipv6OutboundListenerNetnsIT {

    static final Path PIN_ROOT = Path.of("/sys/fs/bpf/tessera-test-v6listener");
    static final InetSocketAddress SERVER6 = new InetSocketAddress("2001:db8:201::1", 8080);

    @Test
    void aNativeIpv6ConnectReachesTheIpv6ListenerWithItsOriginalDestination() throws Exception {
        NetnsFixture.requireRoot();
        int port = 15101;
        AgentConfig config = AgentConfig.parse("--node", "n1", "--node-ip", "198.18.200.1", "--node-ip6",
                "2001:db8:200::1", "--outbound-port", "" + port, "--mesh-cidr", "198.18.0.0/16,2001:db8:200::/47",
                "--bpf-pin-dir", PIN_ROOT.resolve("p" + ProcessHandle.current().pid()).toString(),
                "--network", "/nonexistent/network.json", "--controller", "127.0.0.1:15012");
        try (var net = new NetnsFixture(); var loops = EventLoops.create(1)) {
            Path node = NetnsFixture.path(NetnsFixture.NODE);
            Path pod = NetnsFixture.path(NetnsFixture.POD);
            var settings = RedirectSettings.of(config, List.of());
            assertThat(settings.agentIp6()).isEqualTo(InetAddress.getByName("2001:db8:200::1"));
            BpfRedirector redirector = BpfRedirector.install(settings);
            var record = new RecordingListener();
            var proxy = new OutboundProxy(config, new StateStore(), new TestIdentities(List.of()), redirector,
                    ConnectionListener.of(record), loops);
            try {
                redirector.enroll(Netns.cookie(pod));
                Netns.call(node, () -> {
                    proxy.start();
                    return null;
                });
                proxy.acceptConnections();
                assertThat(proxy.localAddress6()).isEqualTo(new InetSocketAddress("2001:db8:200::1", port));
                assertThat(proxy.localAddress()).isEqualTo(new InetSocketAddress("198.18.200.1", port));

                // The proxy closes the connection as soon as routing fails (empty state), so the client only
                // keeps its local address (getpeername after the close is RedirectNetnsIT's business). Bound before
                // connecting: the proxy's reset can beat this thread's finishConnect, and connect() then throws
                // 'Connection reset by peer' (seen in a clean-clone CI run, 2 cores); the connection happened.
                InetSocketAddress local = Netns.call(pod, () -> {
                    try (var s = new java.net.Socket()) {
                        s.bind(new InetSocketAddress(InetAddress.getByName("2001:db8:200::2"), 0));
                        InetSocketAddress bound = (InetSocketAddress) s.getLocalSocketAddress();
                        try {
                            s.connect(SERVER6, 5000);
                        } catch (java.net.SocketException resetBeforeConnectReturned) {
                            // the refusal, only faster
                        }
                        return bound;
                    }
                });
                await().atMost(Duration.ofSeconds(10)).until(() -> !record.closed().isEmpty());
                var closed = record.closed().get(0);
                assertThat(closed.context().client()).as("the pod's own IPv6 address and port").isEqualTo(local);
                assertThat(local.getAddress()).isEqualTo(InetAddress.getByName("2001:db8:200::2"));
                assertThat(closed.context().destination()).as("the original destination, from tsr_client_dst6")
                        .isEqualTo(SERVER6);
                assertThat(closed.stats().reason()).isNotEqualTo(CloseReason.NO_ORIGINAL_DST);
                assertThat(redirector.stats().misses()).isZero();
            } finally {
                proxy.close();
                redirector.uninstall();
                Files.deleteIfExists(PIN_ROOT);
            }
        }
    }

    @Test
    void aTakenIpv6PortFailsStartUpNamingTheAddress() throws Exception {
        NetnsFixture.requireRoot();
        int port = 15102;
        AgentConfig config = AgentConfig.parse("--node", "n1", "--node-ip", "198.18.200.1", "--node-ip6",
                "2001:db8:200::1", "--outbound-port", "" + port, "--network", "/nonexistent/network.json",
                "--controller", "127.0.0.1:15012");
        try (var net = new NetnsFixture(); var loops = EventLoops.create(1)) {
            Path node = NetnsFixture.path(NetnsFixture.NODE);
            var proxy = new OutboundProxy(config, new StateStore(), new TestIdentities(List.of()),
                    client -> java.util.Optional.empty(), ConnectionListener.of(new RecordingListener()), loops);
            try (ServerSocket taken = Netns.call(node, () -> new ServerSocket(port, 1,
                    InetAddress.getByName("2001:db8:200::1")))) {
                assertThatThrownBy(() -> Netns.call(node, () -> {
                    proxy.start();
                    return null;
                })).hasMessageContaining("outbound proxy (IPv6): cannot bind 2001:db8:200:0:0:0:0:1:" + port);
                // The IPv4 listener bound before it was released: the port is free again.
                try (ServerSocket v4 = Netns.call(node, () -> new ServerSocket(port, 1,
                        InetAddress.getByName("198.18.200.1")))) {
                    assertThat(v4.isBound()).isTrue();
                }
            } finally {
                proxy.close();
            }
        }
    }
}
