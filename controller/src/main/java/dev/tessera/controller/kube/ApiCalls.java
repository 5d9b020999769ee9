package dev.tessera.controller.kube;

import static java.util.Objects.requireNonNull;

import dev.tessera.controller.identity.TrustBundlePublisher;
import dev.tessera.controller.leader.Leadership;
import java.util.List;
import java.util.Set;

/**
 * Every Kubernetes API call the controller makes, in one place: what {@code daemonset/base/controller-rbac.yaml}
 * grants, no more and no less ({@code ApiCallsTest} fails on drift either way, and checks the real
 * controller code against this list through the requests a mock API server receives).
 *
 * <p>Cluster-wide calls go to a ClusterRole; calls in the controller's namespace to a Role, limited to
 * the named objects where Kubernetes allows it ({@code create} cannot be limited by name). The CA Secret
 * name is {@value #CA_SECRET} by default: a different {@code --ca-secret} needs the Role edited too.
 */
public final class ApiCalls {

    /** Where a call is allowed. */
    public enum Scope {
        /** Any namespace or cluster-scoped resource: the ClusterRole. */
        CLUSTER,
        /** The controller's own namespace only: the Role. */
        CONTROLLER_NAMESPACE
    }

    /**
     * One RBAC rule.
     *
     * @param group API group ({@code ""} for core)
     * @param resource resource, with {@code /subresource} when it is one
     * @param verbs verbs
     * @param scope where
     * @param resourceNames the only objects it applies to (empty: all)
     * @param why who makes the call
     */
    public record ApiCall(String group, String resource, Set<String> verbs, Scope scope, Set<String> resourceNames,
            String why) {
        public ApiCall {
            requireNonNull(group, "group");
            requireNonNull(resource, "resource");
            verbs = Set.copyOf(verbs);
            requireNonNull(scope, "scope");
            resourceNames = Set.copyOf(resourceNames);
            requireNonNull(why, "why");
        }
    }

    /** The default CA Secret. */
    public static final String CA_SECRET = "tessera-ca";

    private static final Set<String> LIST_WATCH = Set.of("list", "watch");

    /** Every call. */
    public static final List<ApiCall> ALL = List.of(
            new ApiCall("", "namespaces", LIST_WATCH, Scope.CLUSTER, Set.of(), "MeshWatcher: the opt-in label"),
            new ApiCall("", "nodes", LIST_WATCH, Scope.CLUSTER, Set.of(), "MeshWatcher: node addresses"),
            new ApiCall("", "pods", LIST_WATCH, Scope.CLUSTER, Set.of(), "MeshWatcher: workloads"),
            new ApiCall("", "services", LIST_WATCH, Scope.CLUSTER, Set.of(), "MeshWatcher: service VIPs and ports"),
            new ApiCall("discovery.k8s.io", "endpointslices", LIST_WATCH, Scope.CLUSTER, Set.of(),
                    "MeshWatcher: service endpoints"),
            new ApiCall(PolicyResources.GROUP, "authorizationpolicies", LIST_WATCH, Scope.CLUSTER, Set.of(),
                    "MeshWatcher: policies"),
            new ApiCall(PolicyResources.GROUP, "peerauthentications", LIST_WATCH, Scope.CLUSTER, Set.of(),
                    "MeshWatcher: policies"),
            new ApiCall(PolicyResources.GROUP, "authorizationpolicies/status", Set.of("update"), Scope.CLUSTER, Set.of(),
                    "PolicyStatusWriter (leader)"),
            new ApiCall(PolicyResources.GROUP, "peerauthentications/status", Set.of("update"), Scope.CLUSTER, Set.of(),
                    "PolicyStatusWriter (leader)"),
            new ApiCall("authentication.k8s.io", "tokenreviews", Set.of("create"), Scope.CLUSTER, Set.of(),
                    "TokenReviewAuthenticator: agents' tokens"),
            new ApiCall("", "secrets", Set.of("get"), Scope.CONTROLLER_NAMESPACE, Set.of(CA_SECRET),
                    "CaStore: load the CA"),
            new ApiCall("", "secrets", LIST_WATCH, Scope.CONTROLLER_NAMESPACE, Set.of(CA_SECRET),
                    "CaSecretRotations: watch the CA Secret (field selector metadata.name)"),
            new ApiCall("", "secrets", Set.of("update"), Scope.CONTROLLER_NAMESPACE, Set.of(CA_SECRET),
                    "CaSecretRotations: a generated new root on request (leader)"),
            new ApiCall("", "secrets", Set.of("create"), Scope.CONTROLLER_NAMESPACE, Set.of(),
                    "CaStore: store a generated CA (leader)"),
            new ApiCall("", "configmaps", Set.of("get", "update"), Scope.CONTROLLER_NAMESPACE,
                    Set.of(TrustBundlePublisher.CONFIG_MAP), "TrustBundlePublisher (leader)"),
            new ApiCall("", "configmaps", Set.of("create"), Scope.CONTROLLER_NAMESPACE, Set.of(),
                    "TrustBundlePublisher: first publication (leader)"),
            new ApiCall("coordination.k8s.io", "leases", Set.of("get", "patch"), Scope.CONTROLLER_NAMESPACE,
                    Set.of(Leadership.LEASE_NAME), "Leadership: renew and take over"),
            new ApiCall("coordination.k8s.io", "leases", Set.of("create"), Scope.CONTROLLER_NAMESPACE, Set.of(),
                    "Leadership: first election"));

    private ApiCalls() {}

    /**
     * Whether some call allows {@code verb} on {@code group/resource} in {@code namespace} ({@code null}:
     * cluster-scoped or all namespaces) for {@code name} ({@code null}: a collection).
     */
    public static boolean allows(String group, String resource, String verb, String namespace, String name,
            String controllerNamespace) {
        for (ApiCall c : ALL) {
            if (!c.group().equals(group) || !c.resource().equals(resource) || !c.verbs().contains(verb)) {
                continue;
            }
            if (c.scope() == Scope.CONTROLLER_NAMESPACE && !controllerNamespace.equals(namespace)) {
                continue;
            }
            if (!c.resourceNames().isEmpty() && (name == null || !c.resourceNames().contains(name))) {
                continue;
            }
            return true;
        }
        return false;
    }
}
