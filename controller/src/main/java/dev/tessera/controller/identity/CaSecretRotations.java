package dev.tessera.controller.identity;

import static java.util.Objects.requireNonNull;

import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import java.security.PublicKey;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.HashSet;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Root rotations of Kubernetes mode, from the CA Secret (the one {@link CaStore} loads at start), which an
 * informer on that single Secret keeps current. The Secret is the desired CA: when it holds a CA other than
 * the one signing now (cert-manager renewed it, or a user replaced it), {@link #poll()} asks for a rotation
 * to it; the {@link RotationDriver} does the rest exactly as in local mode.
 *
 * <ul>
 *   <li>New roots in {@value IssuingCa#CA_CRT}: a full rotation (publish both, switch, drop the old one after
 *       the overlap once no certificate under it is held).</li>
 *   <li>Same roots, new issuing certificate (cert-manager renewing an intermediate under the same root): the
 *       signer is replaced at once, nothing to publish ({@link TrustRotation#renewSigner}).</li>
 *   <li>A Secret that does not hold a usable CA (malformed PEM, key not matching, not a CA, expired, not
 *       chaining to {@value IssuingCa#CA_CRT}) is rejected: logged once, counted, visible in
 *       {@link #rejected()}; the current roots stay and the controller keeps issuing.</li>
 *   <li>{@value #ROTATE_ANNOTATION} on a Secret Tessera generated (label {@value CaStore#GENERATED_LABEL}):
 *       the leader generates a new root and issuing intermediate, writes them into the Secret and removes
 *       the annotation in one update (resourceVersion-checked, so one writer wins); every replica then sees
 *       the new Secret like any replacement. On a Secret Tessera did not generate the annotation is refused:
 *       its owner (cert-manager) would overwrite what Tessera wrote.</li>
 * </ul>
 *
 * <p>Informer callbacks only record the latest Secret; all work happens in {@link #poll()}, on the driver's
 * thread, which only polls while no rotation is under way (a Secret changed mid-rotation is picked up once
 * it is done).
 */
public final class CaSecretRotations implements RotationDriver.Requests, AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(CaSecretRotations.class);

    /** Annotation asking the leader to generate a new root into a Tessera-generated CA Secret (any value). */
    public static final String ROTATE_ANNOTATION = "tessera.dev/rotate-root";

    private final KubernetesClient client;
    private final String namespace;
    private final String secretName;
    private final String trustDomain;
    private final Duration overlap;
    private final Supplier<IssuingCa> signer;
    private final BooleanSupplier isLeader;
    private final AtomicReference<Secret> latest = new AtomicReference<>();
    private final AtomicLong rejections = new AtomicLong();
    private volatile String rejected;
    private SharedIndexInformer<Secret> informer;
    // Only the driver's thread touches these.
    private volatile String evaluatedVersion;
    private IssuingCa desired;
    private boolean deletedLogged;

    /**
     * @param client the API client
     * @param namespace the controller's namespace
     * @param secretName the CA Secret's name
     * @param trustDomain the trust domain of a generated root
     * @param overlap how long old roots stay trusted at least after the switch
     * @param signer the CA signing now
     * @param isLeader whether this replica may write
     */
    public CaSecretRotations(KubernetesClient client, String namespace, String secretName, String trustDomain,
            Duration overlap, Supplier<IssuingCa> signer, BooleanSupplier isLeader) {
        this.client = requireNonNull(client, "client");
        this.namespace = requireNonNull(namespace, "namespace");
        this.secretName = requireNonNull(secretName, "secretName");
        this.trustDomain = requireNonNull(trustDomain, "trustDomain");
        this.overlap = requireNonNull(overlap, "overlap");
        if (overlap.isNegative()) {
            throw new IllegalArgumentException("overlap: " + overlap + " (expected: zero or more)");
        }
        this.signer = requireNonNull(signer, "signer");
        this.isLeader = requireNonNull(isLeader, "isLeader");
    }

    /** Starts watching the Secret; returns once the informer listed it. */
    public synchronized CaSecretRotations start() {
        informer = client.secrets().inNamespace(namespace).withName(secretName).inform(new ResourceEventHandler<>() {
            @Override
            public void onAdd(Secret s) {
                latest.set(s);
            }

            @Override
            public void onUpdate(Secret before, Secret s) {
                latest.set(s);
            }

            @Override
            public void onDelete(Secret s, boolean finalStateUnknown) {
                latest.set(null);
            }
        }, 0);
        return this;
    }

    @Override
    public Optional<RotationDriver.Request> poll() {
        Secret s = latest.get();
        if (s == null) {
            if (!deletedLogged && evaluatedVersion != null) {
                log.warn("CA Secret {}/{} is gone: keeping the current roots (a restart would generate a new CA)",
                        namespace, secretName);
                deletedLogged = true;
            }
            return Optional.empty();
        }
        deletedLogged = false;
        String version = s.getMetadata().getResourceVersion();
        if (!java.util.Objects.equals(version, evaluatedVersion)) {
            evaluatedVersion = version;
            desired = evaluate(s);
        }
        if (desired != null && annotation(s) != null && generated(s) && isLeader.getAsBoolean()) {
            generateInto(s);
            return Optional.empty();
        }
        if (desired == null || sameCa(desired, signer.get())) {
            return Optional.empty();
        }
        return Optional.of(new RotationDriver.Request(desired, overlap));
    }

    /** The CA of {@code s}, or null (logged, counted, kept in {@link #rejected()}) when it is not usable. */
    private IssuingCa evaluate(Secret s) {
        String problem;
        IssuingCa ca = null;
        try {
            ca = CaStore.read(s, namespace, secretName);
            X509Certificate issuing = ca.issuingCertificate();
            if (issuing.getNotAfter().toInstant().isBefore(Instant.now())) {
                throw new IllegalArgumentException("Secret " + namespace + "/" + secretName + ": " + IssuingCa.TLS_CRT
                        + ": " + issuing.getSubjectX500Principal().getName() + " expired at "
                        + issuing.getNotAfter().toInstant() + " (expected: a certificate valid now)");
            }
            problem = annotation(s) != null && !generated(s)
                    ? "Secret " + namespace + "/" + secretName + ": annotation " + ROTATE_ANNOTATION
                            + " on a Secret Tessera did not generate (expected: label " + CaStore.GENERATED_LABEL
                            + "=true; renew a cert-manager Secret with cert-manager, e.g. `cmctl renew`, and remove"
                            + " the annotation)"
                    : null;
        } catch (IllegalArgumentException e) {
            problem = e.getMessage();
            ca = null;
        }
        if (problem != null) {
            rejections.incrementAndGet();
            log.warn("CA Secret rejected, keeping the current roots: {}", problem);
        } else if (rejected != null) {
            log.info("CA Secret {}/{} is usable again", namespace, secretName);
        }
        rejected = problem;
        return ca; // with a refused annotation the CA itself is still followed
    }

    /** Leader: a new root into the Secret, the annotation removed, in one resourceVersion-checked update. */
    private void generateInto(Secret s) {
        IssuingCa next = IssuingCa.generate(trustDomain);
        Secret updated = new SecretBuilder(s).editMetadata().removeFromAnnotations(ROTATE_ANNOTATION).endMetadata()
                .withData(CaStore.secretData(next)).withStringData(null).build();
        try {
            client.secrets().inNamespace(namespace).resource(updated).update();
            log.info("root rotation requested by annotation {}: generated {} into Secret {}/{}", ROTATE_ANNOTATION,
                    next.trustBundle().get(0).getSubjectX500Principal().getName(), namespace, secretName);
        } catch (KubernetesClientException e) {
            if (e.getCode() != 409) {
                throw e;
            }
            log.info("Secret {}/{} changed concurrently; the rotation request is looked at again", namespace, secretName);
        }
    }

    private static String annotation(Secret s) {
        Map<String, String> a = s.getMetadata().getAnnotations();
        return a == null ? null : a.get(ROTATE_ANNOTATION);
    }

    private static boolean generated(Secret s) {
        Map<String, String> l = s.getMetadata().getLabels();
        return l != null && "true".equals(l.get(CaStore.GENERATED_LABEL));
    }

    private static boolean sameCa(IssuingCa a, IssuingCa b) {
        return a.issuingCertificate().equals(b.issuingCertificate()) && keys(a).equals(keys(b));
    }

    private static Set<PublicKey> keys(IssuingCa ca) {
        var out = new HashSet<PublicKey>();
        ca.trustBundle().forEach(r -> out.add(r.getPublicKey()));
        return out;
    }

    @Override
    public void completed(TrustRotation.Status status) {
        log.info("root rotation from Secret {}/{} done: {} root(s) trusted, signing under {}", namespace, secretName,
                status.bundle().size(), status.signer().getSubjectX500Principal().getName());
    }

    /** The resourceVersion of the Secret {@link #poll()} last looked at (tests: what it has seen). */
    String evaluatedVersion() {
        return evaluatedVersion;
    }

    @Override
    public String rejected() {
        return rejected;
    }

    @Override
    public long rejections() {
        return rejections.get();
    }

    @Override
    public synchronized void close() {
        if (informer != null) {
            informer.close();
        }
    }
}
