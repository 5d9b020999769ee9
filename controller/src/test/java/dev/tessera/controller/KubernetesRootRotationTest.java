package dev.tessera.controller;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.tessera.api.identity.CertificateAuthority.Pem;
import dev.tessera.api.identity.CertificateAuthority;
import dev.tessera.api.identity.SpiffeId;
import dev.tessera.api.push.Message;
import dev.tessera.controller.identity.CaSecretRotations;
import dev.tessera.controller.identity.CaStore;
import dev.tessera.controller.identity.FakeTokenReviews;
import dev.tessera.controller.identity.IssuingCa;
import dev.tessera.controller.identity.RotationDriver;
import dev.tessera.controller.identity.TrustBundlePublisher;
import dev.tessera.controller.identity.TrustRotation;
import dev.tessera.controller.metrics.ControllerMetrics;
import dev.tessera.controller.push.PushServer;
import dev.tessera.controller.push.PushServerConfig;
import dev.tessera.controller.push.RawAgent;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import io.prometheus.metrics.model.snapshots.CounterSnapshot;
import io.prometheus.metrics.model.snapshots.GaugeSnapshot;
import io.prometheus.metrics.model.snapshots.MetricSnapshot;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.security.KeyPair;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Root rotation in Kubernetes mode: the real controller against the CRUD mock API server, its CA Secret
 * replaced the way cert-manager renews a CA Issuer's Secret, a real push server and a raw protocol peer
 * standing for node2's agent, and the same {@link RotationDriver} as in local mode ({@link
 * ControllerMain#rotationDriver}), ticked by the test. Overlaps and the ConfigMap propagation time come from
 * the controller's options, not from waiting.
 */
@EnableKubernetesMockClient(crud = true)
class KubernetesRootRotationTest {

    private static final String NS = "tessera-system";
    private static final String TOKEN = "agent-node2-token";
    private static final String TOKEN_NODE1 = "agent-node1-token";
    private static final SpiffeId WEB = new SpiffeId("cluster.local", "shop", "web");
    private static final String SECRET = "tessera-ca";
    private static final SpiffeId DB = new SpiffeId("cluster.local", "shop", "db");

    KubernetesMockServer server;
    KubernetesClient client;
    private KubernetesController controller;
    private PushServer push;
    private RotationDriver driver;
    private final PrometheusRegistry registry = new PrometheusRegistry();

    /** A CA the way cert-manager's CA Issuer holds it: an intermediate in tls.crt, its key, the root in ca.crt. */
    record CertManagerCa(CertificateAuthority root, CertificateAuthority intermediate) {
        static CertManagerCa generate() {
            CertificateAuthority root = CertificateAuthority.generate("cluster.local");
            return new CertManagerCa(root, root.newIntermediate("cluster.local", Duration.ofDays(30)));
        }

        /** Another intermediate under the same root (cert-manager renewing the issuing certificate). */
        CertManagerCa renewed() {
            return new CertManagerCa(root, root.newIntermediate("cluster.local", Duration.ofDays(30)));
        }

        X509Certificate rootCert() {
            return root.certificate();
        }

        Map<String, String> data() {
            return Map.of(IssuingCa.TLS_CRT, b64(Pem.write(intermediate.certificate())),
                    IssuingCa.TLS_KEY, b64(Pem.write(intermediate.privateKey())),
                    IssuingCa.CA_CRT, b64(Pem.write(root.certificate())));
        }
    }

    @BeforeEach
    void cluster() throws Exception {
        MockCluster.apply(client, MockCluster.mesh().resolve("cluster.yaml"));
        MockCluster.apply(client, MockCluster.mesh().resolve("k8s-only/web-slice.yaml"));
        new FakeTokenReviews(server).add(TOKEN, NS, "tessera-node-agent", "node2", "tessera-controller")
                .add(TOKEN_NODE1, NS, "tessera-node-agent", "node1", "tessera-controller");
    }

    @AfterEach
    void stop() {
        if (push != null) {
            push.close();
        }
        if (controller != null) {
            controller.close();
        }
    }

    private static String b64(String s) {
        return Base64.getEncoder().encodeToString(s.getBytes(StandardCharsets.UTF_8));
    }

    private void provide(CertManagerCa ca) {
        client.resource(new SecretBuilder().withNewMetadata().withName(SECRET).withNamespace(NS).endMetadata()
                .withType("kubernetes.io/tls").withData(ca.data()).build()).create();
    }

    /** What cert-manager does on renewal: the same Secret, new data. */
    private void replaceData(Map<String, String> data) {
        client.secrets().inNamespace(NS).withName(SECRET).edit(s -> new SecretBuilder(s).withData(data).build());
    }


    private void start(Duration overlap) throws Exception {
        start(overlap, Duration.ZERO);
    }

    private void start(Duration overlap, Duration propagation) throws Exception {
        controller = KubernetesController.start(client, new KubernetesController.Options(NS, "cluster.local",
                SECRET, "tessera-controller", Set.of(NS + "/tessera-node-agent"), false, "test",
                Duration.ofHours(1), Duration.ofSeconds(10), null).withRotation(overlap, propagation));
        await().atMost(Duration.ofSeconds(10)).until(() -> controller.source().snapshotFor("node2").workloadKeys()
                .contains("shop/db-1"));
        push = new PushServer(PushServerConfig.defaults("cluster.local", NS).withBind(InetAddress.getByName("127.0.0.1"), 0),
                controller.source(), controller.authenticator(), controller.issuer(), controller.ca()).start();
        var metrics = new ControllerMetrics(registry, controller);
        metrics.trust(controller.issuer(), push);
        controller.rotationRequests().ifPresent(metrics::rotationRequests);
        driver = ControllerMain.rotationDriver(controller, push).orElseThrow();
    }

    private TrustRotation trust() {
        return controller.issuer().trust();
    }

    /** Ticks the driver until {@code condition} holds. */
    private void tickUntil(BooleanSupplier condition) {
        await().atMost(Duration.ofSeconds(10)).until(() -> {
            driver.tick(Instant.now());
            return condition.getAsBoolean();
        });
    }

    private double metric(String name) {
        for (MetricSnapshot s : registry.scrape()) {
            if (s.getMetadata().getPrometheusName().equals(name)) {
                if (s instanceof GaugeSnapshot g) {
                    return g.getDataPoints().get(0).getValue();
                }
                return ((CounterSnapshot) s).getDataPoints().get(0).getValue();
            }
        }
        throw new AssertionError("no metric " + name);
    }

    private List<X509Certificate> configMapRoots() throws Exception {
        var cm = client.configMaps().inNamespace(NS).withName(TrustBundlePublisher.CONFIG_MAP).get();
        return Pem.readCertificates(cm.getData().get(TrustBundlePublisher.KEY));
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
        return certificate(agent, id, DB);
    }

    private static Message.Cert certificate(RawAgent agent, long id, SpiffeId identity) throws Exception {
        KeyPair kp = CertificateAuthority.newKeyPair();
        agent.send(new Message.Csr(id, identity, CertificateAuthority.csr(kp, identity)));
        return next(agent, Message.Cert.class);
    }

    private RawAgent connect(X509Certificate root) throws Exception {
        return connect(push, controller.issuer()::trust, "node2", TOKEN, root);
    }

    private static RawAgent connect(PushServer push, java.util.function.Supplier<TrustRotation> trust, String node,
            String token, X509Certificate root) throws Exception {
        var agent = new RawAgent(push.port(), List.of(root), 0);
        agent.hello(node, token);
        var snapshot = next(agent, Message.Snapshot.class);
        agent.send(new Message.Ack(snapshot.config().version()));
        await().atMost(Duration.ofSeconds(5)).until(() -> push.agentsHoldBundle(trust.get().generation()));
        return agent;
    }

    /** From a replaced Secret to RENEWING: both roots published, then the new CA signing. */
    private void rotateToRenewing(RawAgent agent, CertManagerCa old, CertManagerCa next) throws Exception {
        assertThat(certificate(agent, 1).chain().get(1)).isEqualTo(old.intermediate().certificate());

        replaceData(next.data());
        tickUntil(() -> trust().phase() == TrustRotation.Phase.PUBLISHING);
        var published = next(agent, Message.Delta.class);
        assertThat(published.trustBundle()).containsExactly(old.rootCert(), next.rootCert());
        assertThat(configMapRoots()).as("the file agents reconnect with holds both roots")
                .containsExactly(old.rootCert(), next.rootCert());
        assertThat(metric("tessera_trust_roots")).isEqualTo(2);
        assertThat(certificate(agent, 2).chain().get(1)).as("the old CA signs until every agent holds both roots")
                .isEqualTo(old.intermediate().certificate());

        // certificate() answered the PING behind the DELTA: the agent holds the bundle
        tickUntil(() -> trust().phase() == TrustRotation.Phase.RENEWING);
        assertThat(next(agent, Message.Delta.class).trustBundle()).containsExactly(next.rootCert(), old.rootCert());
        assertThat(push.certificateChain().get(1)).isEqualTo(next.intermediate().certificate());
        driver.tick(Instant.now());
        assertThat(trust().phase()).as("a certificate under the old issuer is still held")
                .isEqualTo(TrustRotation.Phase.RENEWING);
        var renewed = certificate(agent, 3);
        assertThat(renewed.chain().get(1)).isEqualTo(next.intermediate().certificate());
        assertThat(renewed.trustBundle()).containsExactly(next.rootCert(), old.rootCert());
    }

    @Test
    void aReplacedCaSecretPublishesBothRootsThenKeepsOnlyTheNewOne() throws Exception {
        CertManagerCa old = CertManagerCa.generate();
        CertManagerCa next = CertManagerCa.generate();
        provide(old);
        start(Duration.ZERO);
        assertThat(metric("tessera_trust_roots")).isEqualTo(1);
        try (var agent = connect(old.rootCert())) {
            rotateToRenewing(agent, old, next);

            tickUntil(() -> trust().phase() == TrustRotation.Phase.STABLE);
            assertThat(next(agent, Message.Delta.class).trustBundle()).containsExactly(next.rootCert());
            assertThat(configMapRoots()).containsExactly(next.rootCert());
            assertThat(metric("tessera_trust_roots")).isEqualTo(1);
        }
        // An agent reconnecting trusts only the new root, and so does the controller's certificate.
        try (var agent = connect(next.rootCert())) {
            assertThat(certificate(agent, 4).chain().get(1)).isEqualTo(next.intermediate().certificate());
        }
        driver.tick(Instant.now());
        assertThat(trust().phase()).as("the Secret's CA is the signer: nothing more to do")
                .isEqualTo(TrustRotation.Phase.STABLE);
    }

    @Test
    void theOldRootStaysForTheConfiguredOverlapAfterEveryCertificateMoved() throws Exception {
        CertManagerCa old = CertManagerCa.generate();
        CertManagerCa next = CertManagerCa.generate();
        provide(old);
        start(Duration.ofHours(1));
        try (var agent = connect(old.rootCert())) {
            rotateToRenewing(agent, old, next);
            assertThat(metric("tessera_controller_certificates_under_old_issuers")).isZero();
            for (int i = 0; i < 3; i++) {
                driver.tick(Instant.now());
            }
            assertThat(trust().phase()).isEqualTo(TrustRotation.Phase.RENEWING);
            assertThat(trust().bundle()).containsExactly(next.rootCert(), old.rootCert());
            assertThat(metric("tessera_trust_roots")).isEqualTo(2);
            // Once the overlap has passed (the driver is told the time), the old root leaves.
            driver.tick(Instant.now().plus(Duration.ofHours(1)));
            assertThat(trust().phase()).isEqualTo(TrustRotation.Phase.STABLE);
            assertThat(next(agent, Message.Delta.class).trustBundle()).containsExactly(next.rootCert());
        }
    }

    @Test
    void theNewCaDoesNotSignBeforeTheBundleConfigMapHadTimeToReachTheNodes() throws Exception {
        CertManagerCa old = CertManagerCa.generate();
        CertManagerCa next = CertManagerCa.generate();
        provide(old);
        start(Duration.ZERO, Duration.ofHours(1));
        try (var agent = connect(old.rootCert())) {
            replaceData(next.data());
            tickUntil(() -> trust().phase() == TrustRotation.Phase.PUBLISHING);
            assertThat(next(agent, Message.Delta.class).trustBundle()).containsExactly(old.rootCert(), next.rootCert());
            assertThat(certificate(agent, 1).chain().get(1)).isEqualTo(old.intermediate().certificate());
            await().atMost(Duration.ofSeconds(5)).until(() -> push.agentsHoldBundle(trust().generation()));
            assertThat(configMapRoots()).containsExactly(old.rootCert(), next.rootCert());
            for (int i = 0; i < 3; i++) {
                driver.tick(Instant.now());
            }
            assertThat(trust().phase()).as("every agent holds both roots, but kubelet may not have refreshed the file")
                    .isEqualTo(TrustRotation.Phase.PUBLISHING);
            assertThat(push.certificateChain().get(1)).isEqualTo(old.intermediate().certificate());
        }
    }

    @Test
    void aControllerStartingAfterTheSecretWasReplacedKeepsThePublishedOldRootForTheOverlap() throws Exception {
        CertManagerCa old = CertManagerCa.generate();
        CertManagerCa next = CertManagerCa.generate();
        // What a controller restarted mid-rotation finds: the ConfigMap still lists the old root, the Secret
        // (renewed by cert-manager meanwhile) only the new one.
        client.resource(new io.fabric8.kubernetes.api.model.ConfigMapBuilder().withNewMetadata()
                .withName(TrustBundlePublisher.CONFIG_MAP).withNamespace(NS).endMetadata()
                .withData(Map.of(TrustBundlePublisher.KEY, Pem.write(old.rootCert()))).build()).create();
        provide(next);
        start(Duration.ofHours(1));
        assertThat(trust().phase()).isEqualTo(TrustRotation.Phase.RENEWING);
        assertThat(trust().bundle()).containsExactly(next.rootCert(), old.rootCert());
        assertThat(configMapRoots()).containsExactly(next.rootCert(), old.rootCert());
        assertThat(metric("tessera_trust_roots")).isEqualTo(2);
        try (var agent = connect(next.rootCert())) {
            assertThat(certificate(agent, 1).chain().get(1)).isEqualTo(next.intermediate().certificate());
            driver.tick(Instant.now());
            assertThat(trust().phase()).as("within the overlap").isEqualTo(TrustRotation.Phase.RENEWING);
            driver.tick(Instant.now().plus(Duration.ofHours(1)));
            assertThat(trust().phase()).isEqualTo(TrustRotation.Phase.STABLE);
            assertThat(next(agent, Message.Delta.class).trustBundle()).containsExactly(next.rootCert());
        }
        assertThat(configMapRoots()).containsExactly(next.rootCert());
    }

    /** Secrets that must not become the CA, and the field their rejection names. */
    enum Bad {
        MALFORMED_CERTIFICATE(IssuingCa.TLS_CRT) {
            @Override
            Map<String, String> data(CertManagerCa other) {
                var d = new java.util.HashMap<>(other.data());
                d.put(IssuingCa.TLS_CRT, b64("-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n"));
                return d;
            }
        },
        KEY_NOT_MATCHING(IssuingCa.TLS_KEY) {
            @Override
            Map<String, String> data(CertManagerCa other) {
                var d = new java.util.HashMap<>(other.data());
                d.put(IssuingCa.TLS_KEY, CertManagerCa.generate().data().get(IssuingCa.TLS_KEY));
                return d;
            }
        },
        NOT_A_CA("basicConstraints CA:true") {
            @Override
            Map<String, String> data(CertManagerCa other) {
                KeyPair kp = CertificateAuthority.newKeyPair();
                X509Certificate leaf = other.root().sign(CertificateAuthority.csr(kp, DB), DB, Duration.ofHours(1));
                return Map.of(IssuingCa.TLS_CRT, b64(Pem.write(leaf)), IssuingCa.TLS_KEY, b64(Pem.write(kp.getPrivate())),
                        IssuingCa.CA_CRT, b64(Pem.write(other.rootCert())));
            }
        },
        RSA_KEY("ECDSA P-256") {
            @Override
            Map<String, String> data(CertManagerCa other) {
                try {
                    var g = java.security.KeyPairGenerator.getInstance("RSA");
                    g.initialize(2048);
                    KeyPair kp = g.generateKeyPair();
                    var name = new org.bouncycastle.asn1.x500.X500Name("CN=rsa-ca");
                    Instant now = Instant.now();
                    var builder = new org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder(name,
                            java.math.BigInteger.ONE, java.util.Date.from(now.minusSeconds(3600)),
                            java.util.Date.from(now.plusSeconds(86_400)), name, kp.getPublic())
                            .addExtension(org.bouncycastle.asn1.x509.Extension.basicConstraints, true,
                                    new org.bouncycastle.asn1.x509.BasicConstraints(true));
                    X509Certificate ca = new org.bouncycastle.cert.jcajce.JcaX509CertificateConverter().getCertificate(
                            builder.build(new org.bouncycastle.operator.jcajce.JcaContentSignerBuilder("SHA256withRSA")
                                    .build(kp.getPrivate())));
                    return Map.of(IssuingCa.TLS_CRT, b64(Pem.write(ca)), IssuingCa.TLS_KEY, b64(Pem.write(kp.getPrivate())),
                            IssuingCa.CA_CRT, b64(Pem.write(ca)));
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            }
        },
        MISSING_ROOTS(IssuingCa.CA_CRT) {
            @Override
            Map<String, String> data(CertManagerCa other) {
                var d = new java.util.HashMap<>(other.data());
                d.remove(IssuingCa.CA_CRT);
                return d;
            }
        };

        final String named;

        Bad(String named) {
            this.named = named;
        }

        abstract Map<String, String> data(CertManagerCa other);
    }

    @ParameterizedTest
    @EnumSource(Bad.class)
    void aBadSecretIsRejectedAndTheCurrentRootsKeepServing(Bad bad) throws Exception {
        CertManagerCa old = CertManagerCa.generate();
        provide(old);
        start(Duration.ZERO);
        assertThat(metric("tessera_controller_ca_rejected")).isZero();

        replaceData(bad.data(CertManagerCa.generate()));
        tickUntil(() -> controller.rotationRequests().orElseThrow().rejected() != null);
        String why = controller.rotationRequests().orElseThrow().rejected();
        assertThat(why).contains("Secret " + NS + "/tessera-ca").contains(bad.named).contains("expected");
        assertThat(metric("tessera_controller_ca_rejected")).isEqualTo(1);
        assertThat(metric("tessera_controller_ca_rejections")).isEqualTo(1);
        driver.tick(Instant.now());
        assertThat(trust().phase()).isEqualTo(TrustRotation.Phase.STABLE);
        assertThat(trust().bundle()).containsExactly(old.rootCert());
        assertThat(configMapRoots()).containsExactly(old.rootCert());
        assertThat(metric("tessera_trust_roots")).isEqualTo(1);
        try (var agent = connect(old.rootCert())) {
            assertThat(certificate(agent, 1).chain().get(1)).as("the controller still issues under the current CA")
                    .isEqualTo(old.intermediate().certificate());
        }

        // Fixed: the rejection clears and the rotation to the new CA starts.
        CertManagerCa next = CertManagerCa.generate();
        replaceData(next.data());
        tickUntil(() -> trust().phase() == TrustRotation.Phase.PUBLISHING);
        assertThat(metric("tessera_controller_ca_rejected")).isZero();
        assertThat(trust().bundle()).containsExactly(old.rootCert(), next.rootCert());
    }

    @Test
    void anIntermediateRenewedUnderTheSameRootSignsAtOnceWithNothingToPublish() throws Exception {
        CertManagerCa old = CertManagerCa.generate();
        provide(old);
        start(Duration.ZERO);
        long generation = trust().generation();
        CertManagerCa renewed = old.renewed();
        try (var agent = connect(old.rootCert())) {
            replaceData(renewed.data());
            tickUntil(() -> trust().signer().issuingCertificate().equals(renewed.intermediate().certificate()));
            assertThat(trust().phase()).isEqualTo(TrustRotation.Phase.STABLE);
            assertThat(trust().generation()).as("same roots: no new bundle").isEqualTo(generation);
            assertThat(certificate(agent, 1).chain().get(1)).isEqualTo(renewed.intermediate().certificate());
            assertThat(push.certificateChain().get(1)).isEqualTo(renewed.intermediate().certificate());
        }
        assertThat(metric("tessera_trust_roots")).isEqualTo(1);
    }

    @Test
    void theRotateAnnotationMakesTheLeaderWriteANewRootIntoItsGeneratedSecret() throws Exception {
        start(Duration.ZERO); // no Secret: the controller generates one
        Secret generated = client.secrets().inNamespace(NS).withName(SECRET).get();
        assertThat(generated.getMetadata().getLabels()).containsEntry(CaStore.GENERATED_LABEL, "true");
        X509Certificate oldRoot = trust().bundle().get(0);

        client.secrets().inNamespace(NS).withName(SECRET).edit(s -> new SecretBuilder(s).editMetadata()
                .addToAnnotations(CaSecretRotations.ROTATE_ANNOTATION, "2026-12-06").endMetadata().build());
        tickUntil(() -> trust().phase() == TrustRotation.Phase.PUBLISHING);
        Secret rotated = client.secrets().inNamespace(NS).withName(SECRET).get();
        assertThat(rotated.getMetadata().getAnnotations()).as("the request is consumed")
                .doesNotContainKey(CaSecretRotations.ROTATE_ANNOTATION);
        X509Certificate newRoot = Pem.readCertificates(new String(Base64.getDecoder().decode(
                rotated.getData().get(IssuingCa.CA_CRT)), StandardCharsets.UTF_8)).get(0);
        assertThat(newRoot).isNotEqualTo(oldRoot);
        assertThat(trust().bundle()).containsExactly(oldRoot, newRoot);
        assertThat(controller.rotationRequests().orElseThrow().rejected()).isNull();
    }

    @Test
    void theRotateAnnotationIsRefusedOnASecretTesseraDoesNotOwn() throws Exception {
        CertManagerCa old = CertManagerCa.generate();
        provide(old);
        start(Duration.ZERO);
        client.secrets().inNamespace(NS).withName(SECRET).edit(s -> new SecretBuilder(s).editMetadata()
                .addToAnnotations(CaSecretRotations.ROTATE_ANNOTATION, "now").endMetadata().build());
        tickUntil(() -> controller.rotationRequests().orElseThrow().rejected() != null);
        assertThat(controller.rotationRequests().orElseThrow().rejected()).contains(CaSecretRotations.ROTATE_ANNOTATION)
                .contains(CaStore.GENERATED_LABEL);
        assertThat(client.secrets().inNamespace(NS).withName(SECRET).get().getData())
                .as("cert-manager's Secret is not written").isEqualTo(old.data());
        assertThat(trust().phase()).isEqualTo(TrustRotation.Phase.STABLE);
        assertThat(metric("tessera_controller_ca_rejected")).isEqualTo(1);
    }

    /** One controller replica with leader election, its own API client (named by its user agent), push server and driver. */
    private record Replica(String name, KubernetesClient client, KubernetesController controller, PushServer push,
            RotationDriver driver) implements AutoCloseable {

        static Replica start(KubernetesClient apiClient, String name) {
            KubernetesClient c = new io.fabric8.kubernetes.client.KubernetesClientBuilder().withConfig(
                    new io.fabric8.kubernetes.client.ConfigBuilder(apiClient.getConfiguration()).withUserAgent(name).build())
                    .build();
            try {
                var k = KubernetesController.start(c, new KubernetesController.Options(NS, "cluster.local", SECRET,
                        "tessera-controller", Set.of(NS + "/tessera-node-agent"), true, name, Duration.ofHours(1),
                        Duration.ofSeconds(30), new dev.tessera.controller.leader.Leadership.Timings(Duration.ofSeconds(3),
                                Duration.ofSeconds(2), Duration.ofMillis(200))).withRotation(Duration.ZERO, Duration.ZERO));
                var p = new PushServer(PushServerConfig.defaults("cluster.local", NS)
                        .withBind(InetAddress.getByName("127.0.0.1"), 0), k.source(), k.authenticator(), k.issuer(), k.ca())
                        .start();
                return new Replica(name, c, k, p, ControllerMain.rotationDriver(k, p).orElseThrow());
            } catch (Exception e) {
                c.close();
                throw new IllegalStateException(name + ": " + e.getMessage(), e);
            }
        }

        TrustRotation trust() {
            return controller.issuer().trust();
        }

        @Override
        public void close() {
            push.close();
            controller.close();
            client.close();
        }
    }

    /**
     * Two replicas (leader election on, as the chart's two-replica Deployment runs), an agent on each: the rotate
     * annotation makes only the leader write a new root into the generated Secret; both replicas pick it up from
     * their watch of the Secret, publish both roots to their own agents, sign with the new CA once their agents
     * hold the bundle, and end trusting only the new root. Nothing else but the Lease is written by the follower.
     */
    @Test
    void twoReplicasRotateTogetherAndOnlyTheLeaderWritesTheNewRoot() throws Exception {
        var a = java.util.concurrent.CompletableFuture.supplyAsync(() -> Replica.start(client, "replica-a"));
        var b = java.util.concurrent.CompletableFuture.supplyAsync(() -> Replica.start(client, "replica-b"));
        try (Replica ra = a.get(60, java.util.concurrent.TimeUnit.SECONDS);
                Replica rb = b.get(60, java.util.concurrent.TimeUnit.SECONDS)) {
            await().atMost(Duration.ofSeconds(10)).until(() -> ra.controller().isLeader() != rb.controller().isLeader());
            Replica leader = ra.controller().isLeader() ? ra : rb;
            Replica follower = leader == ra ? rb : ra;
            X509Certificate oldRoot = leader.trust().bundle().get(0);
            assertThat(follower.trust().bundle()).as("both serve the CA the leader generated").containsExactly(oldRoot);
            try (var onLeader = connect(leader.push(), leader::trust, "node2", TOKEN, oldRoot);
                    var onFollower = connect(follower.push(), follower::trust, "node1", TOKEN_NODE1, oldRoot)) {
                X509Certificate oldIssuer = certificate(onLeader, 1, DB).chain().get(1);
                assertThat(certificate(onFollower, 1, WEB).chain().get(1)).isEqualTo(oldIssuer);
                while (server.takeRequest(10, java.util.concurrent.TimeUnit.MILLISECONDS) != null) {
                    // writes from here on are the rotation's
                }

                client.secrets().inNamespace(NS).withName(SECRET).edit(s -> new SecretBuilder(s).editMetadata()
                        .addToAnnotations(CaSecretRotations.ROTATE_ANNOTATION, "now").endMetadata().build());
                await().atMost(Duration.ofSeconds(10)).until(() -> {
                    leader.driver().tick(Instant.now());
                    follower.driver().tick(Instant.now());
                    return leader.trust().bundle().size() == 2 && follower.trust().bundle().size() == 2;
                });
                X509Certificate newRoot = leader.trust().bundle().get(1);
                assertThat(newRoot).isNotEqualTo(oldRoot);
                assertThat(follower.trust().bundle()).as("one new root, the leader's").containsExactly(oldRoot, newRoot);
                for (RawAgent agent : List.of(onLeader, onFollower)) {
                    assertThat(next(agent, Message.Delta.class).trustBundle()).containsExactly(oldRoot, newRoot);
                }

                // each replica switches signing once its own agents hold both roots (a CSR answers the PING behind
                // the DELTA), then every certificate moves and the old root goes
                certificate(onLeader, 2, DB);
                certificate(onFollower, 2, WEB);
                await().atMost(Duration.ofSeconds(10)).until(() -> {
                    leader.driver().tick(Instant.now());
                    follower.driver().tick(Instant.now());
                    return leader.trust().phase() == TrustRotation.Phase.RENEWING
                            && follower.trust().phase() == TrustRotation.Phase.RENEWING;
                });
                var renewedOnLeader = certificate(onLeader, 3, DB);
                var renewedOnFollower = certificate(onFollower, 3, WEB);
                assertThat(renewedOnLeader.chain().get(1)).isNotEqualTo(oldIssuer);
                assertThat(renewedOnFollower.chain().get(1)).as("both replicas sign with the new CA")
                        .isEqualTo(renewedOnLeader.chain().get(1));
                renewedOnFollower.chain().get(1).verify(newRoot.getPublicKey()); // the new issuer is the new root's
                await().atMost(Duration.ofSeconds(10)).until(() -> {
                    leader.driver().tick(Instant.now());
                    follower.driver().tick(Instant.now());
                    return leader.trust().phase() == TrustRotation.Phase.STABLE
                            && follower.trust().phase() == TrustRotation.Phase.STABLE;
                });
                assertThat(leader.trust().bundle()).containsExactly(newRoot);
                assertThat(follower.trust().bundle()).containsExactly(newRoot);
                assertThat(configMapRoots()).containsExactly(newRoot);

                var writes = new java.util.ArrayList<String>();
                for (io.fabric8.mockwebserver.http.RecordedRequest r; (r = server.takeRequest(10,
                        java.util.concurrent.TimeUnit.MILLISECONDS)) != null; ) {
                    if (!"GET".equals(r.getMethod()) && r.getHeader("User-Agent").startsWith("replica-")) {
                        writes.add(r.getHeader("User-Agent") + " " + r.getMethod() + " " + r.getPath());
                    }
                }
                assertThat(writes).as("the new root, written once, by the leader").filteredOn(w -> w.contains("/secrets/"))
                        .containsExactly(leader.name() + " PUT /api/v1/namespaces/tessera-system/secrets/tessera-ca");
                assertThat(writes).filteredOn(w -> w.startsWith(follower.name() + " "))
                        .allMatch(w -> w.contains("/leases"));
            }
        }
    }
}
