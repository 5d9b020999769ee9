package dev.tessera.controller.identity;

import static java.util.Objects.requireNonNull;

import dev.tessera.controller.identity.AgentAuthenticator.Agent;

import io.fabric8.kubernetes.api.model.authentication.TokenReview;
import io.fabric8.kubernetes.api.model.authentication.TokenReviewBuilder;
import io.fabric8.kubernetes.api.model.authentication.TokenReviewStatus;
import io.fabric8.kubernetes.api.model.authentication.UserInfo;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Authenticates a node agent by its own service-account token with a TokenReview bound to the
 * controller's audience, and learns the node it runs on from the token's pod binding
 * ({@value #NODE_NAME_EXTRA}).
 */
public final class TokenReviewAuthenticator implements AgentAuthenticator {

    /** The TokenReview user-info extra that names the node of the pod a bound token belongs to. */
    public static final String NODE_NAME_EXTRA = "authentication.kubernetes.io/node-name";
    private static final String SA_PREFIX = "system:serviceaccount:";


    private final KubernetesClient client;
    private final String audience;
    private final Set<String> allowedAgents;

    /**
     * @param client the API client (it needs {@code create} on {@code tokenreviews})
     * @param audience the audience the agents' projected tokens are bound to
     * @param allowedAgents service accounts allowed to act as agents, as {@code namespace/name}; empty
     *     allows every service account (the node binding is still required)
     */
    public TokenReviewAuthenticator(KubernetesClient client, String audience, Set<String> allowedAgents) {
        this.client = requireNonNull(client, "client");
        this.audience = requireNonNull(audience, "audience");
        if (audience.isBlank()) {
            throw new IllegalArgumentException("audience: blank (expected: the controller's token audience)");
        }
        this.allowedAgents = Set.copyOf(requireNonNull(allowedAgents, "allowedAgents"));
    }

    /** Reviews a bearer token; refuses unless it is a valid, node-bound token of an allowed agent. */
    @Override
    public Agent authenticate(String bearerToken) throws SvidRefusedException {
        if (bearerToken == null || bearerToken.isBlank()) {
            throw new SvidRefusedException(RefusalReason.TOKEN_MISSING, "no bearer token (expected: the agent's "
                    + "service-account token for audience " + audience + ")");
        }
        TokenReview review = new TokenReviewBuilder()
                .withNewSpec().withToken(bearerToken).withAudiences(audience).endSpec().build();
        TokenReview result;
        try {
            result = client.authentication().v1().tokenReviews().create(review);
        } catch (KubernetesClientException e) {
            throw new SvidRefusedException(RefusalReason.TOKEN_REVIEW_FAILED,
                    "TokenReview failed: HTTP " + e.getCode() + " " + e.getMessage(), e);
        }
        TokenReviewStatus status = result == null ? null : result.getStatus();
        if (status == null || !Boolean.TRUE.equals(status.getAuthenticated())) {
            String error = status == null || status.getError() == null ? "not authenticated" : status.getError();
            throw new SvidRefusedException(RefusalReason.TOKEN_INVALID, "token rejected by TokenReview: " + error);
        }
        if (status.getAudiences() != null && !status.getAudiences().isEmpty() && !status.getAudiences().contains(audience)) {
            throw new SvidRefusedException(RefusalReason.TOKEN_INVALID, "token audiences " + status.getAudiences()
                    + " (expected: " + audience + ")");
        }
        UserInfo user = status.getUser();
        String username = user == null ? null : user.getUsername();
        if (username == null || !username.startsWith(SA_PREFIX) || username.split(":").length != 4) {
            throw new SvidRefusedException(RefusalReason.CALLER_NOT_AGENT, "user " + username
                    + " (expected: system:serviceaccount:<namespace>:<name>)");
        }
        String[] parts = username.split(":");
        String namespace = parts[2];
        String sa = parts[3];
        if (!allowedAgents.isEmpty() && !allowedAgents.contains(namespace + "/" + sa)) {
            throw new SvidRefusedException(RefusalReason.CALLER_NOT_AGENT, "service account " + namespace + "/" + sa
                    + " (expected: one of " + allowedAgents + ")");
        }
        Map<String, List<String>> extra = user.getExtra() == null ? Map.of() : user.getExtra();
        List<String> nodes = extra.get(NODE_NAME_EXTRA);
        if (nodes == null || nodes.size() != 1 || nodes.get(0) == null || nodes.get(0).isBlank()) {
            throw new SvidRefusedException(RefusalReason.CALLER_NODE_UNKNOWN, "token of " + namespace + "/" + sa
                    + " has no " + NODE_NAME_EXTRA + " (expected: a projected token bound to the agent's pod)");
        }
        return new Agent(namespace, sa, nodes.get(0));
    }
}
