package dev.tessera.controller;

import static java.util.Objects.requireNonNull;

import dev.tessera.controller.core.ControllerCore;
import dev.tessera.controller.identity.AgentAuthenticator;
import dev.tessera.api.identity.CertificateAuthority.Pem;
import dev.tessera.controller.identity.CaSecretRotations;
import dev.tessera.controller.identity.CaStore;
import dev.tessera.controller.identity.RotationDriver;
import dev.tessera.controller.identity.IssuingCa;
import dev.tessera.controller.identity.SvidIssuer;
import dev.tessera.controller.identity.CachingAuthenticator;
import dev.tessera.controller.identity.TokenReviewAuthenticator;
import dev.tessera.controller.identity.TrustBundlePublisher;
import dev.tessera.controller.identity.TrustRotation;
import dev.tessera.controller.leader.Leadership;
import dev.tessera.controller.policy.PolicyStatusWriter;
import dev.tessera.controller.watch.MeshWatcher;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The controller in a cluster: leader election (optional), discovery ({@link MeshWatcher}), the CA from
 * its Secret (created by the leader, awaited by the others), the trust bundle ConfigMap and policy status
 * (leader only), TokenReview authentication and the SVID issuer, and root rotations from the CA Secret
 * ({@link CaSecretRotations}, which watches it). Every replica watches and serves; only the leader writes,
 * and it stops writing as soon as it loses the Lease.
 */
public final class KubernetesController implements ControllerCore {

    private static final Logger log = LoggerFactory.getLogger(KubernetesController.class);

    /**
     * Settings.
     *
     * @param namespace the controller's namespace (CA Secret, trust bundle ConfigMap, Lease)
     * @param trustDomain the trust domain
     * @param caSecret the CA Secret's name
     * @param tokenAudience the audience agents' tokens are bound to
     * @param agentServiceAccounts service accounts ({@code namespace/name}) allowed to act as agents
     * @param leaderElection whether to elect a leader (false: this replica always writes)
     * @param identity this replica's Lease holder identity (its pod name)
     * @param svidTtl workload certificate lifetime
     * @param caWait how long a non-leader waits for the leader to create the CA Secret
     * @param lease the leader election timings
     * @param rotationOverlap how long old roots stay trusted at least after a rotation's switch
     * @param bundlePropagation how long the trust bundle ConfigMap must have held a new root before the new CA
     *     signs (kubelet refreshes mounted ConfigMaps within about a minute; agents verify the controller with
     *     that file when they reconnect)
     */
    public record Options(String namespace, String trustDomain, String caSecret, String tokenAudience,
            Set<String> agentServiceAccounts, boolean leaderElection, String identity, Duration svidTtl,
            Duration caWait, Leadership.Timings lease, Duration rotationOverlap, Duration bundlePropagation) {

        /** Default {@link #bundlePropagation()}: kubelet's sync period (1 min) plus its cache TTL, with margin. */
        public static final Duration DEFAULT_BUNDLE_PROPAGATION = Duration.ofSeconds(90);

        /** Options with the default rotation overlap and bundle propagation. */
        public Options(String namespace, String trustDomain, String caSecret, String tokenAudience,
                Set<String> agentServiceAccounts, boolean leaderElection, String identity, Duration svidTtl,
                Duration caWait, Leadership.Timings lease) {
            this(namespace, trustDomain, caSecret, tokenAudience, agentServiceAccounts, leaderElection, identity,
                    svidTtl, caWait, lease, RotationDriver.DEFAULT_OVERLAP, DEFAULT_BUNDLE_PROPAGATION);
        }

        public Options {
            requireNonNull(namespace, "namespace");
            requireNonNull(trustDomain, "trustDomain");
            requireNonNull(caSecret, "caSecret");
            requireNonNull(tokenAudience, "tokenAudience");
            agentServiceAccounts = Set.copyOf(agentServiceAccounts);
            requireNonNull(identity, "identity");
            requireNonNull(svidTtl, "svidTtl");
            requireNonNull(caWait, "caWait");
            lease = lease == null ? Leadership.Timings.DEFAULT : lease;
            requireNonNull(rotationOverlap, "rotationOverlap");
            requireNonNull(bundlePropagation, "bundlePropagation");
            if (rotationOverlap.isNegative()) {
                throw new IllegalArgumentException("rotationOverlap: " + rotationOverlap + " (expected: zero or more)");
            }
            if (bundlePropagation.isNegative()) {
                throw new IllegalArgumentException("bundlePropagation: " + bundlePropagation + " (expected: zero or more)");
            }
        }

        /** These options with another rotation overlap and bundle propagation. */
        public Options withRotation(Duration overlap, Duration propagation) {
            return new Options(namespace, trustDomain, caSecret, tokenAudience, agentServiceAccounts, leaderElection,
                    identity, svidTtl, caWait, lease, overlap, propagation);
        }
    }

    private final Leadership leadership;
    private final MeshWatcher watcher;
    private final PolicyStatusWriter statusWriter;
    private final TrustBundlePublisher bundle;
    private final AgentAuthenticator authenticator;
    private final KubernetesClient client;
    private final Options options;
    private volatile IssuingCa ca;
    private volatile SvidIssuer issuer;
    private volatile CaSecretRotations rotations;
    // When this replica first saw the ConfigMap hold every root of a bundle (keyed by that bundle).
    private final java.util.Map<List<X509Certificate>, Instant> bundleSeen = new java.util.concurrent.ConcurrentHashMap<>();

    private KubernetesController(KubernetesClient client, Options o) {
        this.client = client;
        this.options = o;
        leadership = o.leaderElection()
                ? Leadership.elect(client, o.namespace(), o.identity(), o.lease())
                : Leadership.always();
        watcher = new MeshWatcher(client, o.trustDomain(), 0);
        statusWriter = new PolicyStatusWriter(client, leadership::isLeader);
        bundle = new TrustBundlePublisher(client, o.namespace(), leadership::isLeader);
        // One TokenReview per token and 2 minutes, not one per HELLO and per CSR (bounded: 4,096 tokens).
        authenticator = new CachingAuthenticator(
                new TokenReviewAuthenticator(client, o.tokenAudience(), o.agentServiceAccounts()), 4096,
                Duration.ofMinutes(2), java.time.Clock.systemUTC());
        watcher.addPolicyListener(statusWriter::submit);
        leadership.onChange(this::leadershipChanged);
    }

    /**
     * Starts everything and returns once the first mesh state is published and the CA is loaded.
     *
     * @throws Exception when discovery cannot start or the CA cannot be loaded
     */
    public static KubernetesController start(KubernetesClient client, Options o) throws Exception {
        KubernetesController c = new KubernetesController(requireNonNull(client, "client"), requireNonNull(o, "o"));
        try {
            c.watcher.start();
            CaStore.Loaded loaded = new CaStore(client, o.namespace(), o.caSecret(), o.trustDomain())
                    .awaitOrCreate(c.leadership::isLeader, Duration.ofSeconds(1), o.caWait());
            log.info("CA {} from Secret {}/{}: issuing {}", loaded.origin(), o.namespace(), o.caSecret(),
                    loaded.ca().issuingCertificate().getSubjectX500Principal().getName());
            // Roots published before but no longer in the Secret (replaced while no controller ran, or a restart
            // mid-rotation): still trusted until the overlap has passed, so agents move off them first.
            TrustRotation trust = TrustRotation.resuming(loaded.ca(), c.publishedRoots(), o.rotationOverlap(),
                    Instant.now());
            if (trust.phase() != TrustRotation.Phase.STABLE) {
                log.info("root rotation resumed: {} root(s) of ConfigMap {}/{} not in the Secret stay trusted for at"
                        + " least {}", trust.bundle().size() - loaded.ca().trustBundle().size(), o.namespace(),
                        TrustBundlePublisher.CONFIG_MAP, o.rotationOverlap());
            }
            c.issuer = new SvidIssuer(trust, c.authenticator, c.watcher::snapshot, o.trustDomain(), o.svidTtl());
            c.ca = loaded.ca();
            c.publishBundle();
            c.rotations = new CaSecretRotations(client, o.namespace(), o.caSecret(), o.trustDomain(), o.rotationOverlap(),
                    () -> c.issuer.trust().signer(), c.leadership::isLeader).start();
            return c;
        } catch (Exception | Error e) {
            c.close();
            throw e;
        }
    }

    private void leadershipChanged() {
        if (leadership.isLeader()) {
            statusWriter.resync();
            publishBundle();
        }
    }

    private void publishBundle() {
        SvidIssuer current = issuer;
        if (current == null || !leadership.isLeader()) {
            return;
        }
        try {
            bundle.publish(current.trust().bundle());
        } catch (RuntimeException e) {
            log.warn("trust bundle ConfigMap not written: {}", e.toString());
        }
    }

    @Override
    public MeshWatcher source() {
        return watcher;
    }

    /** The CA loaded at start (the signer now is {@code issuer().trust().signer()}). */
    @Override
    public IssuingCa ca() {
        return ca;
    }

    @Override
    public Optional<RotationDriver.Requests> rotationRequests() {
        return Optional.ofNullable(rotations);
    }

    /** The leader writes the new bundle into the ConfigMap the agents mount. */
    @Override
    public void trustChanged() {
        publishBundle();
    }

    /** The roots in the trust bundle ConfigMap (empty when it does not exist or cannot be read). */
    private List<X509Certificate> publishedRoots() {
        ConfigMap cm = client.configMaps().inNamespace(options.namespace()).withName(TrustBundlePublisher.CONFIG_MAP).get();
        String pem = cm == null || cm.getData() == null ? null : cm.getData().get(TrustBundlePublisher.KEY);
        try {
            return pem == null ? List.of() : Pem.readCertificates(pem);
        } catch (java.io.IOException | RuntimeException e) {
            log.warn("ConfigMap {}/{} unreadable ({}): it will be rewritten", options.namespace(),
                    TrustBundlePublisher.CONFIG_MAP, e.toString());
            return List.of();
        }
    }

    /**
     * Whether the trust bundle ConfigMap (written by the leader, read by every replica) has held every root of
     * the current bundle for {@link Options#bundlePropagation()}: agents reconnecting after the switch verify
     * the controller's new certificate with that mounted file.
     */
    @Override
    public boolean trustDistributed(long generation) {
        SvidIssuer current = issuer;
        if (current == null) {
            return false;
        }
        List<X509Certificate> roots = current.trust().bundle();
        if (!publishedRoots().containsAll(roots)) {
            bundleSeen.remove(roots);
            return false;
        }
        Instant now = Instant.now();
        Instant seen = bundleSeen.computeIfAbsent(roots, r -> now);
        bundleSeen.keySet().removeIf(k -> !k.equals(roots));
        return !now.isBefore(seen.plus(options.bundlePropagation()));
    }

    @Override
    public AgentAuthenticator authenticator() {
        return authenticator;
    }

    @Override
    public SvidIssuer issuer() {
        return issuer;
    }

    @Override
    public boolean isLeader() {
        return leadership.isLeader();
    }

    /** The leader election state. */
    public Leadership leadership() {
        return leadership;
    }

    @Override
    public int invalidPolicies() {
        return statusWriter.invalidCount();
    }

    /** Stops writing first (releasing the Lease), then watching. */
    @Override
    public void close() {
        CaSecretRotations r = rotations;
        if (r != null) {
            r.close();
        }
        leadership.close();
        statusWriter.close();
        watcher.close();
    }
}
