package dev.tessera.controller.leader;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.tessera.controller.KubernetesController;
import dev.tessera.controller.MockCluster;
import dev.tessera.controller.kube.PolicyResources;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.client.ConfigBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.mockwebserver.http.RecordedRequest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Two controllers on one Lease: only the leader writes (CA Secret, trust bundle ConfigMap, policy
 * status); the other takes over when the leader closes. Each replica's client has its own User-Agent, so
 * the requests the mock server recorded say who wrote what.
 */
@EnableKubernetesMockClient(crud = true)
class LeaderElectionTest {

    KubernetesMockServer server;
    KubernetesClient client;
    private final List<KubernetesController> controllers = new ArrayList<>();
    private final List<KubernetesClient> clients = new ArrayList<>();

    @AfterEach
    void stop() {
        controllers.forEach(KubernetesController::close);
        clients.forEach(KubernetesClient::close);
    }

    private KubernetesClient replicaClient(String name) {
        KubernetesClient c = new KubernetesClientBuilder()
                .withConfig(new ConfigBuilder(client.getConfiguration()).withUserAgent(name).build()).build();
        clients.add(c);
        return c;
    }

    private static KubernetesController.Options options(String identity) {
        return new KubernetesController.Options("tessera-system", "cluster.local", "tessera-ca", "tessera-controller",
                Set.of(), true, identity, Duration.ofHours(24), Duration.ofSeconds(30),
                new Leadership.Timings(Duration.ofSeconds(3), Duration.ofSeconds(2), Duration.ofMillis(200)));
    }

    /** Writes (anything but GET) recorded so far, as "user-agent METHOD path". */
    private List<String> writes() throws InterruptedException {
        var out = new ArrayList<String>();
        RecordedRequest r;
        while ((r = server.takeRequest(10, TimeUnit.MILLISECONDS)) != null) {
            if (!"GET".equals(r.getMethod())) {
                out.add(r.getHeader("User-Agent") + " " + r.getMethod() + " " + r.getPath());
            }
        }
        return out;
    }

    private GenericKubernetesResource broken() {
        return client.genericKubernetesResources(PolicyResources.AUTHORIZATION_POLICY).inNamespace("shop")
                .withName("broken").get();
    }

    @Test
    void onlyTheLeaderWritesAndTheOtherTakesOverWhenItCloses() throws Exception {
        MockCluster.apply(client, MockCluster.mesh().resolve("cluster.yaml"));
        // Start both at once: one wins the Lease, the other waits for the CA Secret the winner creates.
        var a = CompletableFuture.supplyAsync(() -> start("replica-a"));
        var b = CompletableFuture.supplyAsync(() -> start("replica-b"));
        KubernetesController ca = a.get(60, TimeUnit.SECONDS);
        KubernetesController cb = b.get(60, TimeUnit.SECONDS);
        await().atMost(Duration.ofSeconds(10)).until(() -> ca.isLeader() != cb.isLeader());
        KubernetesController leader = ca.isLeader() ? ca : cb;
        KubernetesController follower = leader == ca ? cb : ca;
        String leaderUa = leader == ca ? "replica-a" : "replica-b";
        String followerUa = leader == ca ? "replica-b" : "replica-a";

        // Both serve the same CA; the leader wrote the Secret, the ConfigMap and the status.
        assertThat(follower.ca().trustBundle()).isEqualTo(leader.ca().trustBundle());
        await().atMost(Duration.ofSeconds(10)).until(() -> client.configMaps().inNamespace("tessera-system")
                .withName("tessera-ca-root-cert").get() != null && !KubernetesControllerStatus.accepted(broken()).isEmpty());
        List<String> writes = writes();
        assertThat(writes).anyMatch(w -> w.startsWith(leaderUa + " POST /api/v1/namespaces/tessera-system/secrets"));
        assertThat(writes).anyMatch(w -> w.startsWith(leaderUa + " POST /api/v1/namespaces/tessera-system/configmaps"));
        assertThat(writes).anyMatch(w -> w.startsWith(leaderUa + " PUT /apis/security.tessera.dev/v1alpha1/namespaces/shop/authorizationpolicies/broken/status"));
        // The follower only competes for the Lease.
        assertThat(writes).filteredOn(w -> w.startsWith(followerUa + " "))
                .allMatch(w -> w.contains("/apis/coordination.k8s.io/v1/namespaces/tessera-system/leases"));
        assertThat(follower.source().current().policies().rejected()).hasSize(1); // it still serves everything

        // The leader closes (releasing the Lease): the follower takes over and writes from then on.
        leader.close();
        await().atMost(Duration.ofSeconds(15)).until(follower::isLeader);
        client.configMaps().inNamespace("tessera-system").withName("tessera-ca-root-cert").delete();
        MockCluster.apply(client, """
                apiVersion: security.tessera.dev/v1alpha1
                kind: PeerAuthentication
                metadata: {name: bad, namespace: shop}
                spec: {mtls: {mode: SOMETIMES}}
                """);
        await().atMost(Duration.ofSeconds(10)).until(() -> "False".equals(KubernetesControllerStatus.accepted(
                client.genericKubernetesResources(PolicyResources.PEER_AUTHENTICATION).inNamespace("shop").withName("bad")
                        .get()).get("status")));
        List<String> after = writes();
        assertThat(after).anyMatch(w -> w.startsWith(followerUa + " PUT /apis/security.tessera.dev/v1alpha1/namespaces/shop/peerauthentications/bad/status"));
        assertThat(after).filteredOn(w -> w.startsWith(leaderUa + " ")).allMatch(w -> w.contains("/leases"));
    }

    private KubernetesController start(String name) {
        try {
            KubernetesController c = KubernetesController.start(replicaClient(name), options(name));
            synchronized (controllers) {
                controllers.add(c);
            }
            return c;
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }
}
