package dev.tessera.agent.handoff;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.tessera.agent.netty.EventLoops;
import dev.tessera.agent.netty.Listeners;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two in-process "agents" on loopback: the old one serves its two listeners over the handoff socket, the
 * new one adopts them (paused, then accepting after a delay, like the agent's gate) while a client
 * connects every few milliseconds. No connect may fail, new connections end up at the new agent, and a
 * connection the old agent accepted keeps working after the handoff. A control run without handoff (the
 * old agent closes, the new one binds) shows that the client does see refused connections then.
 */
class ListenerHandoffIT {

    private static final InetAddress LOOPBACK = InetAddress.getLoopbackAddress();

    @TempDir
    Path dir;

    private final EventLoops oldLoops = EventLoops.create(1);
    private final EventLoops newLoops = EventLoops.create(1);
    private final List<Channel> servers = new CopyOnWriteArrayList<>();

    @BeforeEach
    void epoll() {
        org.junit.jupiter.api.Assumptions.assumeTrue(oldLoops.nativeTransport(), "listener handoff needs epoll");
    }

    @AfterEach
    void close() {
        servers.forEach(c -> c.close().awaitUninterruptibly());
        oldLoops.close();
        newLoops.close();
    }

    /** A listener that greets every connection with {@code name} and then echoes lines. */
    private static ServerBootstrap greeter(EventLoops loops, String name) {
        return Listeners.paused(loops).childHandler(new ChannelInitializer<Channel>() {
            @Override
            protected void initChannel(Channel ch) {
                ch.pipeline().addLast(new ChannelInboundHandlerAdapter() {
                    @Override
                    public void channelActive(ChannelHandlerContext ctx) {
                        ctx.writeAndFlush(Unpooled.copiedBuffer(name + "\n", StandardCharsets.UTF_8));
                    }

                    @Override
                    public void channelRead(ChannelHandlerContext ctx, Object msg) {
                        ctx.writeAndFlush(msg);
                    }
                });
            }
        });
    }

    /** Connects to each address in turn every few ms until stopped; counts greetings and failures. */
    private static final class Prober extends Thread {
        final List<InetSocketAddress> targets;
        final AtomicBoolean stop = new AtomicBoolean();
        final Map<String, AtomicInteger> greetings = new ConcurrentHashMap<>();
        final List<String> failures = new CopyOnWriteArrayList<>();

        Prober(List<InetSocketAddress> targets) {
            super("prober");
            this.targets = targets;
        }

        @Override
        public void run() {
            while (!stop.get()) {
                for (var t : targets) {
                    try (var s = new Socket()) {
                        s.connect(t, 2000);
                        s.setSoTimeout(5000);
                        String g = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8))
                                .readLine();
                        greetings.computeIfAbsent(g + "@" + t.getPort(), k -> new AtomicInteger()).incrementAndGet();
                    } catch (java.io.IOException e) {
                        failures.add(t + ": " + e);
                    }
                }
                try {
                    Thread.sleep(3); // the connection rate of the probe, not a synchronisation
                } catch (InterruptedException e) {
                    return;
                }
            }
        }

        int count(String name, int port) {
            var c = greetings.get(name + "@" + port);
            return c == null ? 0 : c.get();
        }
    }

    @Test
    void newAgentAdoptsTheListenersWithoutRefusingAConnection() throws Exception {
        Channel a = Listeners.bind("a", greeter(oldLoops, "old"), new InetSocketAddress(LOOPBACK, 0));
        Channel b = Listeners.bind("b", greeter(oldLoops, "old"), new InetSocketAddress(LOOPBACK, 0));
        servers.addAll(List.of(a, b));
        Listeners.acceptConnections("a", a);
        Listeners.acceptConnections("b", b);
        var addrA = (InetSocketAddress) a.localAddress();
        var addrB = (InetSocketAddress) b.localAddress();

        // A long-lived connection the old agent accepted before the handoff.
        var longLived = new Socket();
        longLived.connect(addrA);
        var in = new BufferedReader(new InputStreamReader(longLived.getInputStream(), StandardCharsets.UTF_8));
        assertThat(in.readLine()).isEqualTo("old");

        Path sock = dir.resolve("handoff.sock");
        var handedOff = new AtomicBoolean();
        var server = HandoffServer.serve(sock, () -> List.of(Listeners.fd("a", a), Listeners.fd("b", b)), () -> {
            a.close().awaitUninterruptibly(); // stop accepting on the old copies (closes the old fd only)
            b.close().awaitUninterruptibly();
            handedOff.set(true);
        });
        var prober = new Prober(List.of(addrA, addrB));
        prober.start();
        try {
            await().atMost(Duration.ofSeconds(10)).until(() -> prober.count("old", addrA.getPort()) > 5);

            Channel na;
            Channel nb;
            try (var client = HandoffClient.request(sock, Duration.ofSeconds(5))) {
                assertThat(client).as("an agent answers on %s", sock).isNotNull();
                assertThat(client.ports()).containsExactlyInAnyOrder(addrA.getPort(), addrB.getPort());
                na = Listeners.adopt("a", greeter(newLoops, "new"), client.take(addrA.getPort()), addrA);
                nb = Listeners.adopt("b", greeter(newLoops, "new"), client.take(addrB.getPort()), addrB);
                servers.addAll(List.of(na, nb));
                client.acknowledge();
            }
            await().atMost(Duration.ofSeconds(5)).untilTrue(handedOff);
            assertThat(server.handedOff()).isTrue();
            Thread.sleep(300); // the new agent's gate stays shut a while: connections wait in the backlog
            Listeners.acceptConnections("a", na);
            Listeners.acceptConnections("b", nb);
            await().atMost(Duration.ofSeconds(10)).until(() -> prober.count("new", addrA.getPort()) > 20
                    && prober.count("new", addrB.getPort()) > 20);
        } finally {
            prober.stop.set(true);
            prober.join();
            server.close();
        }
        assertThat(prober.failures).as("failed connects during the handoff").isEmpty();
        assertThat(prober.count("old", addrB.getPort())).isPositive();

        // The old agent's connection still works after the handoff.
        longLived.getOutputStream().write("still here\n".getBytes(StandardCharsets.UTF_8));
        assertThat(in.readLine()).isEqualTo("still here");
        longLived.close();
    }

    @Test
    void withoutTheHandoffConnectsAreRefusedBetweenTheTwoAgents() throws Exception {
        Channel a = Listeners.bind("a", greeter(oldLoops, "old"), new InetSocketAddress(LOOPBACK, 0));
        servers.add(a);
        Listeners.acceptConnections("a", a);
        var addr = (InetSocketAddress) a.localAddress();
        var prober = new Prober(List.of(addr));
        prober.start();
        try {
            await().atMost(Duration.ofSeconds(10)).until(() -> prober.count("old", addr.getPort()) > 5);
            a.close().awaitUninterruptibly(); // today's restart: the old agent closes, then the new one binds
            await().atMost(Duration.ofSeconds(5)).until(() -> !prober.failures.isEmpty());
            Channel n = Listeners.bind("a", greeter(newLoops, "new"), addr);
            servers.add(n);
            Listeners.acceptConnections("a", n);
            await().atMost(Duration.ofSeconds(10)).until(() -> prober.count("new", addr.getPort()) > 5);
        } finally {
            prober.stop.set(true);
            prober.join();
        }
        // Closing the old listener resets the connections still in its backlog (handshake done, not yet accepted):
        // such a probe's connect() or greeting read sees 'Connection reset' instead of 'Connection refused', the
        // same gap between the two agents met a moment earlier (likelier on a busy 2-core machine).
        assertThat(prober.failures).isNotEmpty()
                .allMatch(f -> f.contains("refused") || f.contains("Connection reset"));
    }

    @Test
    void aProcessOfAnotherUserCannotTakeTheListeners() throws Exception {
        org.junit.jupiter.api.Assumptions.assumeTrue(
                ((Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid")) == 0, "needs root (setpriv)");
        Channel a = Listeners.bind("a", greeter(oldLoops, "old"), new InetSocketAddress(LOOPBACK, 0));
        Channel b = Listeners.bind("b", greeter(oldLoops, "old"), new InetSocketAddress(LOOPBACK, 0));
        servers.addAll(List.of(a, b));
        var addr = (InetSocketAddress) a.localAddress();
        var addrB = (InetSocketAddress) b.localAddress();
        Path sock = dir.resolve("handoff.sock");
        var handedOff = new AtomicBoolean();
        var server = HandoffServer.serve(sock, () -> List.of(Listeners.fd("a", a), Listeners.fd("b", b)),
                () -> handedOff.set(true));
        try {
            assertThat(Files.getPosixFilePermissions(sock))
                    .containsExactlyInAnyOrderElementsOf(java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
            // Someone loosened the permissions: the uid check still stops a process of another user.
            Files.setPosixFilePermissions(dir, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
            Files.setPosixFilePermissions(sock, java.nio.file.attribute.PosixFilePermissions.fromString("rw-rw-rw-"));
            var intruder = new ProcessBuilder("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                    "socat", "-u", "UNIX-CONNECT:" + sock, "OPEN:/dev/null").redirectErrorStream(true).start();
            assertThat(intruder.waitFor(10, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
            await().atMost(Duration.ofSeconds(5)).until(() -> server.refusedPeers() == 1);
            assertThat(handedOff).as("handed off to another user's process").isFalse();

            // The agent still serves its own user's next agent.
            try (var client = HandoffClient.request(sock, Duration.ofSeconds(5))) {
                assertThat(client).as("the handoff socket after the refusal").isNotNull();
                assertThat(client.ports()).containsExactlyInAnyOrder(addr.getPort(), addrB.getPort());
                servers.add(Listeners.adopt("a", greeter(newLoops, "new"), client.take(addr.getPort()), addr));
                servers.add(Listeners.adopt("b", greeter(newLoops, "new"), client.take(addrB.getPort()), addrB));
                client.acknowledge();
            }
            await().atMost(Duration.ofSeconds(5)).untilTrue(handedOff);
        } finally {
            server.close();
        }
    }

    /**
     * With --node-ip6 the outbound port has two listeners, IPv4 and IPv6: the old agent sends a third socket and
     * the new one takes each by its address (by port alone they would collide).
     */
    @Test
    void theIpv6OutboundListenerIsHandedOverToo() throws Exception {
        Channel a = Listeners.bind("a", greeter(oldLoops, "old"), new InetSocketAddress(LOOPBACK, 0));
        var addrA = (InetSocketAddress) a.localAddress();
        Channel a6 = Listeners.bind("a6", greeter(oldLoops, "old6"),
                new InetSocketAddress(InetAddress.getByName("::1"), addrA.getPort()));
        Channel b = Listeners.bind("b", greeter(oldLoops, "old"), new InetSocketAddress(LOOPBACK, 0));
        servers.addAll(List.of(a, a6, b));
        var addrA6 = (InetSocketAddress) a6.localAddress();
        var addrB = (InetSocketAddress) b.localAddress();
        Path sock = dir.resolve("handoff.sock");
        var handedOff = new AtomicBoolean();
        var server = HandoffServer.serve(sock, () -> List.of(Listeners.fd("a", a), Listeners.fd("b", b),
                Listeners.fd("a6", a6)), () -> {
                    a.close().awaitUninterruptibly();
                    a6.close().awaitUninterruptibly();
                    b.close().awaitUninterruptibly();
                    handedOff.set(true);
                });
        try (var client = HandoffClient.request(sock, Duration.ofSeconds(5))) {
            assertThat(client.addresses()).containsExactlyInAnyOrder(addrA, addrA6, addrB);
            Channel n6 = Listeners.adopt("a6", greeter(newLoops, "new6"), client.take(addrA6), addrA6);
            Channel na = Listeners.adopt("a", greeter(newLoops, "new"), client.take(addrA), addrA);
            Channel nb = Listeners.adopt("b", greeter(newLoops, "new"), client.take(addrB), addrB);
            servers.addAll(List.of(n6, na, nb));
            assertThat(client.addresses()).isEmpty();
            client.acknowledge();
            await().atMost(Duration.ofSeconds(5)).untilTrue(handedOff);
            for (Channel n : List.of(n6, na, nb)) {
                Listeners.acceptConnections("n", n);
            }
            assertThat(greeting(addrA6)).isEqualTo("new6");
            assertThat(greeting(addrA)).isEqualTo("new");
        } finally {
            server.close();
        }
    }

    private static String greeting(InetSocketAddress to) throws java.io.IOException {
        try (var s = new Socket()) {
            s.connect(to, 2000);
            s.setSoTimeout(5000);
            return new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8)).readLine();
        }
    }

    @Test
    void noAgentOnTheSocketMeansBindAsUsual() throws Exception {
        assertThat(HandoffClient.request(dir.resolve("absent.sock"), Duration.ofSeconds(1))).isNull();
        Path stale = dir.resolve("stale.sock");
        Files.createFile(stale); // a file nobody listens on
        assertThat(HandoffClient.request(stale, Duration.ofSeconds(1))).isNull();
    }
}
