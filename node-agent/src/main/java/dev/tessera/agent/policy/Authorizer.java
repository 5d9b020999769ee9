package dev.tessera.agent.policy;

import static java.util.Objects.requireNonNull;

import dev.tessera.api.net.IpCidr;
import dev.tessera.api.policy.AuthorizationPolicy.Action;
import dev.tessera.api.policy.AuthorizationPolicy.Operation;
import dev.tessera.api.policy.AuthorizationPolicy.Rule;
import dev.tessera.api.policy.AuthorizationPolicy.Source;
import dev.tessera.api.policy.AuthorizationPolicy;
import dev.tessera.api.policy.PolicyScope;
import dev.tessera.api.policy.PolicySet;
import dev.tessera.api.policy.Translation;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * The L4 authorizer: a pure function of the policies and one connection. Order (Istio's):
 * <ol>
 *   <li>AUDIT policies whose rules match are recorded; they never change the decision.</li>
 *   <li>DENY: a matching rule of a DENY policy denies. An invalid DENY policy (or an invalid policy whose
 *       action cannot be read) denies everything it selects (fail closed).</li>
 *   <li>ALLOW: if no ALLOW policy selects the workload, the connection is allowed. Otherwise a matching
 *       rule of a valid ALLOW policy allows, and anything else is denied. An invalid ALLOW policy still
 *       counts as "an ALLOW policy selects this workload" but none of its rules can match, so it only
 *       ever narrows access.</li>
 * </ol>
 * Invalid policies whose selector cannot be read select their whole namespace (mesh, in the root
 * namespace). Policies are evaluated in {@code namespace/name} order, rules in order; the first match
 * names the decision.
 */
public final class Authorizer {

    private Authorizer() {}

    /** Decides whether {@code request} may proceed under {@code policies}. */
    public static Decision authorize(PolicySet policies, AuthorizationRequest request) {
        requireNonNull(policies, "policies");
        requireNonNull(request, "request");
        List<Translation<AuthorizationPolicy>> selected = policies.authorizationPolicies().stream()
                .filter(t -> PolicyScope.selects(t.namespace(), t.selector(), request.destination()))
                .sorted(Comparator.comparing(Translation::key))
                .toList();
        var audits = new ArrayList<String>();
        for (var t : selected) {
            if (t.valid() && t.policy().action() == Action.AUDIT) {
                int r = firstMatch(t.policy(), request);
                if (r >= 0) {
                    audits.add(t.key() + "#" + r);
                }
            }
        }
        for (var t : selected) {
            if (!t.valid() && t.action() == Action.DENY) {
                return new Decision(false, t.key(), -1, "invalid DENY policy denies everything it selects (fail closed): "
                        + t.errors().get(0), audits);
            }
            if (t.valid() && t.policy().action() == Action.DENY) {
                int r = firstMatch(t.policy(), request);
                if (r >= 0) {
                    return new Decision(false, t.key(), r, "matched a DENY rule", audits);
                }
            }
        }
        boolean anyAllow = false;
        for (var t : selected) {
            if (t.action() != Action.ALLOW) {
                continue;
            }
            anyAllow = true;
            if (t.valid()) {
                int r = firstMatch(t.policy(), request);
                if (r >= 0) {
                    return new Decision(true, t.key(), r, "matched an ALLOW rule", audits);
                }
            }
        }
        if (anyAllow) {
            return new Decision(false, null, -1, "ALLOW policies select the workload but no ALLOW rule matched", audits);
        }
        return new Decision(true, null, -1, "no ALLOW policy selects the workload", audits);
    }

    /** Index of the first matching rule, or -1. */
    static int firstMatch(AuthorizationPolicy p, AuthorizationRequest req) {
        List<Rule> rules = p.rules();
        for (int i = 0; i < rules.size(); i++) {
            if (matches(rules.get(i), req)) {
                return i;
            }
        }
        return -1;
    }

    static boolean matches(Rule rule, AuthorizationRequest req) {
        boolean from = rule.from().isEmpty() || rule.from().stream().anyMatch(s -> matches(s, req));
        boolean to = rule.to().isEmpty() || rule.to().stream().anyMatch(o -> matches(o, req.port()));
        return from && to;
    }

    static boolean matches(Source s, AuthorizationRequest req) {
        String principal = req.principal();
        String ns = req.sourceIdentity() == null ? null : req.sourceIdentity().namespace();
        InetAddress ip = req.sourceIp();
        return (s.principals().isEmpty() || anyPattern(s.principals(), principal))
                && (s.notPrincipals().isEmpty() || !anyPattern(s.notPrincipals(), principal))
                && (s.namespaces().isEmpty() || anyPattern(s.namespaces(), ns))
                && (s.notNamespaces().isEmpty() || !anyPattern(s.notNamespaces(), ns))
                && (s.ipBlocks().isEmpty() || anyBlock(s.ipBlocks(), ip))
                && (s.notIpBlocks().isEmpty() || !anyBlock(s.notIpBlocks(), ip));
    }

    static boolean matches(Operation o, int port) {
        return (o.ports().isEmpty() || o.ports().contains(port)) && (o.notPorts().isEmpty() || !o.notPorts().contains(port));
    }

    /** Istio's string match: exact, {@code *} (any present value), {@code prefix*} or {@code *suffix}. */
    static boolean patternMatches(String pattern, String value) {
        if (value == null) {
            return false;
        }
        if (pattern.equals("*")) {
            return true;
        }
        if (pattern.endsWith("*")) {
            return value.startsWith(pattern.substring(0, pattern.length() - 1));
        }
        if (pattern.startsWith("*")) {
            return value.endsWith(pattern.substring(1));
        }
        return pattern.equals(value);
    }

    private static boolean anyPattern(List<String> patterns, String value) {
        return patterns.stream().anyMatch(p -> patternMatches(p, value));
    }

    /** Whether a block holds {@code ip}; blocks of the other family never do (IPv4-mapped counts as IPv4). */
    private static boolean anyBlock(List<IpCidr> blocks, InetAddress ip) {
        return blocks.stream().anyMatch(b -> b.contains(ip));
    }
}
