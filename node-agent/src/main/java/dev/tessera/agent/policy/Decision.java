package dev.tessera.agent.policy;

import java.util.List;

/**
 * The authorizer's answer for one connection.
 *
 * @param allowed whether the connection may proceed
 * @param policy {@code namespace/name} of the policy that decided, or {@code null} (no policy, or the
 *     default deny of "an ALLOW policy exists but none of its rules matched")
 * @param rule index of the deciding rule in that policy, or {@code -1} (no rule: default, or an invalid
 *     policy enforced fail-closed)
 * @param reason a short human-readable explanation
 * @param audits {@code namespace/name#rule} of every AUDIT policy rule that matched
 */
public record Decision(boolean allowed, String policy, int rule, String reason, List<String> audits) {

    public Decision {
        audits = List.copyOf(audits);
    }

    /** The {@code decision} metric label: allow or deny. */
    public String label() {
        return allowed ? "allow" : "deny";
    }

    /** The {@code policy} metric label: the policy, or {@code none}. */
    public String policyLabel() {
        return policy == null ? "none" : policy;
    }

    @Override
    public String toString() {
        return label() + (policy == null ? "" : " by " + policy + (rule >= 0 ? " rule " + rule : "")) + ": " + reason;
    }
}
