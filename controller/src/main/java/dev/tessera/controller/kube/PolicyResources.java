package dev.tessera.controller.kube;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.MixedOperation;
import io.fabric8.kubernetes.client.dsl.Resource;
import io.fabric8.kubernetes.api.model.GenericKubernetesResourceList;
import io.fabric8.kubernetes.client.dsl.base.ResourceDefinitionContext;
import java.util.List;

/**
 * The policy CRDs of group {@value #GROUP}, version {@value #VERSION}, addressed as generic resources
 * with explicit plurals (no API discovery round trip). See {@code daemonset/crds/}.
 */
public final class PolicyResources {

    /** The CRD group. */
    public static final String GROUP = "security.tessera.dev";
    /** The served version. */
    public static final String VERSION = "v1alpha1";

    /** {@code AuthorizationPolicy} / {@code authorizationpolicies}. */
    public static final ResourceDefinitionContext AUTHORIZATION_POLICY = context("AuthorizationPolicy", "authorizationpolicies");
    /** {@code PeerAuthentication} / {@code peerauthentications}. */
    public static final ResourceDefinitionContext PEER_AUTHENTICATION = context("PeerAuthentication", "peerauthentications");

    /** Both kinds. */
    public static final List<ResourceDefinitionContext> ALL = List.of(AUTHORIZATION_POLICY, PEER_AUTHENTICATION);

    private PolicyResources() {}

    /** The operations on one policy kind. */
    public static MixedOperation<GenericKubernetesResource, GenericKubernetesResourceList, Resource<GenericKubernetesResource>>
            of(KubernetesClient client, ResourceDefinitionContext kind) {
        return client.genericKubernetesResources(kind);
    }

    /** The context of a kind name ({@code AuthorizationPolicy} or {@code PeerAuthentication}). */
    public static ResourceDefinitionContext forKind(String kind) {
        return ALL.stream().filter(c -> c.getKind().equals(kind)).findFirst()
                .orElseThrow(() -> new IllegalArgumentException("kind: " + kind
                        + " (expected: AuthorizationPolicy or PeerAuthentication)"));
    }

    private static ResourceDefinitionContext context(String kind, String plural) {
        return new ResourceDefinitionContext.Builder().withGroup(GROUP).withVersion(VERSION).withKind(kind)
                .withPlural(plural).withNamespaced(true).build();
    }
}
