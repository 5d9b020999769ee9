package dev.tessera.api.policy;

import static java.util.Objects.requireNonNull;

import java.util.List;
import java.util.stream.Stream;

/**
 * Every policy object of the mesh, translated: valid and invalid ones (invalid ones keep their errors
 * for status reporting and are enforced fail-closed). Immutable.
 *
 * @param version the version of the state it was built from
 * @param authorizationPolicies translated AuthorizationPolicies
 * @param peerAuthentications translated PeerAuthentications
 */
public record PolicySet(long version, List<Translation<AuthorizationPolicy>> authorizationPolicies,
        List<Translation<PeerAuthentication>> peerAuthentications) {

    /** No policy at all: everything is allowed, every workload is PERMISSIVE. */
    public static final PolicySet EMPTY = new PolicySet(0, List.of(), List.of());

    public PolicySet {
        authorizationPolicies = List.copyOf(authorizationPolicies);
        peerAuthentications = List.copyOf(peerAuthentications);
    }

    /** Every translation, both kinds. */
    public List<Translation<?>> all() {
        return Stream.concat(authorizationPolicies.stream(), peerAuthentications.stream())
                .<Translation<?>>map(t -> t).toList();
    }

    /** The invalid ones. */
    public List<Translation<?>> rejected() {
        return all().stream().filter(t -> !t.valid()).collect(java.util.stream.Collectors.toUnmodifiableList());
    }
}
