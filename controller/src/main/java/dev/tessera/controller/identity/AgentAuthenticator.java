package dev.tessera.controller.identity;

import static java.util.Objects.requireNonNull;

/**
 * Learns which node agent is calling, and so which node it runs on, from the bearer token it presents.
 * In a cluster that is {@link TokenReviewAuthenticator} (the agent's projected, audience-bound
 * service-account token checked by a TokenReview); in local mode {@link StaticTokenAuthenticator}.
 */
@FunctionalInterface
public interface AgentAuthenticator {

    /**
     * An authenticated agent.
     *
     * @param namespace the agent's service-account namespace
     * @param serviceAccount the agent's service account
     * @param node the node the agent's pod runs on
     */
    record Agent(String namespace, String serviceAccount, String node) {
        public Agent {
            requireNonNull(namespace, "namespace");
            requireNonNull(serviceAccount, "serviceAccount");
            requireNonNull(node, "node");
        }
    }

    /**
     * Authenticates {@code bearerToken}.
     *
     * @throws SvidRefusedException with {@link RefusalReason#TOKEN_MISSING}, {@link RefusalReason#TOKEN_INVALID},
     *     {@link RefusalReason#TOKEN_REVIEW_FAILED}, {@link RefusalReason#CALLER_NOT_AGENT} or
     *     {@link RefusalReason#CALLER_NODE_UNKNOWN}
     */
    Agent authenticate(String bearerToken) throws SvidRefusedException;
}
