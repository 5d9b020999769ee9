package dev.tessera.agent.identity;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.tessera.agent.state.StateStore;
import dev.tessera.api.identity.CertificateAuthority;
import dev.tessera.api.identity.SpiffeId;
import dev.tessera.api.model.MeshSnapshot;
import dev.tessera.api.model.NodeInfo;
import dev.tessera.api.model.Workload;
import java.net.InetAddress;
import java.security.Signature;
import java.security.cert.CertPathValidator;
import java.security.cert.CertificateFactory;
import java.security.cert.PKIXParameters;
import java.security.cert.TrustAnchor;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import org.bouncycastle.pkcs.PKCS10CertificationRequest;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class CertificateManagerTest {

    static final String TD = "cluster.local";
    static final SpiffeId CLIENT = new SpiffeId(TD, "demo", "client");
    static final SpiffeId SERVER = new SpiffeId(TD, "demo", "server");
    static final SpiffeId LEGACY = new SpiffeId(TD, "demo", "legacy");
    static final SpiffeId BATCH = new SpiffeId(TD, "jobs", "batch");

    final CertificateAuthority ca = CertificateAuthority.generate(TD);
    CertificateManager manager;

    /** The real local CA signer, recording what it was asked and able to fail on demand. */
    static final class RecordingSigner implements CertificateSigner {
        final CertificateSigner delegate;
        final List<PKCS10CertificationRequest> csrs = new CopyOnWriteArrayList<>();
        final List<SpiffeId> ids = new CopyOnWriteArrayList<>();
        final AtomicBoolean failing = new AtomicBoolean();

        RecordingSigner(CertificateSigner delegate) {
            this.delegate = delegate;
        }

        @Override
        public CompletableFuture<List<X509Certificate>> sign(PKCS10CertificationRequest csr, SpiffeId id) {
            csrs.add(csr);
            ids.add(id);
            if (failing.get()) {
                return CompletableFuture.failedFuture(new IllegalStateException("controller unavailable"));
            }
            return delegate.sign(csr, id);
        }

        @Override
        public List<X509Certificate> trustBundle() {
            return delegate.trustBundle();
        }
    }

    RecordingSigner signer(Duration ttl) {
        return new RecordingSigner(new InProcessCaSigner(ca, List.of(ca.certificate()), ttl));
    }

    CertificateManager start(CertificateSigner signer) {
        manager = new CertificateManager("node1", signer, Duration.ofMillis(50), Duration.ofMillis(200), Duration.ofSeconds(5));
        return manager;
    }

    @AfterEach
    void close() {
        if (manager != null) {
            manager.close();
        }
    }

    static Workload pod(String ns, String name, String node, int ip, String sa, boolean meshed) throws Exception {
        return new Workload(ns, name, node, InetAddress.getByName("198.18." + (node.equals("node1") ? 1 : 2) + "." + ip),
                sa, Map.of(), meshed, new SpiffeId(TD, ns, sa));
    }

    static MeshSnapshot snapshot(long version, Workload... workloads) throws Exception {
        return new MeshSnapshot(version, List.of(
                new NodeInfo("node1", InetAddress.getByName("198.18.0.1"), "198.18.1.0/24"),
                new NodeInfo("node2", InetAddress.getByName("198.18.0.2"), "198.18.2.0/24")), List.of(workloads));
    }

    static MeshSnapshot cluster() throws Exception {
        return snapshot(1,
                pod("demo", "client-1", "node1", 2, "client", true),
                pod("demo", "client-2", "node1", 3, "client", true),   // same identity: one certificate
                pod("demo", "legacy", "node1", 4, "legacy", false),    // opted out: nothing
                pod("demo", "server", "node2", 2, "server", true),     // other node: nothing
                pod("jobs", "batch", "node2", 3, "batch", true));
    }

    @Test
    void issuesOnlyForMeshedIdentitiesOnItsOwnNode() throws Exception {
        RecordingSigner signer = signer(Duration.ofHours(24));
        var m = start(signer);
        var store = new StateStore();
        m.attach(store);
        assertThat(m.hasAll()).as("nothing expected yet").isTrue();

        store.update(cluster());

        assertThat(m.expected()).containsExactly(CLIENT);
        assertThat(m.awaitAll(Duration.ofSeconds(10))).isTrue();
        assertThat(m.certificate(CLIENT)).isPresent();
        assertThat(m.certificate(SERVER)).isEmpty();
        assertThat(m.certificate(LEGACY)).isEmpty();
        assertThat(m.certificate(BATCH)).isEmpty();
        assertThat(m.certificates()).containsOnlyKeys(CLIENT);
        assertThat(signer.ids).containsExactly(CLIENT);
        assertThat(m.issuedTotal()).isEqualTo(1);
        assertThat(m.trustBundle()).containsExactly(ca.certificate());
    }

    @Test
    void certificateHasExactIdentityLocalKeyAndVerifiesAgainstTheRoot() throws Exception {
        RecordingSigner signer = signer(Duration.ofHours(24));
        var m = start(signer);
        m.update(cluster());
        assertThat(m.awaitAll(Duration.ofSeconds(10))).isTrue();

        CertifiedKey key = m.certificate(CLIENT).orElseThrow();
        X509Certificate leaf = key.leaf();
        assertThat(key.id()).isEqualTo(CLIENT);
        assertThat(leaf.getSubjectAlternativeNames()).containsExactly(List.of(6, "spiffe://cluster.local/ns/demo/sa/client"));
        assertThat(CertificateAuthority.isP256(leaf.getPublicKey())).isTrue();
        assertThat(key.key().getAlgorithm()).isEqualTo("EC");
        assertThat(Duration.between(leaf.getNotBefore().toInstant(), leaf.getNotAfter().toInstant()))
                .isBetween(Duration.ofHours(24), Duration.ofHours(24).plusMinutes(2));
        var params = new PKIXParameters(Set.of(new TrustAnchor(m.trustBundle().get(0), null)));
        params.setRevocationEnabled(false);
        CertPathValidator.getInstance("PKIX").validate(CertificateFactory.getInstance("X.509").generateCertPath(key.chain()), params);

        // the key was generated here: the signer only saw a CSR carrying the public key
        assertThat(signer.csrs).hasSize(1);
        assertThat(signer.csrs.get(0).getSubjectPublicKeyInfo().getEncoded()).isEqualTo(leaf.getPublicKey().getEncoded());
        byte[] data = "proof".getBytes();
        Signature s = Signature.getInstance("SHA256withECDSA");
        s.initSign(key.key());
        s.update(data);
        byte[] sig = s.sign();
        Signature v = Signature.getInstance("SHA256withECDSA");
        v.initVerify(leaf.getPublicKey());
        v.update(data);
        assertThat(v.verify(sig)).isTrue();
    }

    @Test
    void renewsBeforeExpiryAndNotifies() throws Exception {
        var m = start(signer(Duration.ofSeconds(3)));
        var changed = new CopyOnWriteArrayList<SpiffeId>();
        m.addListener(changed::add);
        m.update(cluster());
        assertThat(m.awaitAll(Duration.ofSeconds(10))).isTrue();
        var first = m.certificate(CLIENT).orElseThrow().leaf().getSerialNumber();

        await().atMost(Duration.ofSeconds(10)).until(() -> m.issuedTotal() >= 3);

        assertThat(m.certificate(CLIENT).orElseThrow().leaf().getSerialNumber()).isNotEqualTo(first);
        assertThat(changed).hasSizeGreaterThanOrEqualTo(3).containsOnly(CLIENT);
        assertThat(m.failedTotal()).isZero();
    }

    @Test
    void dropsIdentitiesThatLeaveTheNode() throws Exception {
        var m = start(signer(Duration.ofHours(24)));
        var changed = new CopyOnWriteArrayList<SpiffeId>();
        m.addListener(changed::add);
        m.update(cluster());
        assertThat(m.awaitAll(Duration.ofSeconds(10))).isTrue();

        // one client pod leaves: the identity is still needed
        m.update(snapshot(2, pod("demo", "client-2", "node1", 3, "client", true)));
        await().atMost(Duration.ofSeconds(5)).until(() -> m.expected().equals(Set.of(CLIENT)));
        assertThat(m.certificate(CLIENT)).isPresent();

        // the last one moves to node2, and batch arrives on node1
        m.update(snapshot(3, pod("demo", "client-2", "node2", 3, "client", true), pod("jobs", "batch", "node1", 5, "batch", true)));
        await().atMost(Duration.ofSeconds(10)).until(() -> m.certificate(CLIENT).isEmpty() && m.certificate(BATCH).isPresent());
        assertThat(m.expected()).containsExactly(BATCH);
        assertThat(m.certificates()).containsOnlyKeys(BATCH);
        assertThat(changed).containsExactly(CLIENT, CLIENT, BATCH);
    }

    @Test
    void retriesFailuresAndKeepsTheOldCertificateMeanwhile() throws Exception {
        RecordingSigner signer = signer(Duration.ofSeconds(6));
        var m = start(signer);
        m.update(cluster());
        assertThat(m.awaitAll(Duration.ofSeconds(10))).isTrue();
        var first = m.certificate(CLIENT).orElseThrow();

        signer.failing.set(true); // the renewal (after ~2.4-3 s) and its retries fail; the old one is valid for 6 s
        await().atMost(Duration.ofSeconds(10)).until(() -> m.failedTotal() >= 3);
        assertThat(m.certificate(CLIENT)).contains(first);
        assertThat(m.hasAll()).isTrue();

        signer.failing.set(false);
        await().atMost(Duration.ofSeconds(5)).until(() -> m.certificate(CLIENT).map(k -> k != first).orElse(false));
        assertThat(m.issuedTotal()).isEqualTo(2);
    }

    @Test
    void initialFailureIsRetriedUntilTheSignerAnswers() throws Exception {
        RecordingSigner signer = signer(Duration.ofHours(1));
        signer.failing.set(true);
        var m = start(signer);
        m.update(cluster());

        await().atMost(Duration.ofSeconds(10)).until(() -> signer.ids.size() >= 3);
        assertThat(m.hasAll()).isFalse();
        assertThat(m.awaitAll(Duration.ofMillis(100))).isFalse();
        assertThat(m.certificate(CLIENT)).isEmpty();
        assertThat(signer.csrs.stream().map(c -> c.getSubjectPublicKeyInfo())).doesNotHaveDuplicates();

        signer.failing.set(false);
        assertThat(m.awaitAll(Duration.ofSeconds(10))).isTrue();
    }

    @Test
    void rejectsAnswersForAnotherIdentityOrUntrustedIssuer() throws Exception {
        var real = new InProcessCaSigner(ca, List.of(ca.certificate()), Duration.ofHours(1));
        var wrongId = new CertificateSigner() {
            @Override
            public CompletableFuture<List<X509Certificate>> sign(PKCS10CertificationRequest csr, SpiffeId id) {
                return real.sign(csr, new SpiffeId(TD, "kube-system", "admin"));
            }

            @Override
            public List<X509Certificate> trustBundle() {
                return real.trustBundle();
            }
        };
        var m = start(wrongId);
        m.update(cluster());
        await().atMost(Duration.ofSeconds(10)).until(() -> m.failedTotal() >= 2);
        assertThat(m.certificate(CLIENT)).isEmpty();
        m.close();

        var otherRoot = CertificateAuthority.generate(TD);
        var untrusted = new InProcessCaSigner(otherRoot, List.of(otherRoot.certificate()), Duration.ofHours(1));
        var m2 = start(new CertificateSigner() {
            @Override
            public CompletableFuture<List<X509Certificate>> sign(PKCS10CertificationRequest csr, SpiffeId id) {
                return untrusted.sign(csr, id);
            }

            @Override
            public List<X509Certificate> trustBundle() {
                return List.of(ca.certificate());
            }
        });
        m2.update(cluster());
        await().atMost(Duration.ofSeconds(10)).until(() -> m2.failedTotal() >= 2);
        assertThat(m2.certificate(CLIENT)).isEmpty();
    }

    @Test
    void aNewSigningRootFirstInTheBundleGetsEveryHeldCertificateReissuedUnderItWithinTheWindow() throws Exception {
        CertificateAuthority next = CertificateAuthority.generate(TD);
        var current = new java.util.concurrent.atomic.AtomicReference<CertificateSigner>(
                new InProcessCaSigner(ca, List.of(ca.certificate()), Duration.ofHours(24)));
        CertificateSigner switching = new CertificateSigner() {
            @Override
            public CompletableFuture<List<X509Certificate>> sign(PKCS10CertificationRequest csr, SpiffeId id) {
                return current.get().sign(csr, id);
            }

            @Override
            public List<X509Certificate> trustBundle() {
                return current.get().trustBundle();
            }
        };
        var m = start(switching).rotationWindow(Duration.ofMillis(300));
        m.update(cluster());
        assertThat(m.awaitAll(Duration.ofSeconds(10))).isTrue();
        X509Certificate first = m.certificate(CLIENT).orElseThrow().leaf();
        assertThat(m.byRoot()).containsExactly(Map.entry(CertificateManager.fingerprint(ca.certificate()),
                Map.entry(true, 1L)));

        // The new root is published next to the old one, which still signs: nothing to re-issue.
        var published = List.of(ca.certificate(), next.certificate());
        current.set(new InProcessCaSigner(ca, published, Duration.ofHours(24)));
        m.trustBundleChanged(published);
        // The new root signs (first in the bundle): the certificate is re-issued under it.
        var switched = List.of(next.certificate(), ca.certificate());
        current.set(new InProcessCaSigner(next, switched, Duration.ofHours(24)));
        m.trustBundleChanged(switched);
        await().atMost(Duration.ofSeconds(10)).until(() ->
                CertificateManager.chainsTo(m.certificate(CLIENT).orElseThrow().chain(), next.certificate()));
        assertThat(m.certificate(CLIENT).orElseThrow().leaf()).isNotEqualTo(first);
        assertThat(m.rotationRenewalsTotal()).isEqualTo(1);
        assertThat(m.byRoot()).containsEntry(CertificateManager.fingerprint(next.certificate()), Map.entry(true, 1L))
                .containsEntry(CertificateManager.fingerprint(ca.certificate()), Map.entry(false, 0L));
    }
}
