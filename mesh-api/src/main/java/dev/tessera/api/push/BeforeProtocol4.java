package dev.tessera.api.push;

import dev.tessera.api.net.IpCidr;
import dev.tessera.api.policy.AuthorizationPolicy;
import dev.tessera.api.policy.PolicySet;
import dev.tessera.api.policy.Translation;
import java.net.Inet4Address;
import java.util.ArrayList;
import java.util.List;

/**
 * What a session of protocol 1-3 receives of IPv6 policy blocks, which their frames cannot hold (an ipBlock is
 * 4 bytes of network and a prefix there). Their agents capture and authorize IPv4 only, so an IPv6 block could
 * only ever be compared with IPv4 sources, which it never contains: exactly what {@code 0.0.0.0/32} does (no
 * connection comes from 0.0.0.0). So an IPv6 entry of {@code ipBlocks} becomes {@code 0.0.0.0/32} (never
 * matches), and one of {@code notIpBlocks} too (never excludes): every decision of such an agent is the one it
 * would take with the IPv6 blocks. Rules keep their shape, so an ALLOW rule listing only IPv6 blocks still
 * matches nothing rather than everything (an empty list would mean "any source").
 */
public final class BeforeProtocol4 {

    /** The IPv4 network that holds no source address. */
    static final IpCidr NO_SOURCE = IpCidr.ipv4(0, 32);

    private BeforeProtocol4() {}

    /** Whether any valid policy of {@code policies} has an IPv6 block. */
    public static boolean hasIpv6Blocks(List<Translation<AuthorizationPolicy>> policies) {
        for (Translation<AuthorizationPolicy> t : policies) {
            if (t.valid() && !t.policy().equals(ipv4Only(t.policy()))) {
                return true;
            }
        }
        return false;
    }

    /** {@code policies} with every IPv6 block replaced (see the class). */
    public static List<Translation<AuthorizationPolicy>> ipv4Only(List<Translation<AuthorizationPolicy>> policies) {
        var out = new ArrayList<Translation<AuthorizationPolicy>>(policies.size());
        for (Translation<AuthorizationPolicy> t : policies) {
            out.add(!t.valid() ? t : new Translation<>(t.kind(), t.namespace(), t.name(), ipv4Only(t.policy()),
                    t.errors(), t.selector(), t.action()));
        }
        return out;
    }

    /** {@code c} as sessions before protocol 4 receive it. */
    public static MeshConfig config(MeshConfig c) {
        if (!hasIpv6Blocks(c.policies().authorizationPolicies())) {
            return c;
        }
        var p = c.policies();
        return new MeshConfig(c.version(), c.mesh(),
                new PolicySet(p.version(), ipv4Only(p.authorizationPolicies()), p.peerAuthentications()));
    }

    /** {@code d} as sessions before protocol 4 receive it. */
    public static MeshDelta delta(MeshDelta d) {
        if (!hasIpv6Blocks(d.authorizationPolicies())) {
            return d;
        }
        return new MeshDelta(d.fromVersion(), d.toVersion(), d.nodes(), d.removedNodes(), d.workloads(),
                d.removedWorkloads(), d.services(), d.removedServices(), ipv4Only(d.authorizationPolicies()),
                d.removedAuthorizationPolicies(), d.peerAuthentications(), d.removedPeerAuthentications());
    }

    static AuthorizationPolicy ipv4Only(AuthorizationPolicy p) {
        var rules = new ArrayList<AuthorizationPolicy.Rule>(p.rules().size());
        for (AuthorizationPolicy.Rule r : p.rules()) {
            var from = new ArrayList<AuthorizationPolicy.Source>(r.from().size());
            for (AuthorizationPolicy.Source s : r.from()) {
                from.add(new AuthorizationPolicy.Source(s.principals(), s.notPrincipals(), s.namespaces(),
                        s.notNamespaces(), ipv4Blocks(s.ipBlocks()), ipv4Blocks(s.notIpBlocks())));
            }
            rules.add(new AuthorizationPolicy.Rule(from, r.to()));
        }
        return new AuthorizationPolicy(p.namespace(), p.name(), p.selector(), p.action(), rules);
    }

    private static List<IpCidr> ipv4Blocks(List<IpCidr> blocks) {
        if (blocks.stream().allMatch(b -> b.network() instanceof Inet4Address)) {
            return blocks;
        }
        var out = new ArrayList<IpCidr>(blocks.size());
        for (IpCidr b : blocks) {
            IpCidr kept = b.network() instanceof Inet4Address ? b : NO_SOURCE;
            if (!out.contains(kept)) {
                out.add(kept);
            }
        }
        return out;
    }
}
