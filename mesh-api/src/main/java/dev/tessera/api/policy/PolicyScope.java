package dev.tessera.api.policy;

import static java.util.Objects.requireNonNull;

import dev.tessera.api.model.Workload;
import dev.tessera.api.policy.PeerAuthentication.Mode;
import java.util.Comparator;
import java.util.List;
import java.util.Map;

/**
 * Which workloads a policy applies to, and which {@code PeerAuthentication} wins for a workload.
 *
 * <p>The root namespace is {@value #ROOT_NAMESPACE} (where Tessera itself is installed, like Istio's
 * {@code istio-system}): a policy there without a selector is mesh-wide, one with a selector applies to
 * matching workloads of every namespace.
 */
public final class PolicyScope {

    /** The mesh's root namespace. */
    public static final String ROOT_NAMESPACE = "tessera-system";

    private PolicyScope() {}

    /** Whether a policy of {@code policyNamespace} with {@code selector} (null: none) applies to {@code w}. */
    public static boolean selects(String policyNamespace, Map<String, String> selector, Workload w) {
        boolean root = ROOT_NAMESPACE.equals(policyNamespace);
        if (!root && !policyNamespace.equals(w.namespace())) {
            return false;
        }
        return selector == null || w.labels().entrySet().containsAll(selector.entrySet());
    }

    /**
     * The effective mTLS mode of a workload and the policy that set it.
     *
     * @param mode STRICT or PERMISSIVE (never UNSET)
     * @param policy {@code namespace/name} of the deciding policy, or {@code null} for the default
     */
    public record EffectiveMode(Mode mode, String policy) {}

    /**
     * The most specific PeerAuthentication wins: one selecting the workload by labels in its namespace,
     * then the namespace-wide one, then the mesh-wide one in the root namespace; UNSET falls through to the
     * next level; the default is PERMISSIVE. Several at one level: the first by name. Invalid ones
     * ({@code policy == null}) count as STRICT at their level (they never open a workload to plaintext).
     */
    public static EffectiveMode peerAuthentication(Workload w, List<Translation<PeerAuthentication>> all) {
        requireNonNull(w, "w");
        List<Translation<PeerAuthentication>> sorted = all.stream()
                .sorted(Comparator.comparing(Translation::name)).toList();
        for (int level = 0; level < 3; level++) {
            for (Translation<PeerAuthentication> t : sorted) {
                if (level(t, w) != level) {
                    continue;
                }
                Mode m = t.valid() ? t.policy().mode() : Mode.STRICT;
                if (m != Mode.UNSET) {
                    return new EffectiveMode(m, t.key());
                }
            }
        }
        return new EffectiveMode(Mode.PERMISSIVE, null);
    }

    /** 0 workload, 1 namespace, 2 mesh, -1 not applicable. */
    private static int level(Translation<PeerAuthentication> t, Workload w) {
        boolean root = ROOT_NAMESPACE.equals(t.namespace());
        if (t.selector() != null) {
            return t.namespace().equals(w.namespace()) && selects(t.namespace(), t.selector(), w) ? 0 : -1;
        }
        if (t.namespace().equals(w.namespace()) && !root) {
            return 1;
        }
        return root ? 2 : -1;
    }
}
