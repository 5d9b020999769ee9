package dev.tessera.controller.push;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.tessera.api.identity.CertificateAuthority;
import dev.tessera.api.identity.SpiffeId;
import dev.tessera.api.push.Message;
import dev.tessera.controller.identity.IssuingCa;
import dev.tessera.controller.identity.RotationDriver;
import dev.tessera.controller.identity.StaticTokenAuthenticator;
import dev.tessera.controller.identity.SvidIssuer;
import dev.tessera.controller.identity.TrustRotation;
import java.net.InetAddress;
import java.security.KeyPair;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A root rotation through a real push server and a raw protocol peer: the new root reaches the agent in a
 * bundle-only DELTA, signing switches only after the agent answered the PING behind it, CERTs carry the
 * current bundle with the signer's root first, and the old root leaves once no certificate under it is held.
 */
class PushTrustRotationTest {

    private static final String TOKEN = "token-of-node1-0123456789";
    private static final SpiffeId ID = new SpiffeId("cluster.local", "shop", "sa");
    private final IssuingCa old = IssuingCa.generate("cluster.local");
    private final IssuingCa next = IssuingCa.generate("cluster.local");
    private final StaticTokenAuthenticator tokens = StaticTokenAuthenticator.parse("t", List.of(TOKEN + ",node1"));
    private final PushServerTest.Source source = new PushServerTest.Source();
    private PushServer server;

    @AfterEach
    void stop() {
        if (server != null) {
            server.close();
        }
    }

    /** Reads frames, answering PINGs, until one of {@code type} arrives. */
    @SuppressWarnings("unchecked")
    private static <T extends Message> T next(RawAgent agent, Class<T> type) throws Exception {
        while (true) {
            Message m = agent.read();
            if (m instanceof Message.Ping p) {
                agent.send(new Message.Pong(p.nonce()));
            } else if (type.isInstance(m)) {
                return (T) m;
            }
        }
    }

    private static Message.Cert certificate(RawAgent agent, long id) throws Exception {
        KeyPair kp = CertificateAuthority.newKeyPair();
        agent.send(new Message.Csr(id, ID, CertificateAuthority.csr(kp, ID)));
        return next(agent, Message.Cert.class);
    }

    @Test
    void theNewRootIsPublishedFirstThenSignsThenTheOldOneLeaves() throws Exception {
        source.publish(PushServerTest.state(1, 1, "v1"));
        var trust = new TrustRotation(old);
        var issuer = new SvidIssuer(trust, tokens, () -> source.current().mesh(), "cluster.local", Duration.ofHours(1));
        server = new PushServer(PushServerConfig.defaults("cluster.local", "tessera-system")
                .withBind(InetAddress.getByName("127.0.0.1"), 0), source, tokens, issuer, old).start();
        var request = new AtomicReference<>(Optional.of(new RotationDriver.Request(next, Duration.ZERO)));
        var driver = new RotationDriver(trust, new RotationDriver.Requests() {
            @Override
            public Optional<RotationDriver.Request> poll() {
                return request.get();
            }

            @Override
            public void completed(TrustRotation.Status status) {
                request.set(Optional.empty());
            }
        }, server::agentsHoldBundle, issuer::heldUnderOtherIssuers, server::trustChanged);
        X509Certificate oldRoot = old.trustBundle().get(0);
        X509Certificate newRoot = next.trustBundle().get(0);

        try (var agent = new RawAgent(server.port(), List.of(oldRoot), 0)) {
            agent.hello("node1", TOKEN);
            assertThat(next(agent, Message.Snapshot.class).trustBundle()).containsExactly(oldRoot);
            agent.send(new Message.Ack(1));
            await().atMost(Duration.ofSeconds(5)).until(() -> server.agentsHoldBundle(trust.generation()));
            assertThat(certificate(agent, 1).chain().get(1)).isEqualTo(old.issuingCertificate());

            driver.tick(Instant.now()); // PUBLISHING
            var published = next(agent, Message.Delta.class);
            assertThat(published.trustBundle()).containsExactly(oldRoot, newRoot);
            assertThat(published.delta().isEmpty()).isTrue();
            assertThat(published.delta().fromVersion()).isEqualTo(1).isEqualTo(published.delta().toVersion());
            assertThat(certificate(agent, 2).chain().get(1)).as("the old CA signs until every agent holds both roots")
                    .isEqualTo(old.issuingCertificate());

            // the PONG to the PING behind the DELTA was sent by next(): the agent holds the bundle
            await().atMost(Duration.ofSeconds(5)).until(() -> server.agentsHoldBundle(trust.generation()));
            driver.tick(Instant.now()); // RENEWING
            assertThat(trust.phase()).isEqualTo(TrustRotation.Phase.RENEWING);
            assertThat(next(agent, Message.Delta.class).trustBundle()).containsExactly(newRoot, oldRoot);
            assertThat(server.certificateChain().get(1)).as("the push server's own certificate follows the signer")
                    .isEqualTo(next.issuingCertificate());

            driver.tick(Instant.now());
            assertThat(trust.phase()).as("a certificate under the old issuer is still held").isEqualTo(
                    TrustRotation.Phase.RENEWING);
            var renewed = certificate(agent, 3);
            assertThat(renewed.chain().get(1)).isEqualTo(next.issuingCertificate());
            assertThat(renewed.trustBundle()).containsExactly(newRoot, oldRoot);

            driver.tick(Instant.now()); // STABLE
            assertThat(trust.phase()).isEqualTo(TrustRotation.Phase.STABLE);
            assertThat(next(agent, Message.Delta.class).trustBundle()).containsExactly(newRoot);
        }
        // A new agent gets the new bundle in its snapshot, from a server certificate under the new root.
        try (var agent = new RawAgent(server.port(), List.of(newRoot), 0)) {
            agent.hello("node1", TOKEN);
            assertThat(next(agent, Message.Snapshot.class).trustBundle()).containsExactly(newRoot);
        }
    }
}
