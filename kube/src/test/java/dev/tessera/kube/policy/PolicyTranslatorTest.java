package dev.tessera.kube.policy;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import dev.tessera.api.identity.SpiffeId;
import dev.tessera.api.model.Workload;
import dev.tessera.api.net.IpCidr;
import dev.tessera.api.policy.AuthorizationPolicy.Action;
import dev.tessera.api.policy.AuthorizationPolicy;
import dev.tessera.api.policy.PeerAuthentication.Mode;
import dev.tessera.api.policy.PeerAuthentication;
import dev.tessera.api.policy.PolicyScope;
import dev.tessera.api.policy.PolicySet;
import dev.tessera.api.policy.Translation;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import java.net.InetAddress;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class PolicyTranslatorTest {

    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());

    @Test
    void translatesAFullPolicy() throws Exception {
        var t = PolicyTranslator.authorizationPolicy(obj("AuthorizationPolicy", "shop", "p", """
                selector: {matchLabels: {app: api}}
                action: DENY
                rules:
                - from:
                  - source:
                      principals: ["spiffe://cluster.local/ns/shop/sa/*"]
                      notNamespaces: [ops]
                      ipBlocks: ["198.18.1.0/24", "198.18.2.9"]
                  to:
                  - operation: {ports: ["7000", 7001], notPorts: ["22"]}
                """));
        assertThat(t.errors()).isEmpty();
        AuthorizationPolicy p = t.policy();
        assertThat(p.action()).isEqualTo(Action.DENY);
        assertThat(p.selector()).isEqualTo(Map.of("app", "api"));
        assertThat(p.rules().get(0).from().get(0).principals()).containsExactly("cluster.local/ns/shop/sa/*");
        assertThat(p.rules().get(0).from().get(0).ipBlocks()).hasSize(2);
        assertThat(p.rules().get(0).to().get(0).ports()).containsExactly(7000, 7001);
    }

    @Test
    void everyErrorNamesTheFieldAndTheExpectedValue() throws Exception {
        var t = PolicyTranslator.authorizationPolicy(obj("AuthorizationPolicy", "shop", "bad", """
                action: ALLOWED
                rules:
                - from:
                  - source:
                      principals: ["a*b"]
                      ipBlocks: ["198.18.1.1/24"]
                      requestPrincipals: ["x"]
                  to:
                  - operation: {ports: ["0", "http"]}
                  when: [{key: a}]
                """));
        assertThat(t.valid()).isFalse();
        assertThat(t.action()).isEqualTo(Action.DENY); // unreadable action: enforced as DENY
        assertThat(t.errors()).contains(
                "spec.action: 'ALLOWED' (expected: ALLOW, DENY or AUDIT)",
                "spec.rules[0].from[0].source.principals[0]: 'a*b' (expected: a non-empty value with '*' only alone, as prefix or as suffix)",
                "spec.rules[0].from[0].source.ipBlocks[0]: '198.18.1.1/24' (expected: an IPv4 or IPv6 address or network, a.b.c.d/n (n 0-32) or x:x::x/n (n 0-128), host bits zero, e.g. 198.18.1.0/24)",
                "spec.rules[0].to[0].operation.ports[0]: '0' (expected: a port 1-65535)",
                "spec.rules[0].to[0].operation.ports[1]: 'http' (expected: a port 1-65535)");
        assertThat(t.errors()).anyMatch(e -> e.startsWith("spec.rules[0].when: unknown or unsupported field"));
        assertThat(t.errors()).anyMatch(e -> e.startsWith("spec.rules[0].from[0].source.requestPrincipals: unknown"));
    }

    @Test
    void ipv6BlocksAndAddressesAreAcceptedNextToIpv4Ones() throws Exception {
        var t = PolicyTranslator.authorizationPolicy(obj("AuthorizationPolicy", "shop", "v6", """
                rules:
                - from:
                  - source:
                      ipBlocks: ["2001:db8::/32", "2001:DB8:1::9", "198.18.0.0/15"]
                      notIpBlocks: ["2001:db8:bad::/48"]
                """));
        assertThat(t.errors()).isEmpty();
        var source = t.policy().rules().get(0).from().get(0);
        assertThat(source.ipBlocks()).containsExactly(IpCidr.parse("2001:db8::/32"), IpCidr.parse("2001:db8:1::9/128"),
                IpCidr.parse("198.18.0.0/15"));
        assertThat(source.notIpBlocks()).containsExactly(IpCidr.parse("2001:db8:bad::/48"));
    }

    @Test
    void malformedIpv6BlocksNameTheFieldAndTheExpectedValue() throws Exception {
        var t = PolicyTranslator.authorizationPolicy(obj("AuthorizationPolicy", "shop", "v6bad", """
                rules:
                - from:
                  - source:
                      ipBlocks: ["2001:db8::1/32", "2001:db8::/129", "fe80::1%eth0", "::ffff:198.18.0.0/112"]
                      notIpBlocks: ["2001:db8:::1"]
                """));
        assertThat(t.valid()).isFalse();
        String expected = "(expected: an IPv4 or IPv6 address or network, a.b.c.d/n (n 0-32) or x:x::x/n (n 0-128),"
                + " host bits zero";
        assertThat(t.errors()).containsExactly(
                "spec.rules[0].from[0].source.ipBlocks[0]: '2001:db8::1/32' " + expected + ", e.g. 2001:db8::/32)",
                "spec.rules[0].from[0].source.ipBlocks[1]: '2001:db8::/129' " + expected + ")",
                "spec.rules[0].from[0].source.ipBlocks[2]: 'fe80::1%eth0' " + expected + ")",
                "spec.rules[0].from[0].source.ipBlocks[3]: '::ffff:198.18.0.0/112' " + expected + ")",
                "spec.rules[0].from[0].source.notIpBlocks[0]: '2001:db8:::1' " + expected + ")");
    }

    @Test
    void peerAuthenticationModes() throws Exception {
        var ok = PolicyTranslator.peerAuthentication(obj("PeerAuthentication", "shop", "s", "mtls: {mode: STRICT}"));
        assertThat(ok.policy().mode()).isEqualTo(Mode.STRICT);
        var bad = PolicyTranslator.peerAuthentication(obj("PeerAuthentication", "shop", "s", "mtls: {mode: strict}"));
        assertThat(bad.errors()).containsExactly("spec.mtls.mode: 'strict' (expected: STRICT, PERMISSIVE or UNSET)");
    }

    @Test
    void mostSpecificPeerAuthenticationWins() throws Exception {
        Workload api = workload("shop", Map.of("app", "api"));
        Workload other = workload("blog", Map.of("app", "web"));
        var mesh = PolicyTranslator.peerAuthentication(obj("PeerAuthentication", "tessera-system", "mesh", "mtls: {mode: STRICT}"));
        var ns = PolicyTranslator.peerAuthentication(obj("PeerAuthentication", "shop", "ns", "mtls: {mode: PERMISSIVE}"));
        var wl = PolicyTranslator.peerAuthentication(obj("PeerAuthentication", "shop", "wl",
                "selector: {matchLabels: {app: api}}\nmtls: {mode: STRICT}"));
        var unset = PolicyTranslator.peerAuthentication(obj("PeerAuthentication", "shop", "wl",
                "selector: {matchLabels: {app: api}}\nmtls: {mode: UNSET}"));
        assertThat(PolicyScope.peerAuthentication(api, List.of()).mode()).isEqualTo(Mode.PERMISSIVE);
        assertThat(PolicyScope.peerAuthentication(api, List.of(mesh)).mode()).isEqualTo(Mode.STRICT);
        assertThat(PolicyScope.peerAuthentication(api, List.of(mesh, ns))).isEqualTo(
                new PolicyScope.EffectiveMode(Mode.PERMISSIVE, "shop/ns"));
        assertThat(PolicyScope.peerAuthentication(api, List.of(mesh, ns, wl)).policy()).isEqualTo("shop/wl");
        assertThat(PolicyScope.peerAuthentication(api, List.of(mesh, ns, unset)).policy()).isEqualTo("shop/ns");
        assertThat(PolicyScope.peerAuthentication(other, List.of(mesh, ns, wl)).policy()).isEqualTo("tessera-system/mesh");
        var invalid = PolicyTranslator.peerAuthentication(obj("PeerAuthentication", "blog", "x", "mtls: {mode: OFF}"));
        assertThat(PolicyScope.peerAuthentication(other, List.of(invalid)).mode()).isEqualTo(Mode.STRICT);
    }

    private static Workload workload(String ns, Map<String, String> labels) throws Exception {
        return new Workload(ns, "w", "node1", InetAddress.getByName("198.18.1.9"), "sa", labels, true,
                new SpiffeId("cluster.local", ns, "sa"));
    }

    static GenericKubernetesResource obj(String kind, String ns, String name, String spec) throws Exception {
        String yaml = "apiVersion: security.tessera.dev/v1alpha1\nkind: " + kind + "\nmetadata:\n  name: " + name
                + "\n  namespace: " + ns + "\nspec:\n  " + spec.strip().replace("\n", "\n  ") + "\n";
        return YAML.readValue(yaml, GenericKubernetesResource.class);
    }
}
