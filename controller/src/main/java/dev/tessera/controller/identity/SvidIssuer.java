package dev.tessera.controller.identity;

import static java.util.Objects.requireNonNull;

import dev.tessera.common.identity.SpiffeId;
import dev.tessera.common.local.ClusterDescription;
import io.fabric8.kubernetes.api.model.Namespace;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.LongAdder;
import org.bouncycastle.pkcs.PKCS10CertificationRequest;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Signs workload certificates (SVIDs) with node authorization: an agent gets a certificate for a
 * service account only while a running, meshed pod with that service account is scheduled on the
 * agent's own node. A compromised node can therefore only obtain the identities of workloads it
 * really runs. Every refusal is counted by {@link RefusalReason}.
 *
 * <p>Pods are read from the API server at request time (listed in the namespace and filtered by
 * {@code spec.nodeName} here), so a pod that just moved is judged on its current node.
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

    private final IssuingCa ca;
    private final AgentAuthenticator authenticator;
    private final KubernetesClient client;
    private final String trustDomain;
    private final Duration ttl;
    private final Map<RefusalReason, LongAdder> refusals = new EnumMap<>(RefusalReason.class);
    private final LongAdder issued = new LongAdder();

    /**
     * @param ca the signing CA
     * @param authenticator verifies the callers' tokens
     * @param client reads namespaces and pods
     * @param trustDomain the only trust domain signed
     * @param ttl certificate lifetime (positive; {@link #DEFAULT_TTL} by default)
     */
    public SvidIssuer(IssuingCa ca, AgentAuthenticator authenticator, KubernetesClient client, String trustDomain,
            Duration ttl) {
        this.ca = requireNonNull(ca, "ca");
        this.authenticator = requireNonNull(authenticator, "authenticator");
        this.client = requireNonNull(client, "client");
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
        Namespace namespace;
        List<Pod> pods;
        try {
            namespace = client.namespaces().withName(ns).get();
            pods = namespace == null ? List.of() : client.pods().inNamespace(ns).list().getItems();
        } catch (KubernetesClientException e) {
            throw new SvidRefusedException(RefusalReason.LOOKUP_FAILED, "cannot read namespace " + ns
                    + " and its pods: HTTP " + e.getCode() + " " + e.getMessage(), e);
        }
        Map<String, String> nsLabels = namespace == null ? null : namespace.getMetadata().getLabels();
        if (namespace == null || !ClusterDescription.meshed(nsLabels, Map.of())) {
            throw new SvidRefusedException(RefusalReason.NAMESPACE_NOT_ENROLLED, "namespace " + ns
                    + (namespace == null ? " does not exist" : " is not labelled "
                    + ClusterDescription.DATAPLANE_MODE_LABEL + "=" + ClusterDescription.AMBIENT));
        }
        boolean found = pods.stream().anyMatch(p -> agent.node().equals(p.getSpec() == null ? null : p.getSpec().getNodeName())
                && "Running".equals(p.getStatus() == null ? null : p.getStatus().getPhase())
                && requested.serviceAccount().equals(ClusterDescription.serviceAccount(p))
                && ClusterDescription.meshed(nsLabels, p.getMetadata().getLabels()));
        if (!found) {
            throw new SvidRefusedException(RefusalReason.NO_POD_ON_NODE, "no running meshed pod with service account "
                    + ns + "/" + requested.serviceAccount() + " on node " + agent.node());
        }
        List<X509Certificate> chain;
        try {
            chain = ca.issue(csr, requested, ttl);
        } catch (IllegalArgumentException e) {
            throw new SvidRefusedException(RefusalReason.CSR_INVALID, e.getMessage(), e);
        }
        log.debug("issued {} for node {}", requested, agent.node());
        return new Issued(chain, ca.trustBundle(), agent.node());
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
