package dev.tessera.agent.outbound;

import static dev.tessera.agent.testing.LoopbackMesh.*;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.tessera.agent.connection.CloseReason;
import dev.tessera.agent.connection.ConnectionContext.Direction;
import dev.tessera.agent.connection.ConnectionContext.RouteKind;
import dev.tessera.agent.testing.LoopbackMesh;
import dev.tessera.agent.testing.RecordingListener.Closed;
import dev.tessera.agent.testing.TestServers;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/** The outbound proxy end to end on loopback: app -> proxy (node-a) -> HBONE -> node-b -> echo pod. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class OutboundProxyIT {

    private LoopbackMesh mesh;

    @BeforeAll
    void start() {
        mesh = new LoopbackMesh();
    }

    @AfterAll
    void stop() {
        mesh.close();
    }

    @Test
    void multiMegabyteEchoThroughHboneKeepsBytesAndHalfClosesBothWays() throws Exception {
        byte[] data = new byte[8 * 1024 * 1024 + 123];
        new Random(42).nextBytes(data);
        try (Socket s = connect(CLIENT_IP, mesh.serverEcho)) {
            CompletableFuture<byte[]> received = CompletableFuture.supplyAsync(() -> readToEnd(s));
            s.getOutputStream().write(data);
            s.shutdownOutput(); // FIN -> END_STREAM -> FIN at the pod, which answers "bye" and its own FIN
            byte[] got = received.get(30, TimeUnit.SECONDS);
            assertThat(got.length).isEqualTo(data.length + TestServers.BYE.length());
            assertThat(sha256(Arrays.copyOf(got, data.length))).isEqualTo(sha256(data));
            assertThat(new String(got, data.length, TestServers.BYE.length(), StandardCharsets.US_ASCII))
                    .isEqualTo(TestServers.BYE);
        }
        Closed out = awaitClosed(mesh.recordA::closed, Direction.OUTBOUND);
        assertThat(out.stats().reason()).isEqualTo(CloseReason.OK);
        assertThat(out.context().route()).isEqualTo(RouteKind.HBONE);
        assertThat(out.context().sourceIdentity()).isEqualTo(CLIENT);
        assertThat(out.context().destinationIdentity()).isEqualTo(SERVER);
        assertThat(out.stats().bytesFromSource()).isEqualTo(data.length);
        assertThat(out.stats().bytesToSource()).isEqualTo(data.length + TestServers.BYE.length());
        // The server side saw the client's verified SPIFFE id and workload.
        Closed in = awaitClosed(mesh.recordB::closed, Direction.INBOUND);
        assertThat(in.context().sourceIdentity()).isEqualTo(CLIENT);
        assertThat(in.context().sourceWorkload().key()).isEqualTo("shop/client");
        assertThat(in.context().destinationWorkload().key()).isEqualTo("shop/server");
        assertThat(in.stats().reason()).isEqualTo(CloseReason.OK);
    }

    @Test
    void smallExchangeWithHalfClose() throws Exception {
        try (Socket s = mesh.connect(CLIENT_IP, mesh.serverEcho)) {
            s.getOutputStream().write("ping".getBytes(StandardCharsets.US_ASCII));
            byte[] first = s.getInputStream().readNBytes(4);
            assertThat(new String(first, StandardCharsets.US_ASCII)).isEqualTo("ping");
            // The connection stays usable in both directions until FIN.
            s.getOutputStream().write("pong".getBytes(StandardCharsets.US_ASCII));
            s.shutdownOutput();
            assertThat(new String(readToEnd(s), StandardCharsets.US_ASCII)).isEqualTo("pong" + TestServers.BYE);
        }
    }

    @Test
    void localDeliveryOnTheSameNode() throws Exception {
        assertThat(echoOnce(CLIENT_IP, mesh.cacheEcho)).isEqualTo("hello" + TestServers.BYE);
        Closed c = awaitClosed(mesh.recordA::closed, Direction.OUTBOUND);
        assertThat(c.context().route()).isEqualTo(RouteKind.LOCAL);
        assertThat(c.context().destinationIdentity()).isEqualTo(CACHE);
        assertThat(c.stats().reason()).isEqualTo(CloseReason.OK);
    }

    @Test
    void passthroughToDestinationsOutsideTheMesh() throws Exception {
        assertThat(echoOnce(CLIENT_IP, mesh.outsideEcho)).isEqualTo("hello" + TestServers.BYE);
        assertThat(awaitClosed(mesh.recordA::closed, Direction.OUTBOUND).context().route())
                .isEqualTo(RouteKind.PASSTHROUGH);
        assertThat(echoOnce(CLIENT_IP, mesh.plainEcho)).isEqualTo("hello" + TestServers.BYE);
        Closed plain = awaitClosed(mesh.recordA::closed, Direction.OUTBOUND);
        assertThat(plain.context().route()).isEqualTo(RouteKind.PASSTHROUGH);
        assertThat(plain.context().destinationWorkload().key()).isEqualTo("legacy/plain");
    }

    @Test
    void missingOriginalDestinationCloses() throws Exception {
        long before = mesh.countersA.closed(CloseReason.NO_ORIGINAL_DST);
        assertRefused(CLIENT_IP, null);
        await().untilAsserted(() -> assertThat(mesh.countersA.closed(CloseReason.NO_ORIGINAL_DST)).isEqualTo(before + 1));
    }

    @Test
    void sourcesThatAreNotLocalMeshedPodsAreRefused() throws Exception {
        long unmeshed = mesh.countersA.closed(CloseReason.NOT_MESHED_SOURCE);
        long unknown = mesh.countersA.closed(CloseReason.UNKNOWN_SOURCE);
        assertRefused(UNMESHED_CLIENT_IP, mesh.serverEcho);
        assertRefused(UNKNOWN_CLIENT_IP, mesh.serverEcho);
        await().untilAsserted(() -> {
            assertThat(mesh.countersA.closed(CloseReason.NOT_MESHED_SOURCE)).isEqualTo(unmeshed + 1);
            assertThat(mesh.countersA.closed(CloseReason.UNKNOWN_SOURCE)).isEqualTo(unknown + 1);
        });
    }

    @Test
    void closedPortFailsTheClientWithinOneSecondAndTheProxyKeepsServing() throws Exception {
        InetSocketAddress closed = LoopbackMesh.addr(SERVER_IP, unusedPort());
        long before = mesh.countersA.closed(CloseReason.UPSTREAM_CONNECT_FAILED);
        Socket connected;
        try {
            connected = mesh.connect(CLIENT_IP, closed);
        } catch (SocketException resetBeforeConnectReturned) {
            connected = null; // on a busy machine the proxy's reset can beat this thread's finishConnect: only faster
        }
        if (connected != null) {
            try (Socket s = connected) {
                try {
                    s.getOutputStream().write("lost".getBytes(StandardCharsets.US_ASCII));
                } catch (SocketException alreadyReset) {
                    // the proxy closed the connection before the write: the failure was only faster
                }
                assertClosedWithin(s, Duration.ofSeconds(1));
            }
        }
        await().untilAsserted(() -> assertThat(mesh.countersA.closed(CloseReason.UPSTREAM_CONNECT_FAILED))
                .isEqualTo(before + 1));
        assertThat(echoOnce(CLIENT_IP, mesh.serverEcho)).isEqualTo("hello" + TestServers.BYE);
    }

    @Test
    void clientRefusesAServerPresentingAnotherIdentity() throws Exception {
        long before = mesh.countersA.closed(CloseReason.PEER_IDENTITY_MISMATCH);
        Socket connected;
        try {
            connected = mesh.connect(CLIENT_IP, mesh.victimEcho);
        } catch (SocketException resetBeforeConnectReturned) {
            connected = null; // as above: the proxy's reset beat this thread's finishConnect (seen in CI, 2 cores)
        }
        if (connected != null) {
            try (Socket s = connected) {
                assertClosedWithin(s, Duration.ofSeconds(2));
            }
        }
        await().untilAsserted(() -> assertThat(mesh.countersA.closed(CloseReason.PEER_IDENTITY_MISMATCH))
                .isEqualTo(before + 1));
        assertThat(mesh.countersA.handshakes(Direction.OUTBOUND, false)).isPositive();
    }

    @Test
    void concurrentConnectionsShareOnePooledTlsConnectionPerEventLoop() throws Exception {
        // shop/other is used by no other test: the first use of this pool key happens here, concurrently.
        // The pool keeps one connection per key and event loop (loop affinity), so 40 connections cost at
        // most one handshake per worker thread, never one per connection.
        int loops = 0;
        for (var ignored : mesh.loops.worker()) {
            loops++;
        }
        long clientHandshakes = mesh.countersA.handshakes(Direction.OUTBOUND, true);
        long serverHandshakes = mesh.countersB.handshakes(Direction.INBOUND, true);
        int n = 40;
        ExecutorService pool = Executors.newFixedThreadPool(n);
        try {
            CountDownLatch go = new CountDownLatch(1);
            List<Future<String>> results = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                results.add(pool.submit(() -> {
                    go.await();
                    return echoOnce(CLIENT_IP, mesh.otherEcho);
                }));
            }
            go.countDown();
            for (Future<String> r : results) {
                assertThat(r.get(30, TimeUnit.SECONDS)).isEqualTo("hello" + TestServers.BYE);
            }
        } finally {
            pool.shutdownNow();
        }
        assertThat(mesh.countersA.handshakes(Direction.OUTBOUND, true) - clientHandshakes).isBetween(1L, (long) loops);
        assertThat(mesh.countersB.handshakes(Direction.INBOUND, true) - serverHandshakes).isBetween(1L, (long) loops);
    }

    @Test
    void twoHundredConcurrentConnectionsAllSucceed() throws Exception {
        int n = 200;
        List<Socket> sockets = new ArrayList<>();
        try {
            for (int i = 0; i < n; i++) {
                Socket s = mesh.connect(CLIENT_IP, mesh.serverEcho);
                sockets.add(s);
                s.getOutputStream().write(("conn-" + i + ";").getBytes(StandardCharsets.US_ASCII));
            }
            for (int i = 0; i < n; i++) {
                Socket s = sockets.get(i);
                String expected = "conn-" + i + ";";
                assertThat(new String(s.getInputStream().readNBytes(expected.length()), StandardCharsets.US_ASCII))
                        .isEqualTo(expected);
                s.shutdownOutput();
                assertThat(new String(readToEnd(s), StandardCharsets.US_ASCII)).isEqualTo(TestServers.BYE);
            }
        } finally {
            for (Socket s : sockets) {
                s.close();
            }
        }
        await().untilAsserted(() -> assertThat(mesh.proxy.activeConnections()).isZero());
    }

    // ---- helpers ----

    private volatile InetSocketAddress lastClient;

    private Socket connect(String sourceIp, InetSocketAddress dst) throws IOException {
        Socket s = mesh.connect(sourceIp, dst);
        lastClient = (InetSocketAddress) s.getLocalSocketAddress();
        return s;
    }

    private String echoOnce(String sourceIp, InetSocketAddress dst) throws IOException {
        try (Socket s = connect(sourceIp, dst)) {
            s.getOutputStream().write("hello".getBytes(StandardCharsets.US_ASCII));
            s.shutdownOutput();
            return new String(readToEnd(s), StandardCharsets.US_ASCII);
        }
    }

    private static byte[] readToEnd(Socket s) {
        try {
            InputStream in = s.getInputStream();
            var out = new ByteArrayOutputStream();
            in.transferTo(out);
            return out.toByteArray();
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The proxy accepts and at once resets the connection (connect itself may already see the reset). */
    private void assertRefused(String sourceIp, InetSocketAddress dst) throws IOException {
        long start = System.nanoTime();
        try (Socket s = mesh.connect(sourceIp, dst)) {
            assertClosedWithin(s, Duration.ofSeconds(1));
        } catch (SocketException reset) {
            assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(1));
        }
    }

    /** The connection ends (EOF or reset) without any data, within {@code limit}. */
    private static void assertClosedWithin(Socket s, Duration limit) throws IOException {
        s.setSoTimeout((int) limit.toMillis());
        long start = System.nanoTime();
        int read;
        try {
            read = s.getInputStream().read();
        } catch (SocketException reset) {
            read = -1;
        }
        assertThat(read).isEqualTo(-1);
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(limit);
    }

    /** Waits for the closed event of the connection last opened from {@link #lastClient}. */
    private Closed awaitClosed(java.util.function.Supplier<List<Closed>> records, Direction direction) {
        InetSocketAddress client = lastClient;
        return await().until(() -> records.get().stream()
                .filter(c -> c.context().direction() == direction && client.equals(c.context().client()))
                .findFirst(), java.util.Optional::isPresent).get();
    }

    private static int unusedPort() throws IOException {
        try (var s = new java.net.ServerSocket(0, 1, java.net.InetAddress.getByName(SERVER_IP))) {
            return s.getLocalPort();
        }
    }

    private static byte[] sha256(byte[] b) throws Exception {
        return MessageDigest.getInstance("SHA-256").digest(b);
    }
}
