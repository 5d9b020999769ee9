package dev.tessera.agent.inbound;

import static dev.tessera.agent.testing.LoopbackMesh.*;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.tessera.agent.connection.CloseReason;
import dev.tessera.agent.connection.ConnectionContext.Direction;
import dev.tessera.agent.connection.ProxyCounters;
import dev.tessera.agent.hbone.HbonePool;
import dev.tessera.agent.hbone.PoolKey;
import dev.tessera.agent.hbone.TunnelException;
import dev.tessera.agent.testing.LoopbackMesh;
import dev.tessera.agent.testing.TestIdentities;
import dev.tessera.agent.tls.TlsContexts;
import dev.tessera.api.identity.CertificateAuthority;
import dev.tessera.api.identity.SpiffeId;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.util.concurrent.Future;
import java.net.InetSocketAddress;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * The HBONE server is no open relay: CONNECTs from a real pooled client to node-b are refused unless the
 * target is a meshed pod of node-b with the identity the client connected to.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class HboneServerIT {

    private LoopbackMesh mesh;
    private ProxyCounters counters;
    private HbonePool pool;
    private InetSocketAddress nodeB;

    @BeforeAll
    void start() {
        mesh = new LoopbackMesh();
        counters = new ProxyCounters();
        pool = new HbonePool(new TlsContexts(mesh.idsA), mesh.loops, counters);
        nodeB = new InetSocketAddress(mesh.configB.nodeIp(), mesh.configB.inboundPort());
    }

    @AfterAll
    void stop() {
        pool.close();
        mesh.close();
    }

    @Test
    void acceptsAMeshedLocalPodOfTheSniIdentity() throws Exception {
        Http2StreamChannel stream = connect(new PoolKey(CLIENT, SERVER, nodeB), mesh.serverEcho).getNow();
        assertThat(stream).isNotNull();
        stream.close().sync();
    }

    @Test
    void refusesTargetsOnOtherNodes() {
        assertRefused(new PoolKey(CLIENT, SERVER, nodeB), mesh.cacheEcho, CloseReason.TARGET_NOT_LOCAL);
    }

    @Test
    void refusesPodsThatAreNotMeshed() {
        assertRefused(new PoolKey(CLIENT, SERVER, nodeB), mesh.plainEcho, CloseReason.TARGET_NOT_MESHED);
    }

    @Test
    void refusesAddressesThatAreNoWorkload() {
        assertRefused(new PoolKey(CLIENT, SERVER, nodeB), mesh.outsideEcho, CloseReason.TARGET_UNKNOWN);
    }

    @Test
    void refusesTargetsWhoseIdentityDiffersFromSni() {
        // Connected to shop/server (SNI) but asks for shop/other's pod on the same node.
        assertRefused(new PoolKey(CLIENT, SERVER, nodeB), mesh.otherEcho, CloseReason.IDENTITY_MISMATCH);
    }

    @Test
    void refusesAClosedPortQuickly() {
        long start = System.nanoTime();
        assertRefused(new PoolKey(CLIENT, SERVER, nodeB), addr(SERVER_IP, 1), CloseReason.UPSTREAM_CONNECT_FAILED);
        assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start)).isLessThan(1000);
    }

    @Test
    void unknownSniFailsTheHandshake() {
        // shop/cache runs on node-a: node-b has no certificate to present for it.
        long failed = mesh.countersB.handshakes(Direction.INBOUND, false);
        assertRefused(new PoolKey(CLIENT, CACHE, nodeB), mesh.cacheEcho, CloseReason.TLS_HANDSHAKE_FAILED);
        assertThat(mesh.countersB.handshakes(Direction.INBOUND, false)).isEqualTo(failed + 1);
    }

    @Test
    void clientCertificatesFromAnotherAuthorityAreRejected() {
        CertificateAuthority rogue = CertificateAuthority.generate(TD);
        // Trusts the real CA (so it would accept node-b) but presents a certificate the mesh does not trust.
        var ids = new TestIdentities(java.util.List.of(mesh.ca.certificate())).put(TestIdentities.issue(rogue, CLIENT, CLIENT));
        try (HbonePool rogueClient = new HbonePool(new TlsContexts(ids), mesh.loops, counters)) {
            Future<Http2StreamChannel> f = rogueClient.connect(new PoolKey(CLIENT, SERVER, nodeB), mesh.serverEcho,
                    null, mesh.loops.worker().next()).awaitUninterruptibly();
            assertThat(f.isSuccess()).isFalse();
            // TLS 1.3: the client learns of the rejected certificate after its own handshake completed.
            assertThat(TunnelException.reasonOf(f.cause(), null))
                    .isIn(CloseReason.TLS_HANDSHAKE_FAILED, CloseReason.TUNNEL_RESET);
        }
    }

    @Test
    void clientIdentitiesOfAnotherTrustDomainAreRefused() {
        // Signed by the mesh CA, but for spiffe://evil.example/...: not a workload of this mesh.
        var foreign = new SpiffeId("evil.example", "shop", "client");
        var ids = new TestIdentities(java.util.List.of(mesh.ca.certificate())).put(TestIdentities.issue(mesh.ca, CLIENT, foreign));
        long failed = mesh.countersB.handshakes(Direction.INBOUND, false);
        try (HbonePool foreignClient = new HbonePool(new TlsContexts(ids), mesh.loops, counters)) {
            Future<Http2StreamChannel> f = foreignClient.connect(new PoolKey(CLIENT, SERVER, nodeB), mesh.serverEcho,
                    null, mesh.loops.worker().next()).awaitUninterruptibly();
            assertThat(f.isSuccess()).as("CONNECT with a foreign trust domain's certificate").isFalse();
            assertThat(TunnelException.reasonOf(f.cause(), null))
                    .isIn(CloseReason.TLS_HANDSHAKE_FAILED, CloseReason.TUNNEL_RESET);
        }
        await().atMost(java.time.Duration.ofSeconds(5))
                .until(() -> mesh.countersB.handshakes(Direction.INBOUND, false) > failed);
    }

    @Test
    void onePeerHoldsAtMost32Connections() {
        var pools = new java.util.ArrayList<HbonePool>();
        try {
            long refused = mesh.hboneB.refusals().get("peer_limit");
            int opened = 0;
            Future<Http2StreamChannel> f = null;
            for (int i = 0; i < 34; i++) { // each pool opens its own TLS connection (other tests may hold a few)
                var p = new HbonePool(new TlsContexts(mesh.idsA), mesh.loops, counters);
                pools.add(p);
                f = p.connect(new PoolKey(CLIENT, SERVER, nodeB), mesh.serverEcho, null, mesh.loops.worker().next())
                        .awaitUninterruptibly();
                if (!f.isSuccess()) {
                    break;
                }
                opened++;
            }
            assertThat(f.isSuccess()).as("a connection over the cap").isFalse();
            assertThat(opened).isBetween(28, 32);
            await().atMost(java.time.Duration.ofSeconds(5))
                    .until(() -> mesh.hboneB.refusals().get("peer_limit") > refused);
        } finally {
            pools.forEach(HbonePool::close);
        }
        // The slots are freed with the connections.
        await().atMost(java.time.Duration.ofSeconds(5)).ignoreExceptions().until(() -> {
            try (var p = new HbonePool(new TlsContexts(mesh.idsA), mesh.loops, counters)) {
                return p.connect(new PoolKey(CLIENT, SERVER, nodeB), mesh.serverEcho, null, mesh.loops.worker().next())
                        .awaitUninterruptibly().isSuccess();
            }
        });
    }

    @Test
    void aConnectionLeftWithoutStreamsIsClosedByTheServer() {
        mesh.hboneB.keepalive(java.time.Duration.ofMillis(200), java.time.Duration.ofMillis(300));
        try (var p = new HbonePool(new TlsContexts(mesh.idsA), mesh.loops, counters)) {
            long idle = mesh.hboneB.refusals().get("idle");
            Future<Http2StreamChannel> f = p.connect(new PoolKey(CLIENT, SERVER, nodeB), mesh.serverEcho, null,
                    mesh.loops.worker().next()).awaitUninterruptibly();
            assertThat(f.isSuccess()).isTrue();
            f.getNow().close().syncUninterruptibly();
            assertThat(p.connections()).isEqualTo(1);
            await().atMost(java.time.Duration.ofSeconds(5)).until(() -> p.connections() == 0);
            assertThat(mesh.hboneB.refusals().get("idle")).isEqualTo(idle + 1);
        } finally {
            mesh.hboneB.keepalive(java.time.Duration.ofSeconds(30), java.time.Duration.ofMinutes(10));
        }
    }

    @Test
    void theSourceHintCountsOnlyForPodsOfThePeersNode() throws Exception {
        // From node-a's address (the agent's pool binds it): the hint names node-a's client pod, accepted.
        try (var fromNodeA = new HbonePool(new TlsContexts(mesh.idsA), mesh.loops, counters,
                mesh.configA.nodeIp())) {
            assertThat(inboundClientOf(fromNodeA, 40001)).isEqualTo(addr(CLIENT_IP, 40001));
        }
        // From any other address (a certificate of that identity used elsewhere): recorded as the peer itself.
        try (var elsewhere = new HbonePool(new TlsContexts(mesh.idsA), mesh.loops, counters)) {
            assertThat(inboundClientOf(elsewhere, 40002).getAddress()).isEqualTo(java.net.InetAddress.getByName("127.0.0.1"));
        }
    }

    /** Opens and closes one stream hinting {@code CLIENT_IP:port}; returns the client address node-b recorded. */
    private InetSocketAddress inboundClientOf(HbonePool p, int port) {
        int before = mesh.recordB.closed().size();
        Future<Http2StreamChannel> f = p.connect(new PoolKey(CLIENT, SERVER, nodeB), mesh.serverEcho,
                addr(CLIENT_IP, port), mesh.loops.worker().next()).awaitUninterruptibly();
        assertThat(f.isSuccess()).isTrue();
        f.getNow().close().syncUninterruptibly();
        await().atMost(java.time.Duration.ofSeconds(5)).until(() -> mesh.recordB.closed().size() > before);
        return mesh.recordB.closed().get(mesh.recordB.closed().size() - 1).context().client();
    }

    @Test
    void noCertificateForTheSourceIdentity() {
        assertRefused(new PoolKey(new SpiffeId(TD, "shop", "nobody"), SERVER, nodeB), mesh.serverEcho,
                CloseReason.NO_CERTIFICATE);
    }

    private Future<Http2StreamChannel> connect(PoolKey key, InetSocketAddress target) {
        return pool.connect(key, target, addr(CLIENT_IP, 40000), mesh.loops.worker().next())
                .awaitUninterruptibly();
    }

    private void assertRefused(PoolKey key, InetSocketAddress target, CloseReason expected) {
        Future<Http2StreamChannel> f = connect(key, target);
        assertThat(f.isSuccess()).as("CONNECT %s", target).isFalse();
        assertThat(f.cause()).isInstanceOf(TunnelException.class);
        assertThat(((TunnelException) f.cause()).reason()).isEqualTo(expected);
    }
}
