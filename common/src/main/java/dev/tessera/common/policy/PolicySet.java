package dev.tessera.common.policy;

import static java.util.Objects.requireNonNull;

import io.fabric8.kubernetes.api.model.HasMetadata;
import java.util.ArrayList;
import java.util.Collection;
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

    /** Translates the {@code AuthorizationPolicy} and {@code PeerAuthentication} objects among {@code objects}. */
    public static PolicySet translate(long version, Collection<? extends HasMetadata> objects) {
        requireNonNull(objects, "objects");
        var ap = new ArrayList<Translation<AuthorizationPolicy>>();
        var pa = new ArrayList<Translation<PeerAuthentication>>();
        for (HasMetadata o : objects) {
            if ("AuthorizationPolicy".equals(o.getKind())) {
                ap.add(PolicyTranslator.authorizationPolicy(o));
            } else if ("PeerAuthentication".equals(o.getKind())) {
                pa.add(PolicyTranslator.peerAuthentication(o));
            }
        }
        return new PolicySet(version, ap, pa);
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
