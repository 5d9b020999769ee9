package dev.tessera.controller.local;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.tessera.api.identity.CertificateAuthority;
import dev.tessera.api.identity.SpiffeId;
import dev.tessera.api.push.MeshConfig;
import dev.tessera.controller.KubernetesController;
import dev.tessera.controller.MockCluster;
import dev.tessera.controller.identity.RefusalReason;
import dev.tessera.controller.identity.SvidRefusedException;
import dev.tessera.controller.watch.MeshContent;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Set;
import org.assertj.core.api.Assertions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Local mode: the same content as the Kubernetes path for equivalent objects; edits are picked up. */
@EnableKubernetesMockClient(crud = true)
class LocalMeshSourceTest {

    KubernetesMockServer server;
    KubernetesClient client;

    @TempDir
    Path dir;

    private Path folder() throws Exception {
        Path f = Files.createDirectories(dir.resolve("cluster"));
        Files.copy(MockCluster.mesh().resolve("cluster.yaml"), f.resolve("cluster.yaml"));
        return f;
    }

    @Test
    void aFolderGivesTheSameMeshConfigAsTheKubernetesPath() throws Exception {
        MockCluster.apply(client, MockCluster.mesh().resolve("cluster.yaml"));
        MockCluster.apply(client, MockCluster.mesh().resolve("k8s-only/web-slice.yaml"));
        try (var local = new LocalMeshSource(folder(), null, "cluster.local", Duration.ofMillis(50));
                var kube = KubernetesController.start(client, new KubernetesController.Options("tessera-system",
                        "cluster.local", "tessera-ca", "tessera-controller", Set.of(), false, "t", Duration.ofHours(1),
                        Duration.ofSeconds(10), null))) {
            local.start();
            await().atMost(Duration.ofSeconds(10)).until(() -> kube.source().current().mesh().services().size() == 2
                    && kube.source().current().policies().all().size() == 3
                    && kube.source().current().mesh().workloads().size() == 3);
            MeshContent fromFolder = MeshContent.of(local.current());
            MeshContent fromApi = MeshContent.of(kube.source().current());
            assertThat(fromFolder.services()).isNotEmpty();
            assertThat(fromFolder.services().get(1).endpoints()).as("web: computed from the selector").hasSize(2);
            assertThat(fromFolder).isEqualTo(fromApi);
        }
    }

    @Test
    void anEditIsPickedUpAndServicesWithoutClusterIpGetAStableLocalVip() throws Exception {
        Path folder = folder();
        try (var local = new LocalMeshSource(folder, null, "cluster.local", Duration.ofMillis(50))) {
            local.start();
            MeshConfig first = local.current();
            assertThat(first.version()).isEqualTo(1);
            assertThat(first.mesh().workload("shop", "web-1").orElseThrow().meshed()).isTrue();

            Files.writeString(folder.resolve("more.yaml"), """
                    apiVersion: v1
                    kind: Pod
                    metadata: {name: web-3, namespace: shop, labels: {app: web, tessera.dev/dataplane-mode: none}}
                    spec: {serviceAccountName: web, nodeName: node1, containers: [{name: web, image: web}]}
                    ---
                    apiVersion: v1
                    kind: Service
                    metadata: {name: api, namespace: shop}
                    spec:
                      selector: {app: web}
                      ports: [{port: 9090}]
                    """);
            await().atMost(Duration.ofSeconds(10)).until(() -> local.current().mesh().service("shop", "api").isPresent());
            MeshConfig second = local.current();
            assertThat(second.version()).isGreaterThan(first.version());
            var web3 = second.mesh().workload("shop", "web-3").orElseThrow();
            assertThat(web3.meshed()).isFalse();
            assertThat(web3.ip()).isEqualTo(InetAddress.getByName("198.18.1.2")); // next free of node1's CIDR
            var api = second.mesh().service("shop", "api").orElseThrow();
            assertThat(api.vips()).singleElement().satisfies(v -> assertThat(v.getHostAddress()).startsWith("198.19."));
            assertThat(api.ports()).singleElement().satisfies(p -> assertThat(p.targetPort()).isEqualTo(9090));
            assertThat(api.endpoints()).extracting(e -> e.workload()).containsExactly("shop/web-1", "shop/web-2", "shop/web-3");
            // The web service now has the new pod too, and the earlier pods kept their addresses.
            assertThat(second.mesh().service("shop", "web").orElseThrow().endpoints()).hasSize(3);
            assertThat(second.mesh().workload("shop", "web-1").orElseThrow().ip())
                    .isEqualTo(first.mesh().workload("shop", "web-1").orElseThrow().ip());

            // An invalid edit keeps the last good state.
            Files.writeString(folder.resolve("bad.yaml"), "apiVersion: v1\nkind: Pod\nmetadata: {name: x, namespace: nowhere}\n");
            await().atMost(Duration.ofSeconds(10)).until(() -> local.lastError() != null);
            assertThat(local.current().version()).isEqualTo(second.version());
        }
    }

    @Test
    void localControllerSignsWithAnIntermediateOfTheLocalRoot() throws Exception {
        Path caDir = Files.createDirectories(dir.resolve("ca"));
        CertificateAuthority root = CertificateAuthority.generate("cluster.local");
        root.save(caDir);
        Path tokens = Files.writeString(dir.resolve("tokens"), "node1-token-0123456789,node1\nnode2-token-0123456789,node2\n");
        try (var c = LocalController.start(folder(), null, caDir, tokens, "cluster.local", Duration.ofHours(1),
                Duration.ofMillis(50))) {
            SpiffeId web = new SpiffeId("cluster.local", "shop", "web");
            var issued = c.issuer().issue(CertificateAuthority.csr(CertificateAuthority.newKeyPair(), web), web,
                    "node1-token-0123456789");
            assertThat(issued.chain()).hasSize(2);
            issued.chain().get(1).verify(root.certificate().getPublicKey());
            assertThat(issued.trustBundle()).containsExactly(root.certificate());
            // db runs on node2 only: node1's agent cannot get its identity.
            SpiffeId db = new SpiffeId("cluster.local", "shop", "db");
            Assertions.assertThatThrownBy(() -> c.issuer().issue(CertificateAuthority.csr(CertificateAuthority.newKeyPair(), db),
                    db, "node1-token-0123456789")).isInstanceOfSatisfying(SvidRefusedException.class,
                            e -> assertThat(e.reason()).isEqualTo(RefusalReason.NO_POD_ON_NODE));
        }
        // The intermediate is persisted: a restart signs with the same issuer.
        var again = LocalCa.load(caDir, "cluster.local");
        assertThat(Files.exists(caDir.resolve(LocalCa.ISSUING_KEY))).isTrue();
        assertThat(again.issuingCertificate()).isEqualTo(LocalCa.load(caDir, "cluster.local").issuingCertificate());
    }
}
