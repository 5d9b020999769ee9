package dev.tessera.agent.control;

import static dev.tessera.agent.control.ControlPlaneFixture.content;
import static dev.tessera.agent.control.ControlPlaneFixture.state;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.tessera.agent.config.ControllerAddress;
import dev.tessera.api.identity.CertificateAuthority;
import dev.tessera.api.identity.SpiffeId;
import dev.tessera.api.push.MeshConfig;
import dev.tessera.controller.identity.RefusalReason;
import java.io.DataInputStream;
import java.io.EOFException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The controller connection end to end on loopback: a real PushServer (TLS 1.3, IssuingCa, static tokens,
 * node-authorizing SvidIssuer) and real ControllerClients.
 */
class ControlPlaneIT {

    private static final Duration WAIT = Duration.ofSeconds(20);

    @TempDir
    Path dir;
    private ControlPlaneFixture f;

    @BeforeEach
    void start() throws Exception {
        f = new ControlPlaneFixture(dir);
        f.source.publish(state(1, 9, "v1"));
        f.startServer(0, 8);
    }

    @AfterEach
    void stop() {
        f.close();
    }

    /** {@code c} holds its node's view of {@code expected}. */
    private void awaitState(ControllerClient c, MeshConfig expected) {
        MeshConfig view = f.viewOf(c, expected);
        await().atMost(WAIT).untilAsserted(() -> assertThat(content(c.current())).isEqualTo(content(view)));
    }

    @Test
    void snapshotThenDeltasReachEveryAgentAndAreAcked() {
        var applied = ControlPlaneFixture.NODES.stream().map(n -> new CopyOnWriteArrayList<MeshConfig>()).toList();
        var clients = java.util.stream.IntStream.range(0, 3)
                .mapToObj(i -> f.client(ControlPlaneFixture.NODES.get(i), applied.get(i))).toList();
        clients.forEach(c -> awaitState(c, state(1, 9, "v1")));
        assertThat(clients).allMatch(ControllerClient::synced);

        MeshConfig last = null;
        for (int v = 2; v <= 30; v++) {
            last = state(v, 9 + v % 4, "v" + v);
            f.source.publish(last);
        }
        for (ControllerClient c : clients) {
            awaitState(c, last);
        }
        long lastVersion = last.version();
        await().atMost(WAIT).untilAsserted(() -> assertThat(f.server.ackedVersions())
                .containsOnlyKeys(ControlPlaneFixture.NODES).allSatisfy((node, v) -> assertThat(v).isEqualTo(lastVersion)));
        assertThat(f.server.connectedAgents()).extracting(a -> a.node()).containsExactlyElementsOf(ControlPlaneFixture.NODES);
        assertThat(f.server.counters().snapshotsSent()).isEqualTo(3);
        // every version reached every agent, in order (a busy machine may coalesce, never reorder)
        for (ControllerClient c : clients) {
            assertThat(c.epoch()).isEqualTo(f.server.epoch());
        }
        for (var list : applied) {
            var versions = list.stream().map(MeshConfig::version).toList();
            assertThat(versions).startsWith(1L).endsWith(30L).doesNotHaveDuplicates().isSorted();
        }
        assertThat(f.server.counters().deltasSent()).isBetween(3L, 3L * 29);
    }

    @Test
    void aBadTokenIsRefusedCountedAndClosed() throws Exception {
        Path bad = dir.resolve("bad.token");
        Files.writeString(bad, "not-a-known-token-0000000000");
        var c = f.client("node1", bad, new CopyOnWriteArrayList<>());
        await().atMost(WAIT).untilAsserted(() -> {
            assertThat(f.server.counters().rejectedHandshakes()).containsKey(RefusalReason.TOKEN_INVALID.name());
            assertThat(c.lastError()).contains("TOKEN_INVALID");
        });
        assertThat(c.synced()).isFalse();
        assertThat(f.server.connectedAgents()).isEmpty();
    }

    @Test
    void aHelloForAnotherNodeIsRefused() {
        var c = f.client("node2", dir.resolve("node1.token"), new CopyOnWriteArrayList<>());
        await().atMost(WAIT).untilAsserted(() -> {
            assertThat(f.server.counters().rejectedHandshakes()).containsKey("NODE_MISMATCH");
            assertThat(c.lastError()).contains("NODE_MISMATCH").contains("node1");
        });
        assertThat(c.synced()).isFalse();
    }

    @Test
    void csrsAreSignedForPodsOnTheCallersNodeOnly() throws Exception {
        var c = f.client("node1", new CopyOnWriteArrayList<>());
        var signer = new ControllerSigner(c, List::of);
        // requested before the session exists: sent after connecting
        SpiffeId mine = new SpiffeId(ControlPlaneFixture.TD, "shop", "sa-node1");
        var keys = CertificateAuthority.newKeyPair();
        var chain = signer.sign(CertificateAuthority.csr(keys, mine), mine).get(20, TimeUnit.SECONDS);
        assertThat(chain.get(0).getPublicKey()).isEqualTo(keys.getPublic());
        assertThat(chain.get(0).getSubjectAlternativeNames()).anySatisfy(san -> assertThat(san.get(1)).isEqualTo(mine.toString()));
        verifies(chain, signer.trustBundle());

        SpiffeId theirs = new SpiffeId(ControlPlaneFixture.TD, "shop", "sa-node2");
        var refused = signer.sign(CertificateAuthority.csr(CertificateAuthority.newKeyPair(), theirs), theirs);
        await().atMost(WAIT).until(refused::isDone);
        assertThat(refused).isCompletedExceptionally();
        try {
            refused.get();
        } catch (ExecutionException e) {
            assertThat(e.getCause()).isInstanceOf(CertificateRefusedException.class);
            assertThat(((CertificateRefusedException) e.getCause()).reason()).isEqualTo("NO_POD_ON_NODE");
        }
        assertThat(f.issuer.refusals().get(RefusalReason.NO_POD_ON_NODE)).isEqualTo(1);
    }

    @Test
    void aCsrAfterTheSessionTokenExpiredReconnectsWithTheRotatedTokenAndIsSigned() throws Exception {
        var c = f.client("node1", new CopyOnWriteArrayList<>());
        await().atMost(WAIT).until(c::synced);
        long connections = f.server.counters().connections();
        // The kubelet rotates the projected token; the session's token then expires.
        String fresh = "rotated-token-of-node1-0123456789";
        f.rotated.put(fresh, "node1");
        Files.writeString(f.dir.resolve("node1.token"), fresh + "\n");
        f.expired.add(f.tokenByNode.get("node1"));

        SpiffeId mine = new SpiffeId(ControlPlaneFixture.TD, "shop", "sa-node1");
        var keys = CertificateAuthority.newKeyPair();
        var chain = new ControllerSigner(c, List::of).sign(CertificateAuthority.csr(keys, mine), mine)
                .get(20, TimeUnit.SECONDS);
        assertThat(chain.get(0).getPublicKey()).isEqualTo(keys.getPublic());
        assertThat(f.server.counters().connections()).as("a new session with the rotated token")
                .isGreaterThan(connections);
    }

    private static void verifies(List<X509Certificate> chain, List<X509Certificate> bundle) throws Exception {
        for (int i = 0; i + 1 < chain.size(); i++) {
            chain.get(i).verify(chain.get(i + 1).getPublicKey());
        }
        X509Certificate top = chain.get(chain.size() - 1);
        assertThat(bundle).anySatisfy(root -> {
            try {
                top.verify(root.getPublicKey());
            } catch (Exception e) {
                throw new AssertionError(e);
            }
        });
    }

    @Test
    void aRestartedServerResyncsClientsBySnapshotAndTheyKeepStateMeanwhile() throws Exception {
        var clients = ControlPlaneFixture.NODES.stream().map(n -> f.client(n, new CopyOnWriteArrayList<>())).toList();
        MeshConfig before = state(5, 12, "before");
        f.source.publish(before);
        clients.forEach(c -> awaitState(c, before));
        long oldEpoch = f.server.epoch();
        int port = f.server.port();
        long attempts = clients.get(0).connectAttempts();

        f.server.close();
        await().atMost(WAIT).until(() -> clients.stream().noneMatch(ControllerClient::connected));
        await().atMost(WAIT).until(() -> clients.get(0).connectAttempts() > attempts + 1); // retrying with backoff
        clients.forEach(c -> assertThat(content(c.current())).isEqualTo(content(f.viewOf(c, before)))); // last state kept

        f.source = new dev.tessera.agent.testing.HandSource(); // a new controller process: new epoch, versions restart
        MeshConfig after = state(2, 6, "after");
        f.source.publish(after);
        f.startServer(port, 8);
        assertThat(f.server.epoch()).isNotEqualTo(oldEpoch);
        clients.forEach(c -> awaitState(c, after));
        assertThat(f.server.counters().snapshotsSent()).isEqualTo(3);
        clients.forEach(c -> assertThat(c.epoch()).isEqualTo(f.server.epoch()));
    }

    @Test
    void resumingWithinTheWindowGetsDeltasAndBeyondItASnapshot() throws Exception {
        Path token = dir.resolve("node3.token");
        var c = f.client("node3", new CopyOnWriteArrayList<>());
        awaitState(c, state(1, 9, "v1"));
        assertThat(f.server.counters().snapshotsSent()).isEqualTo(1);

        // within the window: hold the reconnect back (no token), publish 2 versions, let it resume
        String t = Files.readString(token);
        Files.delete(token);
        assertThat(f.server.disconnect("node3")).isEqualTo(1);
        await().atMost(WAIT).until(() -> !c.connected());
        f.source.publish(state(2, 10, "v1")); // one pod more each: deltas much smaller than a snapshot
        f.source.publish(state(3, 11, "v1"));
        Files.writeString(token, t);
        awaitState(c, state(3, 11, "v1"));
        assertThat(f.server.counters().snapshotsSent()).isEqualTo(1);
        assertThat(f.server.counters().deltasSent()).isEqualTo(2);

        // beyond the window (8 deltas): a snapshot
        Files.delete(token);
        f.server.disconnect("node3");
        await().atMost(WAIT).until(() -> !c.connected());
        for (int v = 4; v <= 15; v++) {
            f.source.publish(state(v, 9, "v" + v));
        }
        Files.writeString(token, t);
        awaitState(c, state(15, 9, "v15"));
        assertThat(f.server.counters().snapshotsSent()).isEqualTo(2);
    }

    @Test
    void theClientChecksTheControllersNameAndCa() throws Exception {
        // a server whose certificate names neither 127.0.0.1 nor localhost: the client must refuse it
        var config = dev.tessera.controller.push.PushServerConfig.defaults(ControlPlaneFixture.TD, "tessera-system")
                .withBind(java.net.InetAddress.getByName("127.0.0.1"), 0).withSans(List.of(), List.of());
        try (var other = new dev.tessera.controller.push.PushServer(config, f.source, f.tokens, f.issuer, f.ca).start()) {
            var settings = new ControllerClient.Settings(new ControllerAddress("127.0.0.1", other.port()), "node1",
                    dir.resolve("node1.token"), f.caFile, Duration.ofMillis(50), Duration.ofMillis(500),
                    Duration.ofSeconds(10), Duration.ofSeconds(60));
            try (var c = new ControllerClient(settings, x -> { }, b -> { }).start()) {
                await().atMost(WAIT).until(() -> c.connectAttempts() >= 2);
                assertThat(c.synced()).isFalse();
                assertThat(c.lastError()).startsWith("TLS handshake with the controller failed: ")
                        .endsWith("(expected: a certificate naming 127.0.0.1 that chains to --controller-ca " + f.caFile + ")");
            }
            assertThat(other.connectedAgents()).isEmpty();
        }
        // the right name but another CA: refused as well
        Path otherCa = dir.resolve("other-ca.pem");
        Files.writeString(otherCa, CertificateAuthority.Pem.write(
                dev.tessera.controller.identity.IssuingCa.generate(ControlPlaneFixture.TD).trustBundle().toArray()));
        var settings = new ControllerClient.Settings(new ControllerAddress("localhost", f.server.port()), "node1",
                dir.resolve("node1.token"), otherCa, Duration.ofMillis(50), Duration.ofMillis(500),
                Duration.ofSeconds(10), Duration.ofSeconds(60));
        try (var c = new ControllerClient(settings, x -> { }, b -> { }).start()) {
            await().atMost(WAIT).until(() -> c.connectAttempts() >= 2);
            assertThat(c.synced()).isFalse();
        }
        // and by name "localhost" with the right CA it works
        var ok = new ControllerClient(new ControllerClient.Settings(new ControllerAddress("localhost", f.server.port()),
                "node1", dir.resolve("node1.token"), f.caFile, Duration.ofMillis(50), Duration.ofMillis(500),
                Duration.ofSeconds(10), Duration.ofSeconds(60)), x -> { }, b -> { }).start();
        try (ok) {
            await().atMost(WAIT).until(ok::synced);
        }
    }

    @Test
    void aMalformedFrameClosesOnlyThatPeerAndIsCounted() throws Exception {
        var good = f.client("node1", new CopyOnWriteArrayList<>());
        awaitState(good, state(1, 9, "v1"));

        var ks = KeyStore.getInstance(KeyStore.getDefaultType());
        ks.load(null, null);
        ks.setCertificateEntry("root", f.ca.trustBundle().get(0));
        var tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(ks);
        var ssl = SSLContext.getInstance("TLSv1.3");
        ssl.init(null, tmf.getTrustManagers(), null);
        try (var s = (SSLSocket) ssl.getSocketFactory().createSocket("127.0.0.1", f.server.port())) {
            s.setSoTimeout(10_000);
            var out = new java.io.DataOutputStream(s.getOutputStream());
            out.writeInt(1);
            out.writeByte(99); // unknown frame type
            out.flush();
            var in = new DataInputStream(s.getInputStream());
            int length = in.readInt();
            assertThat(in.readUnsignedByte()).isEqualTo(12); // ERROR
            byte[] rest = new byte[length - 1];
            in.readFully(rest);
            assertThat(new String(rest, 4, rest.length - 4, java.nio.charset.StandardCharsets.UTF_8))
                    .isEqualTo("protocol error: frame type: 99 (expected: 1-15)");
            try {
                assertThat(in.read()).isEqualTo(-1); // then closed
            } catch (java.net.SocketException | EOFException e) {
                // closed with a reset: also closed
            }
        }
        assertThat(f.server.counters().malformedFrames()).isEqualTo(1);
        f.source.publish(state(2, 9, "v2"));
        awaitState(good, state(2, 9, "v2"));
        assertThat(good.connected()).isTrue();
    }
}
