package dev.tessera.api.identity;

import static java.util.Objects.requireNonNull;

import java.net.URI;
import java.util.regex.Pattern;

/**
 * A workload identity, {@code spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>}.
 */
public record SpiffeId(String trustDomain, String namespace, String serviceAccount) {

    /** The default trust domain of a cluster. */
    public static final String DEFAULT_TRUST_DOMAIN = "cluster.local";

    private static final Pattern DNS_LABELS = Pattern.compile("[a-z0-9]([-a-z0-9.]*[a-z0-9])?");
    private static final Pattern FORM = Pattern.compile("spiffe://([^/]+)/ns/([^/]+)/sa/([^/]+)");

    public SpiffeId {
        requireNonNull(trustDomain, "trustDomain");
        requireNonNull(namespace, "namespace");
        requireNonNull(serviceAccount, "serviceAccount");
        check("trustDomain", trustDomain);
        check("namespace", namespace);
        check("serviceAccount", serviceAccount);
    }

    private static void check(String field, String value) {
        if (value.length() > 253 || !DNS_LABELS.matcher(value).matches()) {
            throw new IllegalArgumentException(
                    field + ": '" + value + "' (expected: a lowercase DNS name, [a-z0-9.-], at most 253 characters)");
        }
    }

    /** Parses {@code spiffe://td/ns/N/sa/S}; anything else is rejected with the expected form. */
    public static SpiffeId parse(String uri) {
        requireNonNull(uri, "uri");
        var m = FORM.matcher(uri);
        if (!m.matches()) {
            throw new IllegalArgumentException(
                    "spiffe id: '" + uri + "' (expected: spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>)");
        }
        return new SpiffeId(m.group(1), m.group(2), m.group(3));
    }

    public URI toUri() {
        return URI.create(toString());
    }

    /**
     * The TLS server name a client sends to pick this identity's certificate on a multi-identity HBONE
     * server: {@code <sa>.<ns>.<trust-domain>.spiffe.tessera} (all parts are DNS names already).
     */
    public String serverName() {
        return serviceAccount + "." + namespace + "." + trustDomain + ".spiffe.tessera";
    }

    @Override
    public String toString() {
        return "spiffe://" + trustDomain + "/ns/" + namespace + "/sa/" + serviceAccount;
    }
}
