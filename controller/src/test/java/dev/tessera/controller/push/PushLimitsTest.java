package dev.tessera.controller.push;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.tessera.api.identity.CertificateAuthority;
import dev.tessera.api.identity.SpiffeId;
import dev.tessera.api.push.Frames;
import dev.tessera.api.push.Message;
import dev.tessera.controller.identity.AgentAuthenticator;
import dev.tessera.controller.identity.IssuingCa;
import dev.tessera.controller.identity.StaticTokenAuthenticator;
import dev.tessera.controller.identity.SvidIssuer;
import dev.tessera.controller.identity.SvidRefusedException;
import java.io.IOException;
import java.net.InetAddress;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * What the push server holds for strangers and how overload is refused: unauthenticated connections in all
 * and per source address, and HELLOs and CSRs on their own bounded queues (a full queue refuses and counts,
 * and one queue stuck does not stop the other).
 */
class PushLimitsTest {

    private final IssuingCa ca = IssuingCa.generate("cluster.local");
    private final StaticTokenAuthenticator tokens = StaticTokenAuthenticator.parse("t",
            List.of("token-node1-0123456789,node1", "token-node2-0123456789,node2", "token-node3-0123456789,node3"));
    private final PushServerTest.Source source = new PushServerTest.Source();
    private final CountDownLatch gate = new CountDownLatch(1);
    /** Authentications that entered the gate. */
    private final Semaphore entered = new Semaphore(0);
    private PushServer server;

    @AfterEach
    void stop() {
        gate.countDown();
        if (server != null) {
            server.close();
        }
    }

    private static String token(int node) {
        return "token-node" + node + "-0123456789";
    }

    private PushServer start(PushLimits limits, AgentAuthenticator auth) throws Exception {
        source.publish(PushServerTest.state(1, 3, "v1"));
        var issuer = new SvidIssuer(ca, auth, () -> source.current().mesh(), "cluster.local", Duration.ofHours(1));
        var config = PushServerConfig.defaults("cluster.local", "tessera-system")
                .withBind(InetAddress.getByName("127.0.0.1"), 0).withLimits(limits);
        server = new PushServer(config, source, auth, issuer, ca).start();
        return server;
    }

    /** Authenticates by the static tokens; the calls chosen by {@code slow} wait for the gate first. */
    private AgentAuthenticator gated(java.util.function.Predicate<String> slow) {
        return token -> {
            if (slow.test(token)) {
                entered.release();
                try {
                    gate.await(20, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            return tokens.authenticate(token);
        };
    }

    private RawAgent peer(String from) throws Exception {
        return new RawAgent(server.port(), ca.trustBundle(), 0, from);
    }

    @Test
    void strangersAreLimitedPerSourceAndInAllAndAnAuthenticatedAgentFreesItsPlace() throws Exception {
        start(new PushLimits(3, 2, 1, 8, 1, 8), tokens);
        try (var a1 = peer("127.0.0.1"); var a2 = peer("127.0.0.1")) {
            a1.socket.startHandshake();
            a2.socket.startHandshake();
            await().atMost(Duration.ofSeconds(5)).until(() -> server.unauthenticatedConnections() == 2);
            try (var a3 = peer("127.0.0.1")) {
                assertThatThrownBy(a3.socket::startHandshake).as("a third stranger from 127.0.0.1")
                        .isInstanceOf(IOException.class);
            }
            assertThat(server.counters().refusals()).containsEntry(UnauthenticatedLimiter.PER_SOURCE, 1L);

            try (var b1 = peer("127.0.0.2")) {
                b1.socket.startHandshake(); // another address still gets in...
                await().atMost(Duration.ofSeconds(5)).until(() -> server.unauthenticatedConnections() == 3);
                try (var c1 = peer("127.0.0.3")) { // ...up to the global limit
                    assertThatThrownBy(c1.socket::startHandshake).isInstanceOf(IOException.class);
                }
                assertThat(server.counters().refusals()).containsEntry(UnauthenticatedLimiter.GLOBAL, 1L);
            }
            await().atMost(Duration.ofSeconds(5)).until(() -> server.unauthenticatedConnections() == 2);

            a1.hello("node1", token(1));
            assertThat(a1.read()).isInstanceOf(Message.Snapshot.class);
            assertThat(server.unauthenticatedConnections()).as("an authenticated agent is no stranger").isEqualTo(1);
            try (var a4 = peer("127.0.0.1")) {
                a4.socket.startHandshake(); // its place is free again
                await().atMost(Duration.ofSeconds(5)).until(() -> server.unauthenticatedConnections() == 2);
                a4.hello("node2", token(2));
                assertThat(a4.read()).isInstanceOf(Message.Snapshot.class);
            }
        }
        await().atMost(Duration.ofSeconds(5)).until(() -> server.unauthenticatedConnections() == 0);
        assertThat(server.counters().refusals()).containsOnlyKeys(UnauthenticatedLimiter.PER_SOURCE,
                UnauthenticatedLimiter.GLOBAL);
    }

    @Test
    void helloBeyondTheAuthenticationQueueIsRefusedAsOverloadAndTheQueuedOnesAreServed() throws Exception {
        start(new PushLimits(16, 16, 1, 1, 1, 8), gated(t -> true));
        try (var a1 = peer("127.0.0.1"); var a2 = peer("127.0.0.1"); var a3 = peer("127.0.0.1")) {
            a1.send(new Message.Hello(Frames.PROTOCOL_VERSION, "node1", token(1), 0, 0));
            assertThat(entered.tryAcquire(10, TimeUnit.SECONDS)).as("node1's HELLO holds the only thread").isTrue();
            a2.send(new Message.Hello(Frames.PROTOCOL_VERSION, "node2", token(2), 0, 0));
            await().atMost(Duration.ofSeconds(5)).until(() -> server.queuedHellos() == 1);
            a3.send(new Message.Hello(Frames.PROTOCOL_VERSION, "node3", token(3), 0, 0));
            var refused = (Message.ErrorFrame) a3.read();
            assertThat(refused.reason()).startsWith("OVERLOADED: HELLO_QUEUE_FULL");
            assertThat(server.counters().refusals()).containsEntry("HELLO_QUEUE_FULL", 1L);
            assertThat(server.counters().rejectedHandshakes()).as("overload is not a bad credential").isEmpty();

            gate.countDown();
            a1.expectWelcome();
            assertThat(a1.read()).isInstanceOf(Message.Snapshot.class);
            a2.expectWelcome();
            assertThat(a2.read()).isInstanceOf(Message.Snapshot.class);
        }
    }

    @Test
    void csrsQueueApartFromHellosAndBeyondTheirQueueAreAnsweredTooManyRequests() throws Exception {
        Map<String, AtomicInteger> calls = new ConcurrentHashMap<>();
        // node1's HELLO passes; its later calls (the CSRs authenticate the session token) wait at the gate
        start(new PushLimits(16, 16, 1, 8, 1, 1),
                gated(t -> t.equals(token(1)) && calls.computeIfAbsent(t, k -> new AtomicInteger()).incrementAndGet() > 1));
        var id = new SpiffeId("cluster.local", "shop", "sa");
        var csr = CertificateAuthority.csr(CertificateAuthority.newKeyPair(), id);
        try (var a1 = peer("127.0.0.1")) {
            a1.hello("node1", token(1));
            assertThat(a1.read()).isInstanceOf(Message.Snapshot.class);
            a1.send(new Message.Csr(1, id, csr));
            assertThat(entered.tryAcquire(10, TimeUnit.SECONDS)).as("CSR 1 holds the only signing thread").isTrue();
            a1.send(new Message.Csr(2, id, csr));
            await().atMost(Duration.ofSeconds(5)).until(() -> server.queuedCsrs() == 1);
            a1.send(new Message.Csr(3, id, csr));
            var refused = (Message.Refused) a1.read();
            assertThat(refused.requestId()).isEqualTo(3);
            assertThat(refused.reason()).isEqualTo("TOO_MANY_REQUESTS");
            assertThat(server.counters().refusals()).containsEntry("CSR_QUEUE_FULL", 1L);

            // signing is stuck, yet another agent connects: HELLOs have their own thread
            try (var a2 = peer("127.0.0.1")) {
                a2.hello("node2", token(2));
                assertThat(a2.read()).isInstanceOf(Message.Snapshot.class);
            }

            gate.countDown();
            var answered = Set.of(answerId(a1), answerId(a1));
            assertThat(answered).containsExactlyInAnyOrder(1L, 2L);
        }
    }

    private static long answerId(RawAgent agent) throws IOException {
        while (true) {
            Message m = agent.read();
            if (m instanceof Message.Cert c) {
                return c.requestId();
            }
            if (m instanceof Message.Refused r) {
                return r.requestId();
            }
        }
    }
}
