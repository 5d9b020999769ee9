package dev.tessera.agent.control;

import static dev.tessera.agent.control.ControlPlaneFixture.content;
import static dev.tessera.agent.control.ControlPlaneFixture.state;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.tessera.agent.config.ControllerAddress;
import dev.tessera.api.identity.CertificateAuthority;
import dev.tessera.api.identity.SpiffeId;
import dev.tessera.api.push.Frames;
import dev.tessera.api.push.MeshConfig;
import dev.tessera.api.push.MeshDelta;
import dev.tessera.api.push.Message;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.io.DataInputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLServerSocket;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Push epochs: versions are comparable only within one controller run (epoch). A DELTA is applied only on
 * top of the same epoch's version; across a controller restart the agent must get a SNAPSHOT even when its
 * old version number happens to lie inside the new run's delta history.
 */
class PushEpochIT {

    private static final Duration WAIT = Duration.ofSeconds(20);

    @TempDir
    Path dir;
    private ControlPlaneFixture f;

    @BeforeEach
    void start() throws Exception {
        f = new ControlPlaneFixture(dir);
    }

    @AfterEach
    void stop() {
        f.close();
    }

    private static void awaitState(ControllerClient c, MeshConfig expected) {
        await().atMost(WAIT).untilAsserted(() -> assertThat(content(c.current())).isEqualTo(content(expected)));
    }

    /** {@code c}, served by the fixture's controller, holds its node's view of {@code expected}. */
    private void awaitView(ControllerClient c, MeshConfig expected) {
        awaitState(c, f.viewOf(c, expected));
    }

    /** One pod more per version, all labelled the same: deltas stay much smaller than a snapshot. */
    private static MeshConfig after(long version) {
        return state(version, 6 + (int) version, "after");
    }

    @Test
    void aRestartedControllerWhoseHistoryCoversTheAgentsOldVersionStillSendsASnapshot() throws Exception {
        MeshConfig before = state(5, 12, "before"); // the old run's version 5
        f.source.publish(before);
        f.startServer(0, 8);
        int port = f.server.port();
        var clients = ControlPlaneFixture.NODES.stream().map(n -> f.client(n, new CopyOnWriteArrayList<>())).toList();
        clients.forEach(c -> awaitView(c, before));
        long oldEpoch = f.server.epoch();
        f.server.close();
        await().atMost(WAIT).until(() -> clients.stream().noneMatch(ControllerClient::connected));

        // A new run: versions restart at 1, and its history (8 deltas) holds 5 -> 8, the agents' version.
        f.source = new dev.tessera.agent.testing.HandSource();
        f.source.publish(after(1));
        f.startServer(port, 8);
        for (long v = 2; v <= 8; v++) {
            f.source.publish(after(v));
        }
        assertThat(f.server.epoch()).isNotEqualTo(oldEpoch);
        clients.forEach(c -> awaitView(c, after(8)));
        clients.forEach(c -> assertThat(c.epoch()).isEqualTo(f.server.epoch()));
        assertThat(f.server.counters().snapshotsSent()).as("one snapshot per agent resuming from another epoch")
                .isEqualTo(3);
        assertThat(f.server.counters().nacks()).as("deltas of the new epoch offered to agents of the old one (NACKed)")
                .isZero();
    }

    @Test
    void aDeltaOfAnotherEpochIsNackedAndLeavesTheStateUnchanged() throws Exception {
        try (var server = new FakeController(f)) {
            var settings = new ControllerClient.Settings(new ControllerAddress("127.0.0.1", server.port()), "node1",
                    dir.resolve("node1.token"), f.caFile, Duration.ofMillis(50), Duration.ofMillis(500),
                    Duration.ofSeconds(10), Duration.ofSeconds(60));
            var applied = new CopyOnWriteArrayList<MeshConfig>();
            try (var c = new ControllerClient(settings, applied::add, b -> { }).start()) {
                server.accept();
                Message.Hello hello = server.read(Message.Hello.class);
                assertThat(hello.node()).isEqualTo("node1");
                server.send(new Message.Welcome(hello.protocolVersion(), 1, hello.protocolVersion()));

                long epoch = 41;
                MeshConfig v1 = state(1, 9, "v1");
                server.send(new Message.Snapshot(epoch, f.ca.trustBundle(), v1));
                assertThat(server.read(Message.Ack.class).version()).isEqualTo(1);
                awaitState(c, v1);

                // Versions 1 -> 2 would apply cleanly, but they belong to another run of the controller.
                MeshConfig v2 = state(2, 10, "v2");
                server.send(new Message.Delta(epoch + 1, null, MeshDelta.diff(v1, v2)));
                Message answer = server.read(Message.class);
                assertThat(answer).as("the agent's answer to a delta of epoch %d", epoch + 1)
                        .isInstanceOf(Message.Nack.class);
                Message.Nack nack = (Message.Nack) answer;
                assertThat(nack.version()).isEqualTo(2);
                assertThat(nack.error()).contains("epoch " + (epoch + 1)).contains("expected: " + epoch);
                assertThat(content(c.current())).as("state after a wrong-epoch delta").isEqualTo(content(v1));
                assertThat(applied).extracting(MeshConfig::version).containsExactly(1L);
                assertThat(c.epoch()).isEqualTo(epoch);

                // The session lives on: a snapshot is taken again.
                server.send(new Message.Snapshot(epoch + 1, f.ca.trustBundle(), v2));
                assertThat(server.read(Message.Ack.class).version()).isEqualTo(2);
                awaitState(c, v2);
                assertThat(c.epoch()).isEqualTo(epoch + 1);
            }
        }
    }

    /**
     * A hand-driven controller: TLS with a certificate from the fixture's CA naming 127.0.0.1, then raw
     * frames, so a test can send what the real push server never would.
     */
    static final class FakeController implements AutoCloseable {
        private final SSLServerSocket server;
        private SSLSocket socket;
        private DataInputStream in;
        private OutputStream out;

        FakeController(ControlPlaneFixture f) throws Exception {
            KeyPair key = CertificateAuthority.newKeyPair();
            List<X509Certificate> chain = f.ca.issueServer(key.getPublic(),
                    new SpiffeId(ControlPlaneFixture.TD, "tessera-system", "tessera-controller"), List.of("localhost"),
                    List.of(InetAddress.getByName("127.0.0.1")), Duration.ofHours(1));
            var ks = KeyStore.getInstance("PKCS12");
            ks.load(null, null);
            ks.setKeyEntry("server", key.getPrivate(), new char[0], chain.toArray(new X509Certificate[0]));
            var kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
            kmf.init(ks, new char[0]);
            var ssl = SSLContext.getInstance("TLSv1.3");
            ssl.init(kmf.getKeyManagers(), null, null);
            server = (SSLServerSocket) ssl.getServerSocketFactory().createServerSocket(0, 1,
                    InetAddress.getByName("127.0.0.1"));
            server.setEnabledProtocols(new String[] {"TLSv1.3"});
            server.setSoTimeout((int) WAIT.toMillis());
        }

        int port() {
            return server.getLocalPort();
        }

        void accept() throws Exception {
            socket = (SSLSocket) server.accept();
            socket.setSoTimeout((int) WAIT.toMillis());
            in = new DataInputStream(socket.getInputStream());
            out = socket.getOutputStream();
        }

        void send(Message m) throws Exception {
            ByteBuf frame = Unpooled.buffer();
            try {
                Frames.encode(m, frame);
                byte[] bytes = new byte[frame.readableBytes()];
                frame.readBytes(bytes);
                out.write(bytes);
                out.flush();
            } finally {
                frame.release();
            }
        }

        /** The next frame of {@code type}, skipping others (PONGs; and PONGs always when {@code type} is Message). */
        <T extends Message> T read(Class<T> type) throws Exception {
            while (true) {
                int length = in.readInt();
                byte[] body = new byte[length];
                in.readFully(body);
                ByteBuf frame = Unpooled.wrappedBuffer(body);
                Message m;
                try {
                    m = Frames.decode(frame);
                } finally {
                    frame.release();
                }
                if (type.isInstance(m) && !(m instanceof Message.Pong)) {
                    return type.cast(m);
                }
            }
        }

        @Override
        public void close() throws Exception {
            if (socket != null) {
                socket.close();
            }
            server.close();
        }
    }
}
