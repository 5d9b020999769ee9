package dev.tessera.api.policy;

import static java.util.Objects.requireNonNull;

import java.util.Map;

/**
 * A {@code PeerAuthentication} ({@code security.tessera.dev/v1alpha1}) after validation: whether the
 * selected meshed workloads accept plaintext from outside the mesh. Scope as for
 * {@link AuthorizationPolicy}: a selector (workload), the whole namespace, or mesh-wide in the root
 * namespace; the most specific one wins ({@link PolicyScope#peerAuthentication}).
 *
 * @param namespace metadata.namespace
 * @param name metadata.name
 * @param selector spec.selector.matchLabels, or {@code null}
 * @param mode spec.mtls.mode
 */
public record PeerAuthentication(String namespace, String name, Map<String, String> selector, Mode mode) {

    /** spec.mtls.mode. */
    public enum Mode {
        /** Inherit from the less specific level (namespace, then mesh); PERMISSIVE at the top. */
        UNSET,
        /** Only mesh traffic (delivered by the node agent after mTLS) reaches the workload. */
        STRICT,
        /** mTLS and plaintext are both accepted (plaintext counted as connection_security_policy="none"). */
        PERMISSIVE
    }

    public PeerAuthentication {
        requireNonNull(namespace, "namespace");
        requireNonNull(name, "name");
        selector = selector == null ? null : Map.copyOf(selector);
        requireNonNull(mode, "mode");
    }

    public String key() {
        return namespace + "/" + name;
    }
}
