package dev.tessera.cli.kube;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Namespace;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.api.model.apps.DaemonSet;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code tessera uninstall}: deletes what {@code tessera install} creates, in the reverse of its order —
 * agents first (they stop taking new pods; capture stays pinned and fails closed), then the controller, its
 * RBAC and the namespace (with the CA Secret, trust-bundle ConfigMap and Lease the controller wrote there),
 * the CRDs last and only when asked (deleting a CRD deletes every policy of its kind). Idempotent: an object
 * already gone is reported as such. Refuses while namespaces are still enrolled, because their pods would lose
 * connectivity once no agent serves them.
 */
public final class Uninstall {

    /**
     * What happened to one object: DELETED now, ABSENT already, DELETING (deleted before and still finalizing,
     * e.g. a Terminating namespace: deleting it again would be refused), KEPT (a CRD without --crds), WOULD_DELETE
     * (dry run).
     */
    public enum Outcome { DELETED, ABSENT, DELETING, KEPT, WOULD_DELETE }

    /** One object's line. */
    public record Step(String kind, String namespace, String name, Outcome outcome) {}

    /** The enrollment label (the brief's opt-in). */
    public static final String DATAPLANE_MODE = "tessera.dev/dataplane-mode";

    private final KubeCluster cluster;

    public Uninstall(KubeCluster cluster) {
        this.cluster = cluster;
    }

    /** Namespaces still labelled for the mesh. */
    public List<String> enrolledNamespaces() {
        return cluster.client().namespaces().withLabel(DATAPLANE_MODE, "ambient").list().getItems().stream()
                .map(n -> n.getMetadata().getName()).sorted().toList();
    }

    /** The objects in deletion order: reverse install order, CRDs and the namespace moved last. */
    public List<HasMetadata> order() {
        List<HasMetadata> objects = new ArrayList<>(ClusterPreflight.installObjects(cluster.namespace()));
        java.util.Collections.reverse(objects);
        List<HasMetadata> out = new ArrayList<>();
        // the agents before anything they talk to
        objects.stream().filter(o -> o instanceof DaemonSet).forEach(out::add);
        objects.stream().filter(o -> !(o instanceof DaemonSet) && !(o instanceof Namespace)
                && !(o instanceof CustomResourceDefinition)).forEach(out::add);
        objects.stream().filter(o -> o instanceof Namespace).forEach(out::add);
        objects.stream().filter(o -> o instanceof CustomResourceDefinition).forEach(out::add);
        return out;
    }

    /**
     * Deletes (or with {@code dryRun} only lists) every object.
     *
     * @param crds also delete the CRDs (and with them every AuthorizationPolicy and PeerAuthentication)
     */
    public List<Step> run(boolean crds, boolean dryRun) {
        List<Step> steps = new ArrayList<>();
        for (HasMetadata o : order()) {
            String kind = o.getKind();
            String ns = o.getMetadata().getNamespace();
            String name = o.getMetadata().getName();
            var resource = cluster.client().resource(o);
            HasMetadata live;
            try {
                live = resource.get();
            } catch (KubernetesClientException e) {
                throw new IllegalStateException(kind + " " + name + ": " + KubeCluster.message(e), e);
            }
            boolean exists = live != null;
            Outcome outcome;
            if (o instanceof CustomResourceDefinition && !crds) {
                outcome = exists ? Outcome.KEPT : Outcome.ABSENT;
            } else if (!exists) {
                outcome = Outcome.ABSENT;
            } else if (live.getMetadata().getDeletionTimestamp() != null) {
                outcome = Outcome.DELETING;
            } else if (dryRun) {
                outcome = Outcome.WOULD_DELETE;
            } else {
                try {
                    resource.delete();
                } catch (KubernetesClientException e) {
                    throw new IllegalStateException("delete " + kind + " " + (ns == null ? "" : ns + "/") + name + ": "
                            + KubeCluster.message(e) + " (deleted so far: " + steps.stream()
                            .filter(s -> s.outcome() == Outcome.DELETED).count() + "; re-run when fixed)", e);
                }
                outcome = Outcome.DELETED;
            }
            steps.add(new Step(kind, ns, name, outcome));
        }
        return steps;
    }
}
