package dev.tessera.controller.identity;

import static java.util.Objects.requireNonNull;

import dev.tessera.api.identity.SpiffeId;
import dev.tessera.api.model.MeshSnapshot;
import dev.tessera.api.model.Workload;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Supplier;
import org.bouncycastle.pkcs.PKCS10CertificationRequest;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Signs workload certificates (SVIDs) with node authorization: an agent gets a certificate for a
 * service account only while a running, meshed pod with that service account is scheduled on the
 * agent's own node. A compromised node can therefore only obtain the identities of workloads it
 * really runs. Every refusal is counted by {@link RefusalReason}.
 *
 * <p>Pods are judged from the controller's current {@link MeshSnapshot} (built from the informer caches,
 * or from the manifests in local mode), which holds running pods with an address only; so a pod that
 * just moved is judged on its current node, and one that stopped gets nothing.
 */
public final class SvidIssuer {

    private static final Logger log = LoggerFactory.getLogger(SvidIssuer.class);

    /** Default certificate lifetime. */
    public static final Duration DEFAULT_TTL = Duration.ofHours(24);

    /**
     * A signed certificate.
     *
     * @param chain leaf first, then intermediates
     * @param trustBundle the roots peers are verified against
     * @param node the caller's node the certificate was authorized for
     */
    public record Issued(List<X509Certificate> chain, List<X509Certificate> trustBundle, String node) {
        public Issued {
            chain = List.copyOf(chain);
            trustBundle = List.copyOf(trustBundle);
            requireNonNull(node, "node");
        }

        public X509Certificate leaf() {
            return chain.get(0);
        }
    }

    private final TrustRotation ca;
    private final AgentAuthenticator authenticator;
    private final Supplier<MeshSnapshot> mesh;
    private final String trustDomain;
    private final Duration ttl;
    private final Map<RefusalReason, LongAdder> refusals = new EnumMap<>(RefusalReason.class);
    private final LongAdder issued = new LongAdder();
    /** The last certificate signed per (node, identity): what that node's agent holds, for rotations. */
    private final Map<String, Held> held = new java.util.concurrent.ConcurrentHashMap<>();

    private record Held(String node, SpiffeId id, X509Certificate issuer, java.time.Instant notAfter) {}

    /**
     * @param ca the signing CA
     * @param authenticator verifies the callers' tokens
     * @param mesh the current mesh state (running pods, their nodes and whether they are meshed)
     * @param trustDomain the only trust domain signed
     * @param ttl certificate lifetime (positive; {@link #DEFAULT_TTL} by default)
     */
    public SvidIssuer(IssuingCa ca, AgentAuthenticator authenticator, Supplier<MeshSnapshot> mesh, String trustDomain,
            Duration ttl) {
        this(new TrustRotation(requireNonNull(ca, "ca")), authenticator, mesh, trustDomain, ttl);
    }

    /**
     * @param ca the signer and trust bundle, which a root rotation changes
     * @param authenticator verifies the callers' tokens
     * @param mesh the current mesh state (running pods, their nodes and whether they are meshed)
     * @param trustDomain the only trust domain signed
     * @param ttl certificate lifetime (positive; {@link #DEFAULT_TTL} by default)
     */
    public SvidIssuer(TrustRotation ca, AgentAuthenticator authenticator, Supplier<MeshSnapshot> mesh,
            String trustDomain, Duration ttl) {
        this.ca = requireNonNull(ca, "ca");
        this.authenticator = requireNonNull(authenticator, "authenticator");
        this.mesh = requireNonNull(mesh, "mesh");
        this.trustDomain = requireNonNull(trustDomain, "trustDomain");
        this.ttl = requireNonNull(ttl, "ttl");
        if (ttl.isNegative() || ttl.isZero()) {
            throw new IllegalArgumentException("ttl: " + ttl + " (expected: a positive duration)");
        }
        for (RefusalReason r : RefusalReason.values()) {
            refusals.put(r, new LongAdder());
        }
    }

    /**
     * Signs {@code csr} for {@code requested} if the caller (identified by {@code bearerToken}) runs on a
     * node where a running, meshed pod of that service account is scheduled.
     *
     * @throws SvidRefusedException naming the reason otherwise (and counting it)
     */
    public Issued issue(PKCS10CertificationRequest csr, SpiffeId requested, String bearerToken)
            throws SvidRefusedException {
        try {
            Issued result = authorizeAndSign(csr, requested, bearerToken);
            issued.increment();
            return result;
        } catch (SvidRefusedException e) {
            refusals.get(e.reason()).increment();
            log.info("refused certificate for {}: {}", requested, e.getMessage());
            throw e;
        }
    }

    private Issued authorizeAndSign(PKCS10CertificationRequest csr, SpiffeId requested, String bearerToken)
            throws SvidRefusedException {
        requireNonNull(csr, "csr");
        requireNonNull(requested, "requested");
        AgentAuthenticator.Agent agent = authenticator.authenticate(bearerToken);
        if (!trustDomain.equals(requested.trustDomain())) {
            throw new SvidRefusedException(RefusalReason.WRONG_TRUST_DOMAIN, requested + " (expected: trust domain "
                    + trustDomain + ")");
        }
        String ns = requested.namespace();
        MeshSnapshot snapshot = mesh.get();
        if (snapshot == null || snapshot.version() == 0) {
            throw new SvidRefusedException(RefusalReason.LOOKUP_FAILED, "the controller has not synced the cluster yet"
                    + " (expected: retry shortly)");
        }
        List<Workload> inNamespace = snapshot.workloads().stream().filter(w -> w.namespace().equals(ns)).toList();
        if (inNamespace.stream().noneMatch(Workload::meshed)) {
            throw new SvidRefusedException(RefusalReason.NAMESPACE_NOT_ENROLLED, "namespace " + ns
                    + " has no running meshed pod (expected: labelled tessera.dev/dataplane-mode=ambient, with pods)");
        }
        boolean found = inNamespace.stream().anyMatch(w -> w.meshed() && agent.node().equals(w.node())
                && requested.serviceAccount().equals(w.serviceAccount()));
        if (!found) {
            throw new SvidRefusedException(RefusalReason.NO_POD_ON_NODE, "no running meshed pod with service account "
                    + ns + "/" + requested.serviceAccount() + " on node " + agent.node());
        }
        List<X509Certificate> chain;
        IssuingCa signer = ca.signer();
        try {
            chain = signer.issue(csr, requested, ttl);
        } catch (IllegalArgumentException e) {
            throw new SvidRefusedException(RefusalReason.CSR_INVALID, e.getMessage(), e);
        }
        held.put(agent.node() + "|" + requested, new Held(agent.node(), requested, signer.issuingCertificate(),
                chain.get(0).getNotAfter().toInstant()));
        log.debug("issued {} for node {}", requested, agent.node());
        return new Issued(chain, ca.bundle(), agent.node());
    }

    /**
     * Certificates this controller signed that an agent still holds (unexpired, and a running meshed pod of
     * that identity is still on that node) and that an issuer other than {@code current} signed: what keeps
     * an old root in the bundle during a rotation. Entries for certificates that expired or whose pods left
     * are forgotten here. Certificates signed by an earlier controller process are not known (the rotation's
     * overlap covers them).
     */
    public int heldUnderOtherIssuers(X509Certificate current) {
        requireNonNull(current, "current");
        MeshSnapshot snapshot = mesh.get();
        var running = new java.util.HashSet<String>();
        if (snapshot != null) {
            for (Workload w : snapshot.workloads()) {
                if (w.meshed()) {
                    running.add(w.node() + "|" + w.namespace() + "/" + w.serviceAccount());
                }
            }
        }
        java.time.Instant now = java.time.Instant.now();
        int n = 0;
        for (var it = held.values().iterator(); it.hasNext(); ) {
            Held h = it.next();
            if (h.notAfter().isBefore(now)
                    || !running.contains(h.node() + "|" + h.id().namespace() + "/" + h.id().serviceAccount())) {
                it.remove();
            } else if (!h.issuer().equals(current)) {
                n++;
            }
        }
        return n;
    }

    /** The signer and trust bundle, with the rotation's state. */
    public TrustRotation trust() {
        return ca;
    }

    /** Refusals so far, by reason (every reason present, zero when never refused). */
    public Map<RefusalReason, Long> refusals() {
        var out = new EnumMap<RefusalReason, Long>(RefusalReason.class);
        refusals.forEach((r, n) -> out.put(r, n.sum()));
        return out;
    }

    /** Certificates signed so far. */
    public long issuedCount() {
        return issued.sum();
    }

    public Duration ttl() {
        return ttl;
    }
}
