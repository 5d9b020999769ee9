package dev.tessera.agent.inbound;

import static dev.tessera.agent.testing.LoopbackMesh.CACHE;
import static dev.tessera.agent.testing.LoopbackMesh.CLIENT;
import static dev.tessera.agent.testing.LoopbackMesh.CLIENT_IP;
import static dev.tessera.agent.testing.LoopbackMesh.SERVER;
import static dev.tessera.agent.testing.LoopbackMesh.addr;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.tessera.agent.connection.CloseReason;
import dev.tessera.agent.connection.ProxyCounters;
import dev.tessera.agent.hbone.HbonePool;
import dev.tessera.agent.hbone.PoolKey;
import dev.tessera.agent.hbone.TunnelException;
import dev.tessera.agent.policy.PolicyEnforcer;
import dev.tessera.agent.policy.PolicyMetrics;
import dev.tessera.agent.testing.LoopbackMesh;
import dev.tessera.agent.testing.RecordingListener;
import dev.tessera.agent.tls.TlsContexts;
import dev.tessera.api.identity.SpiffeId;
import dev.tessera.api.net.IpCidr;
import dev.tessera.api.policy.AuthorizationPolicy;
import dev.tessera.api.policy.PolicySet;
import dev.tessera.api.policy.Translation;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.util.concurrent.Future;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * The HBONE {@code tessera-source} header is a hint, never a credential: it names the client pod's address,
 * and the server uses it only when that pod's identity is the one the client proved in the TLS handshake.
 * A client of another identity claiming a pod's address is recorded with its node's address and cannot be
 * admitted by an {@code ipBlocks} rule written for that pod.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class SourceHintIT {

    private LoopbackMesh mesh;
    private HbonePool pool;
    private InetSocketAddress nodeB;

    @BeforeAll
    void start() {
        mesh = new LoopbackMesh();
        // From node-a's address, as the agent's pool dials (the server trusts hints only for the peer node's pods).
        pool = new HbonePool(new TlsContexts(mesh.idsA), mesh.loops, new ProxyCounters(), mesh.configA.nodeIp());
        nodeB = new InetSocketAddress(mesh.configB.nodeIp(), mesh.configB.inboundPort());
        // shop/server admits only the client pod's address.
        var allowClientPod = new AuthorizationPolicy("shop", "client-pod-only", Map.of("app", "server"),
                AuthorizationPolicy.Action.ALLOW, List.of(new AuthorizationPolicy.Rule(List.of(
                        new AuthorizationPolicy.Source(List.of(), List.of(), List.of(), List.of(),
                                List.of(IpCidr.parse(CLIENT_IP + "/32")), List.of())), List.of())));
        var enforcer = new PolicyEnforcer(mesh.state, new PolicyMetrics(new PrometheusRegistry()));
        enforcer.update(new PolicySet(1, List.of(new Translation<>("AuthorizationPolicy", "shop", "client-pod-only",
                allowClientPod, List.of(), allowClientPod.selector(), allowClientPod.action())), List.of()));
        mesh.hboneB.useInboundGate(enforcer);
    }

    @AfterAll
    void stop() {
        pool.close();
        mesh.close();
    }

    @Test
    void anHonestHintNamesThePodAndItsIpBlockAdmitsIt() {
        InetSocketAddress hint = addr(CLIENT_IP, 40001);
        Future<Http2StreamChannel> f = connect(CLIENT, hint);
        assertThat(f.isSuccess()).as("CONNECT as shop/client from its own pod: %s", f.cause()).isTrue();
        f.getNow().close().syncUninterruptibly();
        RecordingListener.Closed c = awaitClosed(CLIENT);
        assertThat(c.context().client()).isEqualTo(hint);
        assertThat(c.context().sourceWorkload()).isNotNull();
        assertThat(c.context().sourceWorkload().name()).isEqualTo("client");
    }

    @Test
    void aHintClaimingAnotherIdentitysPodIsIgnoredAndDoesNotSteerIpBlocks() {
        // shop/cache (a real certificate, node-a) claims to come from shop/client's pod address.
        Future<Http2StreamChannel> f = connect(CACHE, addr(CLIENT_IP, 40002));
        assertThat(f.isSuccess()).as("CONNECT as shop/cache claiming shop/client's address").isFalse();
        assertThat(TunnelException.reasonOf(f.cause(), null)).isEqualTo(CloseReason.POLICY_DENIED);
        RecordingListener.Closed c = awaitClosed(CACHE);
        // The tunnel's TCP peer: the client's node.
        assertThat(c.context().client().getAddress()).as("recorded source address: the tunnel peer's, not the claimed pod's")
                .isEqualTo(mesh.configA.nodeIp())
                .isNotEqualTo(addr(CLIENT_IP, 0).getAddress());
        assertThat(c.context().sourceWorkload()).as("source workload from a hostile hint").isNull();
        assertThat(c.context().sourceIdentity()).isEqualTo(CACHE);
    }

    private Future<Http2StreamChannel> connect(SpiffeId source, InetSocketAddress hint) {
        return pool.connect(new PoolKey(source, SERVER, nodeB), mesh.serverEcho, hint, mesh.loops.worker().next())
                .awaitUninterruptibly();
    }

    private RecordingListener.Closed awaitClosed(SpiffeId source) {
        return await().atMost(Duration.ofSeconds(10)).until(() -> mesh.recordB.closed().stream()
                .filter(c -> source.equals(c.context().sourceIdentity())).findFirst().orElse(null), c -> c != null);
    }
}
