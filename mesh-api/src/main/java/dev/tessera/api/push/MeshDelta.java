package dev.tessera.api.push;

import static java.util.Objects.requireNonNull;

import dev.tessera.api.model.MeshSnapshot;
import dev.tessera.api.model.NodeInfo;
import dev.tessera.api.model.Service;
import dev.tessera.api.model.Workload;
import dev.tessera.api.policy.AuthorizationPolicy;
import dev.tessera.api.policy.PeerAuthentication;
import dev.tessera.api.policy.PolicySet;
import dev.tessera.api.policy.Translation;
import dev.tessera.api.push.MeshConfig;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * The changes between two {@link MeshConfig}s, by key: nodes by name, workloads, services and policies by
 * {@code namespace/name}. Each kind has upserts (new or changed objects, whole) and removals (keys).
 * {@link #apply} on the {@code from} configuration gives exactly the {@code to} one (policies come out
 * ordered by key).
 */
public record MeshDelta(long fromVersion, long toVersion,
        List<NodeInfo> nodes, List<String> removedNodes,
        List<Workload> workloads, List<String> removedWorkloads,
        List<Service> services, List<String> removedServices,
        List<Translation<AuthorizationPolicy>> authorizationPolicies, List<String> removedAuthorizationPolicies,
        List<Translation<PeerAuthentication>> peerAuthentications, List<String> removedPeerAuthentications) {

    public MeshDelta {
        nodes = List.copyOf(nodes);
        removedNodes = List.copyOf(removedNodes);
        workloads = List.copyOf(workloads);
        removedWorkloads = List.copyOf(removedWorkloads);
        services = List.copyOf(services);
        removedServices = List.copyOf(removedServices);
        authorizationPolicies = List.copyOf(authorizationPolicies);
        removedAuthorizationPolicies = List.copyOf(removedAuthorizationPolicies);
        peerAuthentications = List.copyOf(peerAuthentications);
        removedPeerAuthentications = List.copyOf(removedPeerAuthentications);
    }

    /** What changed from {@code from} to {@code to}. */
    public static MeshDelta diff(MeshConfig from, MeshConfig to) {
        requireNonNull(from, "from");
        requireNonNull(to, "to");
        var n = Diff.of(from.mesh().nodes().values(), to.mesh().nodes().values(), NodeInfo::name);
        // workloads and services through the snapshots' own indexes: no map of the whole mesh built, no key
        // string built per object
        var w = Diff.of(from.mesh().workloadsByKey(), to.mesh().workloadsByKey());
        var s = Diff.of(from.mesh().servicesByKey(), to.mesh().servicesByKey());
        var ap = Diff.of(from.policies().authorizationPolicies(), to.policies().authorizationPolicies(), Translation::key);
        var pa = Diff.of(from.policies().peerAuthentications(), to.policies().peerAuthentications(), Translation::key);
        return new MeshDelta(from.version(), to.version(), n.upserts, n.removals, w.upserts, w.removals,
                s.upserts, s.removals, ap.upserts, ap.removals, pa.upserts, pa.removals);
    }

    /**
     * The configuration this delta leads to from {@code base}.
     *
     * @throws IllegalArgumentException if {@code base} is not at {@link #fromVersion()}, or the result breaks
     *     a model rule (e.g. two workloads with one IP)
     */
    public MeshConfig apply(MeshConfig base) {
        requireNonNull(base, "base");
        if (base.version() != fromVersion) {
            throw new IllegalArgumentException("delta: from version " + fromVersion + " (expected: the applied version "
                    + base.version() + ")");
        }
        // the mesh patched in place of a copy of its indexes: the whole state is not rebuilt for one pod's change
        MeshSnapshot mesh = base.mesh().patch(toVersion, nodes, removedNodes, workloads, removedWorkloads, services,
                removedServices);
        var ap = patch(base.policies().authorizationPolicies(), Translation::key, authorizationPolicies,
                removedAuthorizationPolicies);
        var pa = patch(base.policies().peerAuthentications(), Translation::key, peerAuthentications,
                removedPeerAuthentications);
        ap.sort(Comparator.comparing(Translation::key));
        pa.sort(Comparator.comparing(Translation::key));
        return new MeshConfig(toVersion, mesh, new PolicySet(toVersion, ap, pa));
    }

    /** No object changed (only the version moves). */
    public boolean isEmpty() {
        return nodes.isEmpty() && removedNodes.isEmpty() && workloads.isEmpty() && removedWorkloads.isEmpty()
                && services.isEmpty() && removedServices.isEmpty() && authorizationPolicies.isEmpty()
                && removedAuthorizationPolicies.isEmpty() && peerAuthentications.isEmpty()
                && removedPeerAuthentications.isEmpty();
    }

    /** How many objects it upserts or removes. */
    public int size() {
        return nodes.size() + removedNodes.size() + workloads.size() + removedWorkloads.size() + services.size()
                + removedServices.size() + authorizationPolicies.size() + removedAuthorizationPolicies.size()
                + peerAuthentications.size() + removedPeerAuthentications.size();
    }

    private static <T> List<T> patch(Collection<T> base, Function<T, String> key, List<T> upserts, List<String> removals) {
        var byKey = new LinkedHashMap<String, T>();
        base.forEach(t -> byKey.put(key.apply(t), t));
        removals.forEach(byKey::remove);
        upserts.forEach(t -> byKey.put(key.apply(t), t));
        return new ArrayList<>(byKey.values());
    }

    private record Diff<T>(List<T> upserts, List<String> removals) {
        static <T> Diff<T> of(Collection<T> from, Collection<T> to, Function<T, String> key) {
            Map<String, T> old = new LinkedHashMap<>();
            from.forEach(t -> old.put(key.apply(t), t));
            var upserts = new ArrayList<T>();
            var seen = new java.util.HashSet<String>();
            for (T t : to) {
                String k = key.apply(t);
                seen.add(k);
                if (!t.equals(old.get(k))) {
                    upserts.add(t);
                }
            }
            var removals = new ArrayList<String>();
            old.keySet().forEach(k -> {
                if (!seen.contains(k)) {
                    removals.add(k);
                }
            });
            return new Diff<>(upserts, removals);
        }

        /**
         * As {@link #of(Collection, Collection, Function)} on two indexes by key: the same upserts and removals in
         * the same order, without building a key per object.
         */
        static <T> Diff<T> of(Map<String, T> from, Map<String, T> to) {
            var upserts = new ArrayList<T>();
            for (var e : to.entrySet()) {
                if (!e.getValue().equals(from.get(e.getKey()))) {
                    upserts.add(e.getValue());
                }
            }
            var removals = new ArrayList<String>();
            for (String k : from.keySet()) {
                if (!to.containsKey(k)) {
                    removals.add(k);
                }
            }
            return new Diff<>(upserts, removals);
        }
    }
}
