package dev.tessera.api.policy;

import static java.util.Objects.requireNonNull;

import java.util.List;
import java.util.Map;

/**
 * The result of translating one policy object: either the validated {@code policy}, or the
 * {@code errors} (one line each, naming the field and the expected value) together with what could still
 * be read, which is what the fail-closed treatment of invalid policies needs.
 *
 * @param kind {@code AuthorizationPolicy} or {@code PeerAuthentication}
 * @param namespace metadata.namespace (default {@code default})
 * @param name metadata.name
 * @param policy the policy, or {@code null} when invalid
 * @param errors empty when valid
 * @param selector the selector if it was readable, else {@code null} (invalid policies then select the
 *     whole namespace)
 * @param action for an invalid AuthorizationPolicy: its action if readable, else {@code DENY}
 * @param <T> the policy type
 */
public record Translation<T>(String kind, String namespace, String name, T policy, List<String> errors,
        Map<String, String> selector, AuthorizationPolicy.Action action) {

    public Translation {
        requireNonNull(kind, "kind");
        requireNonNull(namespace, "namespace");
        requireNonNull(name, "name");
        errors = List.copyOf(errors);
        if ((policy == null) == errors.isEmpty()) {
            throw new IllegalArgumentException("translation: exactly one of policy and errors expected");
        }
        selector = selector == null ? null : Map.copyOf(selector);
    }

    public boolean valid() {
        return policy != null;
    }

    /** {@code namespace/name}. */
    public String key() {
        return namespace + "/" + name;
    }
}
