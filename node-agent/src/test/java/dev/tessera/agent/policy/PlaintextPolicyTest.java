package dev.tessera.agent.policy;

import static dev.tessera.agent.policy.AuthorizerTest.ap;
import static org.assertj.core.api.Assertions.assertThat;

import dev.tessera.api.identity.SpiffeId;
import dev.tessera.api.model.Workload;
import dev.tessera.api.net.IpCidr;
import dev.tessera.api.policy.PolicySet;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import java.math.BigInteger;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/**
 * The plaintext compiler: which entries it writes, and that a longest-prefix lookup over them (as the
 * kernel does it: the port first, then port 0) gives exactly the {@link Authorizer}'s decision for a
 * source without identity, at every network boundary.
 */
class PlaintextPolicyTest {

    private static final Workload API = workload("shop", "api", Map.of("app", "api"));
    private static final Workload API6 = workload("shop", "api", Map.of("app", "api"), "2001:db8:1::50");
    private static final IpCidr ANY = IpCidr.parse("0.0.0.0/0");

    @Test
    void noPolicySelectingThePodCompilesToNothing() {
        assertThat(PlaintextPolicy.compile(PolicySet.EMPTY, API)).isEmpty();
        assertThat(PlaintextPolicy.compile(set(ap("shop", "db-only", "selector: {matchLabels: {app: db}}\nrules: [{}]")), API))
                .isEmpty();
    }

    @Test
    void anAllowNamingOnlyPrincipalsDeniesAllPlaintext() {
        var set = set(ap("shop", "front-only", from("principals: [\"cluster.local/ns/shop/sa/client\"]")));
        List<PlaintextPolicy.Entry> entries = PlaintextPolicy.compile(set, API).orElseThrow();
        assertThat(entries).hasSize(1);
        var e = entries.get(0);
        assertThat(e.port()).isZero();
        assertThat(e.source()).isEqualTo(ANY);
        assertThat(e.decision().allowed()).isFalse();
        assertThat(e.decision().reason()).contains("no ALLOW rule matched");
        agreesWithTheAuthorizer(set);
    }

    @Test
    void namespacesCannotMatchButNotPrincipalsDoAsInTheAuthorizer() {
        var byNamespace = set(ap("shop", "ns", from("namespaces: [shop]")));
        assertThat(decisions(byNamespace)).containsExactly("0 0.0.0.0/0 deny");
        var notPrincipal = set(ap("shop", "not-admin", from("notPrincipals: [\"cluster.local/ns/ops/sa/admin\"]")));
        assertThat(decisions(notPrincipal)).containsExactly("0 0.0.0.0/0 allow shop/not-admin#0");
    }

    @Test
    void aRejectedDenyDeniesEveryPlaintextSource() {
        var set = set(ap("shop", "bad-deny", "action: DENY\nrules:\n- to:\n  - operation:\n      ports: [\"70000\"]"),
                ap("shop", "allow-all", "rules: [{}]"));
        assertThat(decisions(set)).containsExactly("0 0.0.0.0/0 deny shop/bad-deny#-1");
        agreesWithTheAuthorizer(set);
    }

    @Test
    void anIpBlockAndPortOnlyAllowLetsThatSourceInOnThatPort() {
        var set = set(ap("shop", "lan-7000", "rules:\n- from:\n  - source:\n      ipBlocks: [\"198.19.4.0/24\"]\n"
                + "  to:\n  - operation:\n      ports: [\"7000\"]"));
        assertThat(decisions(set)).containsExactlyInAnyOrder(
                "7000 198.19.4.0/24 allow shop/lan-7000#0",
                "7000 0.0.0.0/0 deny",
                "0 198.19.4.0/24 deny",
                "0 0.0.0.0/0 deny");
        agreesWithTheAuthorizer(set);
    }

    @Test
    void denyComesFirstAndNestedNetworksTakeTheLongestMatch() {
        var set = set(ap("shop", "allow-lab", from("ipBlocks: [\"198.19.0.0/16\"]")),
                ap("shop", "deny-guest", "action: DENY\n" + from("ipBlocks: [\"198.19.4.0/24\"]")),
                ap("shop", "allow-guest-host", from("ipBlocks: [\"198.19.4.7/32\"]")));
        assertThat(decisions(set)).containsExactlyInAnyOrder(
                "0 0.0.0.0/0 deny",
                "0 198.19.0.0/16 allow shop/allow-lab#0",
                "0 198.19.4.0/24 deny shop/deny-guest#0",
                "0 198.19.4.7/32 deny shop/deny-guest#0"); // DENY before ALLOW, even for the longer ALLOW
        agreesWithTheAuthorizer(set);
    }

    @Test
    void notIpBlocksAndNotPortsAreNetworksAndPortsOfTheirOwn() {
        var set = set(ap("shop", "not-guest", "rules:\n- from:\n  - source:\n      notIpBlocks: [\"198.19.4.0/24\"]\n"
                + "  to:\n  - operation:\n      notPorts: [\"22\"]"));
        assertThat(decisions(set)).containsExactlyInAnyOrder(
                "22 0.0.0.0/0 deny",
                "22 198.19.4.0/24 deny",
                "0 0.0.0.0/0 allow shop/not-guest#0",
                "0 198.19.4.0/24 deny");
        agreesWithTheAuthorizer(set);
    }

    @Test
    void aMeshWideDenyForAPortAndAnAuditAreCompiledToo() {
        var set = set(ap("tessera-system", "no-ssh", "action: DENY\nrules:\n- to:\n  - operation:\n      ports: [\"22\"]"),
                ap("shop", "audit-lab", "action: AUDIT\n" + from("ipBlocks: [\"198.19.0.0/16\"]")));
        assertThat(decisions(set)).containsExactlyInAnyOrder(
                "22 0.0.0.0/0 deny tessera-system/no-ssh#0",
                "22 198.19.0.0/16 deny tessera-system/no-ssh#0",
                "0 0.0.0.0/0 allow",
                "0 198.19.0.0/16 allow");
        var lab = PlaintextPolicy.compile(set, API).orElseThrow().stream()
                .filter(e -> e.port() == 0 && e.source().prefix() == 16).findFirst().orElseThrow();
        assertThat(lab.decision().audits()).containsExactly("shop/audit-lab#0");
        agreesWithTheAuthorizer(set);
    }

    @Test
    void aNetworkCoveredByLongerOnesGetsNoEntry() {
        var set = set(ap("shop", "halves", from("ipBlocks: [\"0.0.0.0/1\", \"128.0.0.0/1\"]")));
        assertThat(decisions(set)).containsExactlyInAnyOrder("0 0.0.0.0/1 allow shop/halves#0",
                "0 128.0.0.0/1 allow shop/halves#0");
        agreesWithTheAuthorizer(set);
    }

    @Test
    void theRepresentativeAvoidsEveryLongerNetwork() throws Exception {
        var all = List.of(IpCidr.parse("10.0.0.0/8"), IpCidr.parse("10.0.0.0/9"), IpCidr.parse("10.128.0.0/10"));
        assertThat(PlaintextPolicy.representative(IpCidr.parse("10.0.0.0/8"), all))
                .contains(InetAddress.getByName("10.192.0.0"));
        assertThat(PlaintextPolicy.representative(IpCidr.parse("10.0.0.0/9"), all))
                .contains(InetAddress.getByName("10.0.0.0"));
        var all6 = List.of(IpCidr.parse("::/0"), IpCidr.parse("::/1"), IpCidr.parse("8000::/2"),
                IpCidr.parse("c000::/3"), IpCidr.parse("e000::1/128"));
        assertThat(PlaintextPolicy.representative(IpCidr.parse("::/0"), all6)).contains(InetAddress.getByName("e000::"));
        assertThat(PlaintextPolicy.representative(IpCidr.parse("c000::/3"), all6)).contains(InetAddress.getByName("c000::"));
        var covered = List.of(IpCidr.parse("2001:db8::/32"), IpCidr.parse("2001:db8::/33"), IpCidr.parse("2001:db8:8000::/33"));
        assertThat(PlaintextPolicy.representative(IpCidr.parse("2001:db8::/32"), covered)).isEmpty();
        assertThat(PlaintextPolicy.otherPort(new TreeSet<>(List.of(1, 2, 4)))).isEqualTo(3);
    }

    /** An IPv6 pod address meets IPv6 sources only: its entries are the IPv6 blocks plus ::/0. */
    @Test
    void anIpv6PodGetsTheIpv6BlocksAndAnIpv4PodTheIpv4Ones() {
        var set = set(ap("shop", "lab", "rules:\n- from:\n  - source:\n      ipBlocks: [\"2001:db8:4::/48\", \"198.19.4.0/24\"]\n"
                + "  to:\n  - operation:\n      ports: [\"7000\"]"),
                ap("shop", "deny-guest", "action: DENY\n" + from("ipBlocks: [\"2001:db8:4:bad::/64\"]")));
        assertThat(decisions(set, API6)).containsExactlyInAnyOrder(
                "7000 2001:db8:4::/48 allow shop/lab#0",
                "7000 2001:db8:4:bad::/64 deny shop/deny-guest#0",
                "7000 ::/0 deny",
                "0 2001:db8:4::/48 deny",
                "0 2001:db8:4:bad::/64 deny shop/deny-guest#0",
                "0 ::/0 deny");
        assertThat(decisions(set, API)).containsExactlyInAnyOrder(
                "7000 198.19.4.0/24 allow shop/lab#0",
                "7000 0.0.0.0/0 deny",
                "0 198.19.4.0/24 deny",
                "0 0.0.0.0/0 deny");
        assertThat(PlaintextPolicy.compile(set, API6, IpCidr.Family.IPV4).orElseThrow())
                .as("a dual-stack pod's IPv4 address").extracting(e -> e.source().toString())
                .containsOnly("198.19.4.0/24", "0.0.0.0/0");
        agreesWithTheAuthorizer(set, API6);
        agreesWithTheAuthorizer(set, API);
    }

    @Test
    void ipv6NotIpBlocksSingleAddressesAndHalvesAgreeWithTheAuthorizer() {
        var set = set(ap("shop", "a", "rules:\n- from:\n  - source:\n      notIpBlocks: [\"2001:db8::/32\"]\n"
                        + "- from:\n  - source:\n      ipBlocks: [\"2001:db8:1::7\", \"::/1\", \"8000::/1\"]\n"
                        + "  to:\n  - operation:\n      notPorts: [\"22\"]"),
                ap("shop", "d", "action: DENY\n" + from("ipBlocks: [\"2001:db8:1::/64\", \"0.0.0.0/0\"]")));
        agreesWithTheAuthorizer(set, API6);
        assertThat(decisions(set, API6)).as("::/0 is covered by its halves: no entry of its own")
                .noneMatch(d -> d.contains(" ::/0 "));
    }

    @Test
    void manyOverlappingPoliciesAgreeWithTheAuthorizerEverywhere() {
        var set = set(ap("shop", "a", "rules:\n- from:\n  - source:\n      ipBlocks: [\"198.18.0.0/15\", \"198.19.4.0/24\"]\n"
                        + "  to:\n  - operation:\n      ports: [\"7000\", \"7001\"]\n"
                        + "- from:\n  - source:\n      notIpBlocks: [\"198.18.0.0/16\"]\n      principals: [\"*\"]"),
                ap("shop", "d", "action: DENY\nrules:\n- from:\n  - source:\n      ipBlocks: [\"198.19.4.128/25\"]\n"
                        + "  to:\n  - operation:\n      notPorts: [\"7001\"]"),
                ap("tessera-system", "mesh", "rules:\n- from:\n  - source:\n      ipBlocks: [\"198.18.9.9/32\"]"));
        agreesWithTheAuthorizer(set);
    }

    // ------------------------------------------------------------------ helpers

    /** "port source allow|deny [policy#rule]" per entry. */
    private static List<String> decisions(PolicySet set) {
        return decisions(set, API);
    }

    private static List<String> decisions(PolicySet set, Workload dst) {
        var out = new ArrayList<String>();
        for (var e : PlaintextPolicy.compile(set, dst).orElseThrow()) {
            Decision d = e.decision();
            out.add(e.port() + " " + e.source() + " " + d.label() + (d.policy() == null ? "" : " " + d.policy() + "#" + d.rule()));
        }
        return out;
    }

    private static void agreesWithTheAuthorizer(PolicySet set) {
        agreesWithTheAuthorizer(set, API);
    }

    /**
     * For every network boundary (first, last, one outside) and every port named plus one that is not, the
     * kernel's lookup over the compiled entries gives the Authorizer's decision (allowed, policy and rule), for
     * sources of the family of {@code dst}'s address.
     */
    private static void agreesWithTheAuthorizer(PolicySet set, Workload dst) {
        List<PlaintextPolicy.Entry> entries = PlaintextPolicy.compile(set, dst).orElseThrow();
        int bits = IpCidr.Family.of(dst.ip()).bits();
        BigInteger max = BigInteger.ONE.shiftLeft(bits).subtract(BigInteger.ONE);
        var addresses = new TreeSet<BigInteger>();
        var ports = new TreeSet<Integer>(List.of(1, 7002, 65535));
        for (var e : entries) {
            assertThat(e.source().family()).isEqualTo(IpCidr.Family.of(dst.ip()));
            BigInteger lo = new BigInteger(1, e.source().networkBytes());
            BigInteger hi = lo.add(BigInteger.ONE.shiftLeft(bits - e.source().prefix())).subtract(BigInteger.ONE);
            BigInteger mid = lo.add(hi).shiftRight(1);
            for (BigInteger a : List.of(lo.subtract(BigInteger.ONE), lo, lo.add(BigInteger.ONE), mid,
                    hi.subtract(BigInteger.ONE), hi, hi.add(BigInteger.ONE))) {
                if (a.signum() >= 0 && a.compareTo(max) <= 0) {
                    addresses.add(a);
                }
            }
            if (e.port() != 0) {
                ports.add(e.port());
            }
        }
        for (BigInteger a : addresses) {
            InetAddress src = address(a, bits / 8);
            for (int port : ports) {
                Decision want = Authorizer.authorize(set, new AuthorizationRequest(dst, port, null, src));
                Decision got = lookup(entries, port, src).orElse(null);
                assertThat(got).as("%s:%d", src.getHostAddress(), port).isNotNull();
                assertThat(List.of(got.allowed(), String.valueOf(got.policy()), got.rule()))
                        .as("%s:%d (want %s, got %s)", src.getHostAddress(), port, want, got)
                        .isEqualTo(List.of(want.allowed(), String.valueOf(want.policy()), want.rule()));
            }
        }
    }

    private static InetAddress address(BigInteger value, int bytes) {
        byte[] raw = value.toByteArray();
        byte[] b = new byte[bytes];
        int n = Math.min(raw.length, bytes);
        System.arraycopy(raw, raw.length - n, b, bytes - n, n);
        try {
            return bytes == 16 ? java.net.Inet6Address.getByAddress(null, b, -1) : InetAddress.getByAddress(b);
        } catch (java.net.UnknownHostException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The kernel's lookup: longest source match among the port's entries, else among port 0's. */
    private static Optional<Decision> lookup(List<PlaintextPolicy.Entry> entries, int port, InetAddress src) {
        Optional<PlaintextPolicy.Entry> hit = longest(entries, port, src);
        if (hit.isEmpty()) {
            hit = longest(entries, 0, src);
        }
        return hit.map(PlaintextPolicy.Entry::decision);
    }

    private static Optional<PlaintextPolicy.Entry> longest(List<PlaintextPolicy.Entry> entries, int port, InetAddress src) {
        return entries.stream().filter(e -> e.port() == port && e.source().contains(src))
                .max(java.util.Comparator.comparingInt(e -> e.source().prefix()));
    }

    private static String from(String fields) {
        return "rules:\n- from:\n  - source:\n      " + fields;
    }

    private static PolicySet set(GenericKubernetesResource... objects) {
        return dev.tessera.kube.policy.PolicyTranslator.translate(1, List.of(objects));
    }

    private static Workload workload(String ns, String name, Map<String, String> labels) {
        return workload(ns, name, labels, "198.18.1.50");
    }

    private static Workload workload(String ns, String name, Map<String, String> labels, String ip) {
        try {
            return new Workload(ns, name, "node1", InetAddress.getByName(ip), name, labels, true,
                    new SpiffeId("cluster.local", ns, name));
        } catch (java.net.UnknownHostException e) {
            throw new IllegalStateException(e);
        }
    }
}
