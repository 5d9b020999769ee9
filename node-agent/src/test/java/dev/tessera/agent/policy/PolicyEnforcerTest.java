package dev.tessera.agent.policy;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tessera.agent.connection.Admission;
import dev.tessera.agent.connection.CloseReason;
import dev.tessera.agent.connection.ConnectionContext.Direction;
import dev.tessera.agent.connection.ConnectionContext;
import dev.tessera.agent.connection.ConnectionListener;
import dev.tessera.agent.connection.RelaySession;
import dev.tessera.agent.state.StateStore;
import dev.tessera.api.identity.SpiffeId;
import dev.tessera.api.model.MeshSnapshot;
import dev.tessera.api.model.Workload;
import dev.tessera.api.policy.PolicySet;
import io.netty.channel.embedded.EmbeddedChannel;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The enforcer around the authorizer: fail closed before policies load, tracking, re-check on update. */
class PolicyEnforcerTest {

    private final StateStore state = new StateStore();
    private final PolicyEnforcer enforcer = new PolicyEnforcer(state, new PolicyMetrics(new PrometheusRegistry()));
    private final Workload api;
    private final SpiffeId front = new SpiffeId("cluster.local", "shop", "front");

    PolicyEnforcerTest() throws Exception {
        api = new Workload("shop", "api", "node2", InetAddress.getByName("198.18.2.5"), "api", Map.of("app", "api"), true,
                new SpiffeId("cluster.local", "shop", "api"));
        state.update(new MeshSnapshot(1, List.of(), List.of(api)));
    }

    private RelaySession session() throws Exception {
        var ctx = ConnectionContext.accepted(Direction.INBOUND, new InetSocketAddress("198.18.1.2", 40000))
                .withSource(null, front).withDestination(new InetSocketAddress(api.ip(), 7000))
                .withTarget(api, api.identity());
        return new RelaySession(ctx, ConnectionListener.NOOP);
    }

    @Test
    void deniesEverythingUntilPoliciesAreLoaded() throws Exception {
        RelaySession s = session();
        assertThat(Admission.admit(enforcer, s, new EmbeddedChannel())).contains("not loaded");
        enforcer.update(PolicySet.EMPTY);
        assertThat(Admission.admit(enforcer, session(), new EmbeddedChannel())).isNull();
    }

    @Test
    void aNewDenyPolicyClosesTrackedConnectionsWithPolicyDenied() throws Exception {
        enforcer.update(PolicySet.EMPTY);
        RelaySession s = session();
        var channel = new EmbeddedChannel();
        assertThat(Admission.admit(enforcer, s, channel)).isNull();
        assertThat(s.context().authorization().allowed()).isTrue();
        assertThat(enforcer.liveConnections()).isEqualTo(1);

        enforcer.update(dev.tessera.kube.policy.PolicyTranslator.translate(2, List.of(AuthorizerTest.ap("shop", "deny-front",
                "action: DENY\nrules:\n- from:\n  - source:\n      principals: [\"cluster.local/ns/shop/sa/front\"]"))));
        channel.runPendingTasks();

        assertThat(channel.isOpen()).isFalse();
        assertThat(s.reason()).isEqualTo(CloseReason.POLICY_DENIED);
        assertThat(s.context().authorization().policy()).isEqualTo("shop/deny-front");
        assertThat(enforcer.liveConnections()).isZero();
    }

    @Test
    void connectionsThePolicyStillAllowsStayOpen() throws Exception {
        enforcer.update(PolicySet.EMPTY);
        var channel = new EmbeddedChannel();
        assertThat(Admission.admit(enforcer, session(), channel)).isNull();
        enforcer.update(dev.tessera.kube.policy.PolicyTranslator.translate(2, List.of(AuthorizerTest.ap("shop", "deny-ops",
                "action: DENY\nrules:\n- from:\n  - source:\n      namespaces: [ops]"))));
        channel.runPendingTasks();
        assertThat(channel.isOpen()).isTrue();
        channel.close();
        assertThat(enforcer.liveConnections()).isZero();
    }

    @Test
    void strictPodsFollowTheMostSpecificPeerAuthentication() throws Exception {
        enforcer.update(dev.tessera.kube.policy.PolicyTranslator.translate(1, List.of()));
        assertThat(enforcer.kernelPolicy("node2").pods().get(api.ip()).strict()).isFalse();
        var pa = new io.fabric8.kubernetes.api.model.GenericKubernetesResourceBuilder()
                .withApiVersion("security.tessera.dev/v1alpha1").withKind("PeerAuthentication")
                .withNewMetadata().withName("strict").withNamespace("shop").endMetadata()
                .addToAdditionalProperties("spec", Map.of("mtls", Map.of("mode", "STRICT"))).build();
        enforcer.update(dev.tessera.kube.policy.PolicyTranslator.translate(2, List.of(pa)));
        assertThat(enforcer.kernelPolicy("node2").pods().get(api.ip()).strict()).isTrue();
        assertThat(enforcer.kernelPolicy("node1").pods()).isEmpty();
    }

    @Test
    void kernelPolicyCarriesPlaintextRulesOnlyForPermissivePodsThatPoliciesSelect() throws Exception {
        enforcer.update(PolicySet.EMPTY);
        assertThat(enforcer.kernelPolicy("node2").pods().get(api.ip()).plaintextRules()).as("no policy: plaintext passes")
                .isNull();
        enforcer.update(dev.tessera.kube.policy.PolicyTranslator.translate(2, List.of(AuthorizerTest.ap("shop", "front-only",
                "rules:\n- from:\n  - source:\n      principals: [\"cluster.local/ns/shop/sa/front\"]"))));
        var kernel = enforcer.kernelPolicy("node2");
        assertThat(kernel.pods().get(api.ip()).plaintextRules())
                .containsExactly(new dev.tessera.agent.redirect.PeerAuthProgram.PlainRule(0,
                        dev.tessera.api.net.IpCidr.parse("0.0.0.0/0"), false));
        assertThat(kernel.decisions()).hasSize(1);
        assertThat(kernel.decisions().values().iterator().next().reason()).contains("no ALLOW rule matched");
        assertThat(enforcer.status("node2").get("mtls").toString())
                .contains("plaintext=decided in the kernel by AuthorizationPolicy (1 entries)");
    }

    @Test
    void beforePoliciesLoadPlaintextIsDenied() {
        assertThat(enforcer.kernelPolicy("node2").pods().get(api.ip()).plaintextRules()).isEmpty();
    }

    /** An IPv6 pod address is enforced like an IPv4 one, with the IPv6 blocks of the policies. */
    @Test
    void anIpv6PodGetsItsModeAndIpv6RulesAndItsCountersNameTheWorkload() throws Exception {
        var api6 = new Workload("shop", "api6", "node3", InetAddress.getByName("2001:db8:2::5"), "api",
                Map.of("app", "api"), true, new SpiffeId("cluster.local", "shop", "api"));
        state.update(new MeshSnapshot(2, List.of(), List.of(api, api6)));
        enforcer.update(dev.tessera.kube.policy.PolicyTranslator.translate(2, List.of(AuthorizerTest.ap("shop", "lab",
                "rules:\n- from:\n  - source:\n      ipBlocks: [\"2001:db8:4::/48\", \"198.19.4.0/24\"]"))));
        var kernel = enforcer.kernelPolicy("node3");
        assertThat(kernel.pods()).containsOnlyKeys(api6.ip());
        assertThat(kernel.pods().get(api6.ip()).plaintextRules()).extracting(r -> r.source().toString() + " " + r.allow())
                .containsExactlyInAnyOrder("2001:db8:4::/48 true", "::/0 false");
        assertThat(kernel.decisions().keySet()).allMatch(k -> k.pod().equals(api6.ip()));
        assertThat(enforcer.status("node3").get("mtls").toString())
                .contains("plaintext=decided in the kernel by AuthorizationPolicy (2 entries)");
        var series = enforcer.plaintextSeries("node3",
                Map.of(api6.ip(), new dev.tessera.agent.redirect.PeerAuthProgram.Counters(4, 2, 9)));
        assertThat(series).containsExactly(new PolicyMetrics.Plaintext("api6", "shop", "PERMISSIVE", "allowed", 4),
                new PolicyMetrics.Plaintext("api6", "shop", "PERMISSIVE", "dropped", 2));
    }
}
