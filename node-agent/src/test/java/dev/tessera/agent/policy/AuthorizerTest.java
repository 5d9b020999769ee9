package dev.tessera.agent.policy;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import dev.tessera.api.identity.SpiffeId;
import dev.tessera.api.model.Workload;
import dev.tessera.api.policy.PolicySet;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** The authorizer as a table: policies, one connection, the expected decision and who decided it. */
class AuthorizerTest {

    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());

    /** Destination: shop/api (labels app=api, tier=backend) on port 8080 unless a case says otherwise. */
    private static final Workload API = workload("shop", "api", Map.of("app", "api", "tier", "backend"));
    private static final Workload DB = workload("shop", "db", Map.of("app", "db"));
    private static final Workload OTHER_NS = workload("blog", "web", Map.of("app", "api"));

    private static final SpiffeId FRONT = new SpiffeId("cluster.local", "shop", "frontend");
    private static final SpiffeId ADMIN = new SpiffeId("cluster.local", "ops", "admin");
    private static final SpiffeId FOREIGN = new SpiffeId("other.domain", "shop", "frontend");

    static Stream<Arguments> cases() {
        var c = new ArrayList<Arguments>();
        // --- no policy / scope
        c.add(row("no policy allows", List.of(), API, FRONT, "198.18.1.2", 8080, true, null, -1));
        c.add(row("policy of another namespace does not apply",
                List.of(ap("blog", "deny-all", "action: DENY\nrules: [{}]")), API, FRONT, "198.18.1.2", 8080, true, null, -1));
        c.add(row("namespace-wide DENY applies", List.of(ap("shop", "deny-all", "action: DENY\nrules: [{}]")),
                API, FRONT, "198.18.1.2", 8080, false, "shop/deny-all", 0));
        c.add(row("mesh-wide DENY in root namespace", List.of(ap("tessera-system", "deny-all", "action: DENY\nrules: [{}]")),
                OTHER_NS, FRONT, "198.18.1.2", 8080, false, "tessera-system/deny-all", 0));
        c.add(row("selector matches labels", List.of(ap("shop", "deny-api",
                "selector: {matchLabels: {app: api}}\naction: DENY\nrules: [{}]")), API, FRONT, "198.18.1.2", 8080,
                false, "shop/deny-api", 0));
        c.add(row("selector needs all labels", List.of(ap("shop", "deny", "selector: {matchLabels: {app: api, tier: front}}\n"
                + "action: DENY\nrules: [{}]")), API, FRONT, "198.18.1.2", 8080, true, null, -1));
        c.add(row("selector does not select other workload", List.of(ap("shop", "deny-api",
                "selector: {matchLabels: {app: api}}\naction: DENY\nrules: [{}]")), DB, FRONT, "198.18.1.2", 8080, true, null, -1));
        c.add(row("root-namespace selector applies in every namespace", List.of(ap("tessera-system", "deny-api",
                "selector: {matchLabels: {app: api}}\naction: DENY\nrules: [{}]")), OTHER_NS, FRONT, "198.18.1.2", 8080,
                false, "tessera-system/deny-api", 0));
        // --- ALLOW semantics
        c.add(row("ALLOW without rules denies everything", List.of(ap("shop", "allow-nothing", "action: ALLOW")),
                API, FRONT, "198.18.1.2", 8080, false, null, -1));
        c.add(row("ALLOW with empty rule allows all", List.of(ap("shop", "allow-all", "rules: [{}]")),
                API, FRONT, "198.18.1.2", 8080, true, "shop/allow-all", 0));
        c.add(row("ALLOW principal exact", List.of(ap("shop", "p", principals("cluster.local/ns/shop/sa/frontend"))),
                API, FRONT, "198.18.1.2", 8080, true, "shop/p", 0));
        c.add(row("ALLOW principal with spiffe:// prefix", List.of(ap("shop", "p",
                principals("spiffe://cluster.local/ns/shop/sa/frontend"))), API, FRONT, "198.18.1.2", 8080, true, "shop/p", 0));
        c.add(row("ALLOW principal mismatch denies", List.of(ap("shop", "p", principals("cluster.local/ns/shop/sa/other"))),
                API, FRONT, "198.18.1.2", 8080, false, null, -1));
        c.add(row("principal prefix wildcard", List.of(ap("shop", "p", principals("cluster.local/ns/shop/*"))),
                API, FRONT, "198.18.1.2", 8080, true, "shop/p", 0));
        c.add(row("principal prefix wildcard mismatch", List.of(ap("shop", "p", principals("cluster.local/ns/ops/*"))),
                API, FRONT, "198.18.1.2", 8080, false, null, -1));
        c.add(row("principal suffix wildcard", List.of(ap("shop", "p", principals("*/sa/frontend"))),
                API, FOREIGN, "198.18.1.2", 8080, true, "shop/p", 0));
        c.add(row("principal suffix wildcard mismatch", List.of(ap("shop", "p", principals("*/sa/admin"))),
                API, FRONT, "198.18.1.2", 8080, false, null, -1));
        c.add(row("principal * matches any identity", List.of(ap("shop", "p", principals("*"))),
                API, ADMIN, "198.18.1.2", 8080, true, "shop/p", 0));
        c.add(row("principal * needs an identity", List.of(ap("shop", "p", principals("*"))),
                API, null, "198.18.1.2", 8080, false, null, -1));
        c.add(row("trust domain is part of the principal", List.of(ap("shop", "p",
                principals("cluster.local/ns/shop/sa/frontend"))), API, FOREIGN, "198.18.1.2", 8080, false, null, -1));
        c.add(row("notPrincipals excludes", List.of(ap("shop", "p", source("notPrincipals: [\"cluster.local/ns/ops/*\"]"))),
                API, ADMIN, "198.18.1.2", 8080, false, null, -1));
        c.add(row("notPrincipals lets others in", List.of(ap("shop", "p", source("notPrincipals: [\"cluster.local/ns/ops/*\"]"))),
                API, FRONT, "198.18.1.2", 8080, true, "shop/p", 0));
        c.add(row("namespaces match", List.of(ap("shop", "p", source("namespaces: [ops]"))),
                API, ADMIN, "198.18.1.2", 8080, true, "shop/p", 0));
        c.add(row("namespaces mismatch", List.of(ap("shop", "p", source("namespaces: [ops]"))),
                API, FRONT, "198.18.1.2", 8080, false, null, -1));
        c.add(row("namespaces wildcard", List.of(ap("shop", "p", source("namespaces: [\"sh*\"]"))),
                API, FRONT, "198.18.1.2", 8080, true, "shop/p", 0));
        c.add(row("notNamespaces excludes", List.of(ap("shop", "p", source("notNamespaces: [ops]"))),
                API, ADMIN, "198.18.1.2", 8080, false, null, -1));
        c.add(row("ipBlocks CIDR match", List.of(ap("shop", "p", source("ipBlocks: [198.18.1.0/24]"))),
                API, FRONT, "198.18.1.7", 8080, true, "shop/p", 0));
        c.add(row("ipBlocks CIDR mismatch", List.of(ap("shop", "p", source("ipBlocks: [198.18.1.0/24]"))),
                API, FRONT, "198.18.2.7", 8080, false, null, -1));
        c.add(row("ipBlocks single address", List.of(ap("shop", "p", source("ipBlocks: [198.18.2.7]"))),
                API, FRONT, "198.18.2.7", 8080, true, "shop/p", 0));
        c.add(row("notIpBlocks excludes", List.of(ap("shop", "p", source("notIpBlocks: [198.18.2.0/24]"))),
                API, FRONT, "198.18.2.7", 8080, false, null, -1));
        c.add(row("source fields are ANDed", List.of(ap("shop", "p",
                source("namespaces: [shop]\n        ipBlocks: [198.18.1.0/24]"))), API, FRONT, "198.18.2.7", 8080, false, null, -1));
        c.add(row("from entries are ORed", List.of(ap("shop", "p", "rules:\n- from:\n  - source: {namespaces: [ops]}\n"
                + "  - source: {ipBlocks: [198.18.2.0/24]}")), API, FRONT, "198.18.2.7", 8080, true, "shop/p", 0));
        // --- IPv6 sources: each block matches addresses of its own family only
        c.add(row("IPv6 ipBlocks match", List.of(ap("shop", "p", source("ipBlocks: [\"2001:db8:1::/48\"]"))),
                API, FRONT, "2001:db8:1::7", 8080, true, "shop/p", 0));
        c.add(row("IPv6 ipBlocks mismatch", List.of(ap("shop", "p", source("ipBlocks: [\"2001:db8:1::/48\"]"))),
                API, FRONT, "2001:db8:2::7", 8080, false, null, -1));
        c.add(row("IPv6 single address", List.of(ap("shop", "p", source("ipBlocks: [\"2001:db8::7\"]"))),
                API, FRONT, "2001:db8::7", 8080, true, "shop/p", 0));
        c.add(row("an IPv4 block never holds an IPv6 source", List.of(ap("shop", "p", source("ipBlocks: [0.0.0.0/0]"))),
                API, FRONT, "2001:db8::7", 8080, false, null, -1));
        c.add(row("an IPv6 block never holds an IPv4 source", List.of(ap("shop", "p", source("ipBlocks: [\"::/0\"]"))),
                API, FRONT, "198.18.1.2", 8080, false, null, -1));
        c.add(row("blocks of both families in one list", List.of(ap("shop", "p",
                source("ipBlocks: [198.18.1.0/24, \"2001:db8::/32\"]"))), API, FRONT, "2001:db8:5::1", 8080, true, "shop/p", 0));
        c.add(row("IPv6 notIpBlocks excludes", List.of(ap("shop", "p", source("notIpBlocks: [\"2001:db8:bad::/48\"]"))),
                API, FRONT, "2001:db8:bad::1", 8080, false, null, -1));
        c.add(row("IPv4 notIpBlocks lets an IPv6 source in", List.of(ap("shop", "p", source("notIpBlocks: [0.0.0.0/0]"))),
                API, FRONT, "2001:db8::1", 8080, true, "shop/p", 0));
        c.add(row("DENY by IPv6 block overrides ALLOW", List.of(ap("shop", "allow-all", "rules: [{}]"),
                ap("shop", "deny-v6", "action: DENY\n" + source("ipBlocks: [\"2001:db8:bad::/48\"]"))),
                API, FRONT, "2001:db8:bad::9", 8080, false, "shop/deny-v6", 0));
        c.add(row("DENY by IPv6 block spares IPv4", List.of(ap("shop", "allow-all", "rules: [{}]"),
                ap("shop", "deny-v6", "action: DENY\n" + source("ipBlocks: [\"::/0\"]"))),
                API, FRONT, "198.18.1.2", 8080, true, "shop/allow-all", 0));
        // --- ports
        c.add(row("ports match", List.of(ap("shop", "p", ports("ports: [\"8080\"]"))), API, FRONT, "198.18.1.2", 8080,
                true, "shop/p", 0));
        c.add(row("ports mismatch", List.of(ap("shop", "p", ports("ports: [\"9090\"]"))), API, FRONT, "198.18.1.2", 8080,
                false, null, -1));
        c.add(row("notPorts excludes", List.of(ap("shop", "p", ports("notPorts: [\"8080\"]"))), API, FRONT, "198.18.1.2",
                8080, false, null, -1));
        c.add(row("notPorts lets other ports in", List.of(ap("shop", "p", ports("notPorts: [\"8080\"]"))), API, FRONT,
                "198.18.1.2", 9090, true, "shop/p", 0));
        c.add(row("from AND to in one rule", List.of(ap("shop", "p", "rules:\n- from: [{source: {namespaces: [shop]}}]\n"
                + "  to: [{operation: {ports: [\"9090\"]}}]")), API, FRONT, "198.18.1.2", 8080, false, null, -1));
        c.add(row("second rule decides", List.of(ap("shop", "p", "rules:\n- from: [{source: {namespaces: [ops]}}]\n"
                + "- to: [{operation: {ports: [\"8080\"]}}]")), API, FRONT, "198.18.1.2", 8080, true, "shop/p", 1));
        // --- DENY before ALLOW, several policies
        c.add(row("DENY overrides ALLOW", List.of(ap("shop", "allow-all", "rules: [{}]"),
                ap("shop", "deny-front", "action: DENY\n" + principals("cluster.local/ns/shop/sa/frontend"))),
                API, FRONT, "198.18.1.2", 8080, false, "shop/deny-front", 0));
        c.add(row("DENY not matching leaves ALLOW", List.of(ap("shop", "allow-all", "rules: [{}]"),
                ap("shop", "deny-ops", "action: DENY\n" + source("namespaces: [ops]"))),
                API, FRONT, "198.18.1.2", 8080, true, "shop/allow-all", 0));
        c.add(row("DENY on a port only", List.of(ap("shop", "deny-9090", "action: DENY\n" + ports("ports: [\"9090\"]"))),
                API, FRONT, "198.18.1.2", 9090, false, "shop/deny-9090", 0));
        c.add(row("DENY without rules denies nothing", List.of(ap("shop", "deny-none", "action: DENY")),
                API, FRONT, "198.18.1.2", 8080, true, null, -1));
        c.add(row("any of several ALLOW policies allows", List.of(ap("shop", "a1", source("namespaces: [ops]")),
                ap("shop", "a2", source("namespaces: [shop]"))), API, FRONT, "198.18.1.2", 8080, true, "shop/a2", 0));
        c.add(row("ALLOW for another workload does not deny this one", List.of(ap("shop", "db-only",
                "selector: {matchLabels: {app: db}}\nrules: [{}]")), API, FRONT, "198.18.1.2", 8080, true, null, -1));
        c.add(row("mesh-wide ALLOW plus namespace DENY", List.of(ap("tessera-system", "allow-all", "rules: [{}]"),
                ap("shop", "deny-ops", "action: DENY\n" + source("namespaces: [ops]"))), API, ADMIN, "198.18.1.2", 8080,
                false, "shop/deny-ops", 0));
        // --- AUDIT
        c.add(row("AUDIT alone changes nothing", List.of(ap("shop", "audit", "action: AUDIT\nrules: [{}]")),
                API, FRONT, "198.18.1.2", 8080, true, null, -1));
        c.add(row("AUDIT does not count as ALLOW", List.of(ap("shop", "audit", "action: AUDIT\nrules: [{}]"),
                ap("shop", "deny-all", "action: DENY\nrules: [{}]")), API, FRONT, "198.18.1.2", 8080, false, "shop/deny-all", 0));
        // --- invalid policies never widen access
        c.add(row("invalid ALLOW still denies by default", List.of(ap("shop", "bad-allow",
                ports("ports: [\"70000\"]"))), API, FRONT, "198.18.1.2", 8080, false, null, -1));
        c.add(row("invalid ALLOW does not stop a valid ALLOW", List.of(ap("shop", "bad-allow", ports("ports: [\"0\"]")),
                ap("shop", "good", "rules: [{}]")), API, FRONT, "198.18.1.2", 8080, true, "shop/good", 0));
        c.add(row("invalid DENY denies everything it selects", List.of(ap("shop", "bad-deny",
                "action: DENY\n" + source("namespaces: [ops]") + "\n  when: [{key: x}]")), API, FRONT, "198.18.1.2", 8080,
                false, "shop/bad-deny", -1));
        c.add(row("invalid action is treated as DENY", List.of(ap("shop", "bad-action", "action: REJECT\nrules: [{}]")),
                API, FRONT, "198.18.1.2", 8080, false, "shop/bad-action", -1));
        c.add(row("invalid DENY with unreadable selector selects the namespace", List.of(ap("shop", "bad",
                "selector: {matchLabels: {app: [x]}}\naction: DENY\nrules: [{}]")), DB, FRONT, "198.18.1.2", 8080,
                false, "shop/bad", -1));
        c.add(row("invalid AUDIT changes nothing", List.of(ap("shop", "bad-audit", "action: AUDIT\nrules: [{to: 3}]")),
                API, FRONT, "198.18.1.2", 8080, true, null, -1));
        return c.stream();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void decides(String name, List<GenericKubernetesResource> objects, Workload dst, SpiffeId src, String srcIp, int port,
            boolean allowed, String policy, int rule) throws UnknownHostException {
        Decision d = Authorizer.authorize(dev.tessera.kube.policy.PolicyTranslator.translate(1, objects),
                new AuthorizationRequest(dst, port, src, InetAddress.getByName(srcIp)));
        assertThat(d.allowed()).as("allowed: %s", d).isEqualTo(allowed);
        assertThat(d.policy()).as("deciding policy: %s", d).isEqualTo(policy);
        assertThat(d.rule()).as("deciding rule: %s", d).isEqualTo(rule);
    }

    @Test
    void tableHasAtLeastFortyCases() {
        assertThat(cases().count()).isGreaterThanOrEqualTo(40);
    }

    @Test
    void auditMatchesAreReportedWithTheDecision() throws UnknownHostException {
        var set = dev.tessera.kube.policy.PolicyTranslator.translate(1, List.of(ap("shop", "audit", "action: AUDIT\nrules: [{}]")));
        Decision d = Authorizer.authorize(set, new AuthorizationRequest(API, 8080, FRONT, InetAddress.getByName("198.18.1.2")));
        assertThat(d.allowed()).isTrue();
        assertThat(d.audits()).containsExactly("shop/audit#0");
    }

    /** A dual-stack socket may show an IPv4 client as ::ffff:a.b.c.d: IPv4 blocks still judge it. */
    @Test
    void anIpv4MappedSourceIsJudgedByIpv4Blocks() throws UnknownHostException {
        var set = dev.tessera.kube.policy.PolicyTranslator.translate(1, List.of(ap("shop", "allow-all", "rules: [{}]"),
                ap("shop", "deny-net", "action: DENY\n" + source("ipBlocks: [198.18.1.0/24]"))));
        byte[] mapped = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, (byte) 0xff, (byte) 0xff, (byte) 198, 18, 1, 7};
        InetAddress src = java.net.Inet6Address.getByAddress(null, mapped, -1);
        assertThat(src).isInstanceOf(java.net.Inet6Address.class);
        Decision d = Authorizer.authorize(set, new AuthorizationRequest(API, 8080, FRONT, src));
        assertThat(d.allowed()).isFalse();
        assertThat(d.policy()).isEqualTo("shop/deny-net");
    }

    private static Arguments row(String name, List<GenericKubernetesResource> objects, Workload dst, SpiffeId src,
            String srcIp, int port, boolean allowed, String policy, int rule) {
        return Arguments.of(name, objects, dst, src, srcIp, port, allowed, policy, rule);
    }

    private static String principals(String p) {
        return source("principals: [\"" + p + "\"]");
    }

    private static String source(String fields) {
        return "rules:\n- from:\n  - source:\n        " + fields;
    }

    private static String ports(String fields) {
        return "rules:\n- to:\n  - operation:\n      " + fields;
    }

    static GenericKubernetesResource ap(String ns, String name, String spec) {
        String indented = spec.isEmpty() ? "  {}" : "  " + spec.replace("\n", "\n  ");
        String yaml = "apiVersion: security.tessera.dev/v1alpha1\nkind: AuthorizationPolicy\nmetadata:\n  name: " + name
                + "\n  namespace: " + ns + "\nspec:\n" + indented + "\n";
        try {
            return YAML.readValue(yaml, GenericKubernetesResource.class);
        } catch (Exception e) {
            throw new IllegalArgumentException(yaml, e);
        }
    }

    private static Workload workload(String ns, String name, Map<String, String> labels) {
        try {
            return new Workload(ns, name, "node1", InetAddress.getByName("198.18.1.50"), name, labels, true,
                    new SpiffeId("cluster.local", ns, name));
        } catch (UnknownHostException e) {
            throw new IllegalStateException(e);
        }
    }
}
