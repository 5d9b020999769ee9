package dev.tessera.kube.policy;

import static java.util.Objects.requireNonNull;

import dev.tessera.api.net.IpCidr;
import dev.tessera.api.policy.AuthorizationPolicy.Action;
import dev.tessera.api.policy.AuthorizationPolicy.Operation;
import dev.tessera.api.policy.AuthorizationPolicy.Rule;
import dev.tessera.api.policy.AuthorizationPolicy.Source;
import dev.tessera.api.policy.AuthorizationPolicy;
import dev.tessera.api.policy.PeerAuthentication.Mode;
import dev.tessera.api.policy.PeerAuthentication;
import dev.tessera.api.policy.PolicySet;
import dev.tessera.api.policy.Translation;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.HasMetadata;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;

/**
 * Strict translation of the generic policy objects ({@link GenericKubernetesResource}, as the manifest
 * reader and informers give them) into {@link AuthorizationPolicy} and {@link PeerAuthentication}. Every
 * problem is reported as {@code <field path>: <value> (expected: <what>)}; unknown fields and Istio fields
 * Tessera does not enforce at L4 (when, hosts, methods, paths, requestPrincipals, remoteIpBlocks,
 * portLevelMtls) are errors, never silently ignored: ignoring a field could widen access.
 */
public final class PolicyTranslator {

    /** The API group/version of both kinds. */
    public static final String API_VERSION = "security.tessera.dev/v1alpha1";

    /** Translates the {@code AuthorizationPolicy} and {@code PeerAuthentication} objects among {@code objects}. */
    public static PolicySet translate(long version, Collection<? extends HasMetadata> objects) {
        requireNonNull(objects, "objects");
        var ap = new ArrayList<Translation<AuthorizationPolicy>>();
        var pa = new ArrayList<Translation<PeerAuthentication>>();
        for (HasMetadata o : objects) {
            if ("AuthorizationPolicy".equals(o.getKind())) {
                ap.add(authorizationPolicy(o));
            } else if ("PeerAuthentication".equals(o.getKind())) {
                pa.add(peerAuthentication(o));
            }
        }
        return new PolicySet(version, ap, pa);
    }

    private static final Set<String> AP_SPEC = Set.of("selector", "action", "rules");
    private static final Set<String> RULE = Set.of("from", "to");
    private static final Set<String> SOURCE = Set.of("principals", "notPrincipals", "namespaces", "notNamespaces",
            "ipBlocks", "notIpBlocks");
    private static final Set<String> OPERATION = Set.of("ports", "notPorts");
    private static final Set<String> PA_SPEC = Set.of("selector", "mtls");

    private PolicyTranslator() {}

    /** Translates an {@code AuthorizationPolicy} object. */
    public static Translation<AuthorizationPolicy> authorizationPolicy(HasMetadata object) {
        Ctx c = new Ctx(object, "AuthorizationPolicy");
        Map<String, Object> spec = c.spec();
        c.known(spec, "spec", AP_SPEC);
        Map<String, String> selector = c.selector(spec.get("selector"));
        Action action = Action.ALLOW;
        Object a = spec.get("action");
        boolean actionOk = true;
        if (a != null) {
            try {
                action = Action.valueOf(String.valueOf(a));
            } catch (IllegalArgumentException e) {
                c.error("spec.action", a, "ALLOW, DENY or AUDIT");
                actionOk = false;
            }
        }
        var rules = new ArrayList<Rule>();
        List<Object> rawRules = c.list(spec.get("rules"), "spec.rules");
        for (int i = 0; i < rawRules.size(); i++) {
            rules.add(rule(c, rawRules.get(i), "spec.rules[" + i + "]"));
        }
        if (!c.errors.isEmpty()) {
            return new Translation<>(c.kind, c.namespace, c.name, null, c.errors, c.selectorReadable ? selector : null,
                    actionOk ? action : Action.DENY);
        }
        return new Translation<>(c.kind, c.namespace, c.name,
                new AuthorizationPolicy(c.namespace, c.name, selector, action, rules), List.of(), selector, action);
    }

    /** Translates a {@code PeerAuthentication} object. */
    public static Translation<PeerAuthentication> peerAuthentication(HasMetadata object) {
        Ctx c = new Ctx(object, "PeerAuthentication");
        Map<String, Object> spec = c.spec();
        c.known(spec, "spec", PA_SPEC);
        Map<String, String> selector = c.selector(spec.get("selector"));
        Mode mode = Mode.UNSET;
        Map<String, Object> mtls = c.map(spec.get("mtls"), "spec.mtls");
        c.known(mtls, "spec.mtls", Set.of("mode"));
        Object m = mtls.get("mode");
        if (m != null) {
            try {
                mode = Mode.valueOf(String.valueOf(m));
            } catch (IllegalArgumentException e) {
                c.error("spec.mtls.mode", m, "STRICT, PERMISSIVE or UNSET");
            }
        }
        if (!c.errors.isEmpty()) {
            return new Translation<>(c.kind, c.namespace, c.name, null, c.errors, c.selectorReadable ? selector : null,
                    null);
        }
        return new Translation<>(c.kind, c.namespace, c.name,
                new PeerAuthentication(c.namespace, c.name, selector, mode), List.of(), selector, null);
    }

    private static Rule rule(Ctx c, Object raw, String path) {
        Map<String, Object> r = c.map(raw, path);
        c.known(r, path, RULE);
        var from = new ArrayList<Source>();
        List<Object> f = c.list(r.get("from"), path + ".from");
        for (int i = 0; i < f.size(); i++) {
            String p = path + ".from[" + i + "]";
            Map<String, Object> entry = c.map(f.get(i), p);
            c.known(entry, p, Set.of("source"));
            Map<String, Object> s = c.map(entry.get("source"), p + ".source");
            c.known(s, p + ".source", SOURCE);
            String sp = p + ".source.";
            from.add(new Source(
                    c.strings(s.get("principals"), sp + "principals", PolicyTranslator::principal),
                    c.strings(s.get("notPrincipals"), sp + "notPrincipals", PolicyTranslator::principal),
                    c.strings(s.get("namespaces"), sp + "namespaces", PolicyTranslator::pattern),
                    c.strings(s.get("notNamespaces"), sp + "notNamespaces", PolicyTranslator::pattern),
                    c.strings(s.get("ipBlocks"), sp + "ipBlocks", PolicyTranslator::cidr),
                    c.strings(s.get("notIpBlocks"), sp + "notIpBlocks", PolicyTranslator::cidr)));
        }
        var to = new ArrayList<Operation>();
        List<Object> t = c.list(r.get("to"), path + ".to");
        for (int i = 0; i < t.size(); i++) {
            String p = path + ".to[" + i + "]";
            Map<String, Object> entry = c.map(t.get(i), p);
            c.known(entry, p, Set.of("operation"));
            Map<String, Object> o = c.map(entry.get("operation"), p + ".operation");
            c.known(o, p + ".operation", OPERATION);
            to.add(new Operation(c.strings(o.get("ports"), p + ".operation.ports", PolicyTranslator::port),
                    c.strings(o.get("notPorts"), p + ".operation.notPorts", PolicyTranslator::port)));
        }
        return new Rule(from, to);
    }

    /** A principal: {@code td/ns/N/sa/S} (a leading {@code spiffe://} is dropped), wildcards as {@link #pattern}. */
    static String principal(String s) {
        String p = s.startsWith("spiffe://") ? s.substring("spiffe://".length()) : s;
        return pattern(p);
    }

    /** A non-empty value with at most one {@code *}, alone, at the start or at the end. */
    static String pattern(String s) {
        int star = s.indexOf('*');
        if (s.isEmpty() || s.chars().anyMatch(Character::isWhitespace)
                || star >= 0 && (s.indexOf('*', star + 1) >= 0 || star != 0 && star != s.length() - 1)) {
            throw new IllegalArgumentException("a non-empty value with '*' only alone, as prefix or as suffix");
        }
        return s;
    }

    /**
     * An ipBlock: an IPv4 or IPv6 network, or one address (/32, /128). Host bits must be zero; the message then
     * names the network that was probably meant.
     */
    static IpCidr cidr(String s) {
        try {
            return IpCidr.parse(s.contains("/") ? s : s + (s.contains(":") ? "/128" : "/32"));
        } catch (IllegalArgumentException e) {
            var meant = java.util.regex.Pattern.compile("e\\.g\\. (\\S+)\\)$").matcher(String.valueOf(e.getMessage()));
            throw new IllegalArgumentException("an IPv4 or IPv6 address or network, a.b.c.d/n (n 0-32) or x:x::x/n"
                    + " (n 0-128), host bits zero" + (meant.find() ? ", e.g. " + meant.group(1) : ""));
        }
    }

    static Integer port(String s) {
        try {
            int p = Integer.parseInt(s);
            if (p >= 1 && p <= 65535) {
                return p;
            }
        } catch (NumberFormatException ignored) {
            // reported below
        }
        throw new IllegalArgumentException("a port 1-65535");
    }

    /** Collects errors while walking one object. */
    private static final class Ctx {
        final String kind;
        final String namespace;
        final String name;
        final Map<String, Object> root;
        final List<String> errors = new ArrayList<>();
        boolean selectorReadable = true;

        Ctx(HasMetadata object, String kind) {
            requireNonNull(object, "object");
            this.kind = kind;
            String ns = object.getMetadata() == null ? null : object.getMetadata().getNamespace();
            this.namespace = ns == null || ns.isEmpty() ? "default" : ns;
            String n = object.getMetadata() == null ? null : object.getMetadata().getName();
            this.name = n == null ? "" : n;
            if (name.isEmpty()) {
                error("metadata.name", "", "a non-empty name");
            }
            if (!kind.equals(object.getKind())) {
                error("kind", object.getKind(), kind);
            }
            if (!API_VERSION.equals(object.getApiVersion())) {
                error("apiVersion", object.getApiVersion(), API_VERSION);
            }
            root = object instanceof GenericKubernetesResource g ? g.getAdditionalProperties() : Map.of();
        }

        Map<String, Object> spec() {
            return root.containsKey("spec") ? map(root.get("spec"), "spec") : Map.of();
        }

        void error(String path, Object value, String expected) {
            String v = value instanceof String s ? "'" + s + "'" : String.valueOf(value);
            errors.add(path + ": " + v + " (expected: " + expected + ")");
        }

        void known(Map<String, Object> m, String path, Set<String> fields) {
            for (String k : m.keySet()) {
                if (!fields.contains(k)) {
                    errors.add(path + "." + k + ": unknown or unsupported field (expected: one of "
                            + fields.stream().sorted().toList() + "; Tessera enforces Istio's L4 subset only)");
                }
            }
        }

        @SuppressWarnings("unchecked")
        Map<String, Object> map(Object o, String path) {
            if (o == null) {
                return Map.of();
            }
            if (o instanceof Map<?, ?> m) {
                return (Map<String, Object>) m;
            }
            error(path, o, "an object");
            return Map.of();
        }

        @SuppressWarnings("unchecked")
        List<Object> list(Object o, String path) {
            if (o == null) {
                return List.of();
            }
            if (o instanceof List<?> l) {
                return (List<Object>) l;
            }
            error(path, o, "a list");
            return List.of();
        }

        <T> List<T> strings(Object o, String path, Function<String, T> parse) {
            var out = new ArrayList<T>();
            List<Object> l = list(o, path);
            for (int i = 0; i < l.size(); i++) {
                Object v = l.get(i);
                if (!(v instanceof String) && !(v instanceof Integer)) {
                    error(path + "[" + i + "]", v, "a string");
                    continue;
                }
                try {
                    out.add(parse.apply(String.valueOf(v)));
                } catch (IllegalArgumentException e) {
                    error(path + "[" + i + "]", v, e.getMessage());
                }
            }
            return out;
        }

        Map<String, String> selector(Object raw) {
            int before = errors.size();
            Map<String, Object> sel = map(raw, "spec.selector");
            known(sel, "spec.selector", Set.of("matchLabels"));
            Map<String, Object> labels = map(sel.get("matchLabels"), "spec.selector.matchLabels");
            var out = new LinkedHashMap<String, String>();
            labels.forEach((k, v) -> {
                if (v instanceof String s) {
                    out.put(k, s);
                } else {
                    error("spec.selector.matchLabels." + k, v, "a string");
                }
            });
            selectorReadable = errors.size() == before;
            return out.isEmpty() ? null : out;
        }
    }

    /** {@code ALLOW}, {@code DENY} or {@code AUDIT} in lower case, for labels. */
    public static String label(Action action) {
        return action.name().toLowerCase(Locale.ROOT);
    }
}
