package dev.tessera.api.policy;


import static java.util.Objects.requireNonNull;

import dev.tessera.api.net.IpCidr;
import java.util.List;
import java.util.Map;

/**
 * An L4 {@code AuthorizationPolicy} ({@code security.tessera.dev/v1alpha1}), Istio's L4 subset, after
 * validation by the controller's translation of the Kubernetes objects ({@code dev.tessera.kube.policy.PolicyTranslator}). Immutable.
 *
 * <p>Scope: {@code selector == null} selects every workload of {@code namespace}, or every workload of the
 * mesh when {@code namespace} is the root namespace ({@link PolicyScope#ROOT_NAMESPACE}); a selector
 * selects the workloads of {@code namespace} (of every namespace, in the root namespace) whose labels
 * contain all of it.
 *
 * <p>Rule semantics (Istio's): a rule matches when any of its {@code from} entries and any of its
 * {@code to} entries match (an empty list matches everything); inside one entry every field that is set
 * must match (AND), and a field matches when any of its values does (OR); the {@code not*} forms match when
 * none of their values does. A policy with no rules matches nothing (so an ALLOW policy without rules
 * denies every connection to the workloads it selects).
 *
 * @param namespace metadata.namespace
 * @param name metadata.name
 * @param selector spec.selector.matchLabels, or {@code null} for the whole namespace (or mesh)
 * @param action spec.action (default ALLOW)
 * @param rules spec.rules
 */
public record AuthorizationPolicy(String namespace, String name, Map<String, String> selector, Action action,
        List<Rule> rules) {

    /** What a matching rule does. */
    public enum Action {
        /** Connections matching a rule are allowed; once any ALLOW policy selects a workload, others are denied. */
        ALLOW,
        /** Connections matching a rule are denied (evaluated before ALLOW). */
        DENY,
        /** Connections matching a rule are logged; the decision is unchanged. */
        AUDIT
    }

    public AuthorizationPolicy {
        requireNonNull(namespace, "namespace");
        requireNonNull(name, "name");
        selector = selector == null ? null : Map.copyOf(selector);
        requireNonNull(action, "action");
        rules = List.copyOf(requireNonNull(rules, "rules"));
    }

    /** {@code namespace/name}, how decisions and logs name the policy. */
    public String key() {
        return namespace + "/" + name;
    }

    /**
     * One rule.
     *
     * @param from sources, any of which may match (empty: any source)
     * @param to operations, any of which may match (empty: any port)
     */
    public record Rule(List<Source> from, List<Operation> to) {
        public Rule {
            from = List.copyOf(requireNonNull(from, "from"));
            to = List.copyOf(requireNonNull(to, "to"));
        }
    }

    /**
     * {@code from[].source}: each non-empty list must match. Principals are SPIFFE identities without the
     * {@code spiffe://} scheme ({@code cluster.local/ns/N/sa/S}), with {@code *} alone, as a prefix or as a
     * suffix as wildcard; namespaces are the source identity's namespace (same wildcards); ip blocks (IPv4 or
     * IPv6 networks) are matched against the source address the destination agent sees, each against
     * addresses of its own family only (an IPv4-mapped address counts as IPv4, see {@link IpCidr#contains}).
     */
    public record Source(List<String> principals, List<String> notPrincipals, List<String> namespaces,
            List<String> notNamespaces, List<IpCidr> ipBlocks, List<IpCidr> notIpBlocks) {
        public Source {
            principals = List.copyOf(principals);
            notPrincipals = List.copyOf(notPrincipals);
            namespaces = List.copyOf(namespaces);
            notNamespaces = List.copyOf(notNamespaces);
            ipBlocks = List.copyOf(ipBlocks);
            notIpBlocks = List.copyOf(notIpBlocks);
        }
    }

    /** {@code to[].operation}: destination ports (1-65535); each non-empty list must match. */
    public record Operation(List<Integer> ports, List<Integer> notPorts) {
        public Operation {
            ports = List.copyOf(ports);
            notPorts = List.copyOf(notPorts);
        }
    }
}
