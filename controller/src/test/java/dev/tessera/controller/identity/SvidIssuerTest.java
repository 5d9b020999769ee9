package dev.tessera.controller.identity;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tessera.api.identity.CertificateAuthority;
import dev.tessera.api.identity.SpiffeId;
import dev.tessera.controller.watch.MeshWatcher;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import java.time.Duration;
import java.time.temporal.ChronoUnit;
import java.util.Map;
import java.util.Set;
import org.assertj.core.api.ThrowableAssert.ThrowingCallable;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

@EnableKubernetesMockClient(crud = true)
class SvidIssuerTest {

    static KubernetesMockServer server;
    static KubernetesClient client;

    private static final String AUDIENCE = "tessera-controller";
    private static IssuingCa ca;
    private static SvidIssuer issuer;
    private static MeshWatcher watcher;

    @BeforeAll
    static void cluster() throws Exception {
        new FakeTokenReviews(server)
                .add("agent-node1", "tessera-system", "tessera-agent", "node1", AUDIENCE)
                .add("agent-node2", "tessera-system", "tessera-agent", "node2", AUDIENCE)
                .add("other-audience", "tessera-system", "tessera-agent", "node1", "kubernetes")
                .add("app-token", "shop", "web", "node1", AUDIENCE)
                .add("unbound", "tessera-system", "tessera-agent", null, AUDIENCE);
        namespace("shop", Map.of("tessera.dev/dataplane-mode", "ambient"));
        namespace("legacy", Map.of());
        pod("shop", "web-1", "web", "node1", "Running", Map.of("app", "web"), "198.18.1.2");
        pod("shop", "db-1", "db", "node2", "Running", Map.of(), "198.18.2.2");
        pod("shop", "batch-1", "batch", "node1", "Succeeded", Map.of(), "198.18.1.3");
        pod("shop", "optout-1", "optout", "node1", "Running", Map.of("tessera.dev/dataplane-mode", "none"), "198.18.1.4");
        pod("legacy", "old-1", "old", "node1", "Running", Map.of(), "198.18.1.5");
        ca = IssuingCa.generate("cluster.local");
        var auth = new TokenReviewAuthenticator(client, AUDIENCE, Set.of("tessera-system/tessera-agent"));
        // The real discovery path: informers on the mock API server feed the snapshot the issuer judges by.
        watcher = new MeshWatcher(client, "cluster.local", 0);
        watcher.start();
        Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> watcher.snapshot().workloads().size() == 4);
        issuer = new SvidIssuer(ca, auth, watcher::snapshot, "cluster.local", SvidIssuer.DEFAULT_TTL);
    }

    @AfterAll
    static void stop() {
        watcher.close();
    }

    static void namespace(String name, Map<String, String> labels) {
        client.namespaces().resource(new NamespaceBuilder().withNewMetadata().withName(name).withLabels(labels)
                .endMetadata().build()).create();
    }

    static void pod(String ns, String name, String sa, String node, String phase, Map<String, String> labels,
            String ip) {
        client.pods().inNamespace(ns).resource(new PodBuilder()
                .withNewMetadata().withName(name).withNamespace(ns).withLabels(labels).endMetadata()
                .withNewSpec().withServiceAccountName(sa).withNodeName(node).endSpec()
                .withNewStatus().withPhase(phase).withPodIP(ip).endStatus().build()).create();
    }

    private static SvidIssuer.Issued issue(String ns, String sa, String token) throws SvidRefusedException {
        SpiffeId id = new SpiffeId("cluster.local", ns, sa);
        return issuer.issue(CertificateAuthority.csr(CertificateAuthority.newKeyPair(), id), id, token);
    }

    private static void assertRefused(ThrowingCallable call, RefusalReason reason, String messagePart) {
        long before = issuer.refusals().get(reason);
        assertThatThrownBy(call).isInstanceOfSatisfying(SvidRefusedException.class, e -> {
            assertThat(e.reason()).isEqualTo(reason);
            assertThat(e.getMessage()).startsWith(reason.name()).contains(messagePart);
        });
        assertThat(issuer.refusals().get(reason)).isEqualTo(before + 1);
    }

    @Test
    void signsForARunningPodOnTheCallersNode() throws Exception {
        Pod stored = client.pods().inNamespace("shop").withName("web-1").get();
        assertThat(stored.getStatus().getPhase()).isEqualTo("Running");
        long before = issuer.issuedCount();

        SvidIssuer.Issued issued = issue("shop", "web", "agent-node1");

        assertThat(issued.node()).isEqualTo("node1");
        assertThat(IssuingCaTest.uriSans(issued.leaf())).containsExactly("spiffe://cluster.local/ns/shop/sa/web");
        assertThat(issued.trustBundle()).isEqualTo(ca.trustBundle());
        IssuingCaTest.assertChainsTo(issued.chain(), issued.trustBundle());
        Duration life = Duration.between(issued.leaf().getNotBefore().toInstant(), issued.leaf().getNotAfter().toInstant());
        assertThat(life).isBetween(Duration.ofHours(24), Duration.ofHours(24).plus(2, ChronoUnit.MINUTES));
        assertThat(issuer.issuedCount()).isEqualTo(before + 1);
        // The other node's agent gets the identity of its own pod.
        assertThat(IssuingCaTest.uriSans(issue("shop", "db", "agent-node2").leaf()))
                .containsExactly("spiffe://cluster.local/ns/shop/sa/db");
    }

    @Test
    void refusesAServiceAccountWithNoPodOnTheCallersNode() {
        // db runs on node2 only: node1's agent may not have its identity.
        assertRefused(() -> issue("shop", "db", "agent-node1"), RefusalReason.NO_POD_ON_NODE,
                "service account shop/db on node node1");
        assertRefused(() -> issue("shop", "nobody", "agent-node1"), RefusalReason.NO_POD_ON_NODE, "shop/nobody");
    }

    @Test
    void refusesPodsThatAreNotRunningOrOptedOut() {
        assertRefused(() -> issue("shop", "batch", "agent-node1"), RefusalReason.NO_POD_ON_NODE, "shop/batch");
        assertRefused(() -> issue("shop", "optout", "agent-node1"), RefusalReason.NO_POD_ON_NODE, "shop/optout");
    }

    @Test
    void refusesAPodInANamespaceThatIsNotEnrolled() {
        assertRefused(() -> issue("legacy", "old", "agent-node1"), RefusalReason.NAMESPACE_NOT_ENROLLED,
                "namespace legacy has no running meshed pod");
        assertRefused(() -> issue("ghost", "x", "agent-node1"), RefusalReason.NAMESPACE_NOT_ENROLLED,
                "namespace ghost has no running meshed pod");
    }

    @Test
    void refusesEverythingBeforeTheFirstSync() {
        var auth = new TokenReviewAuthenticator(client, AUDIENCE, Set.of());
        var unsynced = new SvidIssuer(ca, auth, () -> dev.tessera.api.model.MeshSnapshot.EMPTY, "cluster.local",
                SvidIssuer.DEFAULT_TTL);
        SpiffeId id = new SpiffeId("cluster.local", "shop", "web");
        assertThatThrownBy(() -> unsynced.issue(CertificateAuthority.csr(CertificateAuthority.newKeyPair(), id), id,
                "agent-node1")).isInstanceOfSatisfying(SvidRefusedException.class,
                        e -> assertThat(e.reason()).isEqualTo(RefusalReason.LOOKUP_FAILED));
    }

    @Test
    void refusesATokenThatFailsTokenReview() {
        assertRefused(() -> issue("shop", "web", "forged"), RefusalReason.TOKEN_INVALID, "invalid bearer token");
        // A valid token for another audience is not valid for the controller.
        assertRefused(() -> issue("shop", "web", "other-audience"), RefusalReason.TOKEN_INVALID, "invalid bearer token");
        assertRefused(() -> issue("shop", "web", ""), RefusalReason.TOKEN_MISSING, "no bearer token");
    }

    @Test
    void refusesCallersThatAreNotNodeBoundAgents() {
        assertRefused(() -> issue("shop", "web", "app-token"), RefusalReason.CALLER_NOT_AGENT,
                "service account shop/web (expected: one of [tessera-system/tessera-agent])");
        assertRefused(() -> issue("shop", "web", "unbound"), RefusalReason.CALLER_NODE_UNKNOWN,
                "has no authentication.kubernetes.io/node-name");
    }

    @Test
    void refusesOtherTrustDomainsAndBadCsrs() {
        SpiffeId foreign = new SpiffeId("evil.example", "shop", "web");
        assertRefused(() -> issuer.issue(CertificateAuthority.csr(CertificateAuthority.newKeyPair(), foreign), foreign,
                "agent-node1"), RefusalReason.WRONG_TRUST_DOMAIN, "expected: trust domain cluster.local");

        SpiffeId id = new SpiffeId("cluster.local", "shop", "web");
        var good = CertificateAuthority.csr(CertificateAuthority.newKeyPair(), id);
        byte[] der;
        try {
            der = good.getEncoded();
        } catch (java.io.IOException e) {
            throw new AssertionError(e);
        }
        der[der.length - 5] ^= 0x01; // break the CSR's signature
        assertRefused(() -> issuer.issue(new org.bouncycastle.pkcs.PKCS10CertificationRequest(der), id, "agent-node1"),
                RefusalReason.CSR_INVALID, "signature does not verify");
    }

    @Test
    void ttlMustBePositive() {
        var auth = new TokenReviewAuthenticator(client, AUDIENCE, Set.of());
        assertThatThrownBy(() -> new SvidIssuer(ca, auth, watcher::snapshot, "cluster.local", Duration.ZERO))
                .hasMessage("ttl: PT0S (expected: a positive duration)");
    }
}
