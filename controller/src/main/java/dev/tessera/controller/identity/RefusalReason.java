package dev.tessera.controller.identity;

/** Why the controller refused to sign a workload certificate; each is counted separately. */
public enum RefusalReason {
    /** No bearer token was presented. */
    TOKEN_MISSING,
    /** The TokenReview did not authenticate the token (invalid, expired or wrong audience). */
    TOKEN_INVALID,
    /** The TokenReview itself could not be performed (API server unreachable or refusing). */
    TOKEN_REVIEW_FAILED,
    /** The token belongs to no service account, or to one that is not an allowed agent. */
    CALLER_NOT_AGENT,
    /** The token is not bound to a pod on a node (no {@code authentication.kubernetes.io/node-name}). */
    CALLER_NODE_UNKNOWN,
    /** The requested identity is of another trust domain. */
    WRONG_TRUST_DOMAIN,
    /** The requested identity's namespace has no running meshed pod (missing, not labelled, or empty). */
    NAMESPACE_NOT_ENROLLED,
    /** No running, meshed pod with that service account is scheduled on the caller's node. */
    NO_POD_ON_NODE,
    /** The controller has no synced view of the cluster yet, so nothing can be authorized. */
    LOOKUP_FAILED,
    /** The CSR is malformed, its signature does not verify or its key is not EC P-256. */
    CSR_INVALID
}
