package dev.tessera.agent.policy;

import static java.util.Objects.requireNonNull;

import dev.tessera.api.model.Workload;
import dev.tessera.api.net.IpCidr;
import dev.tessera.api.net.IpCidr.Family;
import dev.tessera.api.policy.AuthorizationPolicy;
import dev.tessera.api.policy.AuthorizationPolicy.Operation;
import dev.tessera.api.policy.AuthorizationPolicy.Rule;
import dev.tessera.api.policy.AuthorizationPolicy.Source;
import dev.tessera.api.policy.PolicyScope;
import dev.tessera.api.policy.PolicySet;
import dev.tessera.api.policy.Translation;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.net.InetAddress;
import java.util.Arrays;
import java.util.TreeSet;

/**
 * Compiles the {@link Authorizer}'s decisions for plaintext connections to one workload (no source
 * identity: principal and namespace rules cannot match, ipBlocks and ports can) into a table the kernel can
 * look up by longest prefix: {@code (port, source network) -> decision}. A pure function.
 *
 * <p>Without an identity, a decision depends only on the source address and the port. Per address family of
 * the pod (an IPv4 pod address only meets IPv4 sources, an IPv6 one IPv6 sources): let C be every
 * {@code ipBlocks}/{@code notIpBlocks} network of that family in the policies selecting the workload, plus
 * {@code 0.0.0.0/0} or {@code ::/0} (blocks of the other family can never hold such a source, so the
 * Authorizer's answer does not depend on them, and they add no entry); two networks are always nested or disjoint, so whether an address is in each member of
 * C follows from its longest match in C alone. Let P be every {@code ports}/{@code notPorts} value, plus
 * port 0 standing for "any other port". For each port of P and each network c of C, the decision is asked
 * from the real {@link Authorizer} for one representative address: in c but in no longer member of C
 * (found by halving c; a c covered entirely by longer members gets no entry, no address can reach it).
 * So there is one policy engine: DENY before ALLOW, "an ALLOW selects the workload -> default deny",
 * invalid policies failing closed, AUDIT matches, all exactly as for mesh connections.
 *
 * <p>Entries: at most {@code |C| * (|P| + 1)} per workload. The model has no port ranges (ports are single
 * values), so P is finite and exact.
 */
public final class PlaintextPolicy {

    private PlaintextPolicy() {}

    /**
     * One compiled entry: plaintext SYNs to {@code port} ({@code 0}: every port no entry names) whose source's
     * longest match among the workload's entries is {@code source} get {@code decision}.
     */
    public record Entry(int port, IpCidr source, Decision decision) {}

    /** {@link #compile(PolicySet, Workload, Family)} for the family of the workload's address. */
    public static Optional<List<Entry>> compile(PolicySet policies, Workload destination) {
        return compile(policies, destination, Family.of(requireNonNull(destination, "destination").ip()));
    }

    /**
     * The plaintext decisions for {@code destination}'s address of {@code family} (sources of that family), or
     * empty when no AuthorizationPolicy selects it (then nothing is decided for plaintext: it passes, as
     * PERMISSIVE always did).
     */
    public static Optional<List<Entry>> compile(PolicySet policies, Workload destination, Family family) {
        requireNonNull(policies, "policies");
        requireNonNull(destination, "destination");
        requireNonNull(family, "family");
        List<Translation<AuthorizationPolicy>> selected = policies.authorizationPolicies().stream()
                .filter(t -> PolicyScope.selects(t.namespace(), t.selector(), destination))
                .toList();
        if (selected.isEmpty()) {
            return Optional.empty();
        }
        var networks = new TreeSet<IpCidr>(java.util.Comparator.comparingInt(IpCidr::prefix)
                .thenComparing(IpCidr::networkBytes, Arrays::compareUnsigned));
        networks.add(IpCidr.any(family));
        var ports = new TreeSet<Integer>();
        for (var t : selected) {
            if (!t.valid()) {
                continue; // an invalid policy matches nothing (or denies everything): no network or port of its own
            }
            for (Rule r : t.policy().rules()) {
                for (Source s : r.from()) {
                    s.ipBlocks().stream().filter(c -> c.family() == family).forEach(networks::add);
                    s.notIpBlocks().stream().filter(c -> c.family() == family).forEach(networks::add);
                }
                for (Operation o : r.to()) {
                    ports.addAll(o.ports());
                    ports.addAll(o.notPorts());
                }
            }
        }
        int other = otherPort(ports);
        var out = new ArrayList<Entry>();
        for (IpCidr c : networks) {
            Optional<InetAddress> rep = representative(c, networks);
            if (rep.isEmpty()) {
                continue;
            }
            InetAddress source = rep.get();
            for (int port : ports) {
                out.add(new Entry(port, c, Authorizer.authorize(policies, new AuthorizationRequest(destination, port, null,
                        source))));
            }
            out.add(new Entry(0, c, Authorizer.authorize(policies, new AuthorizationRequest(destination, other, null,
                    source))));
        }
        return Optional.of(List.copyOf(out));
    }

    /** The lowest port 1-65535 that {@code named} does not hold: what "any other port" is asked as. */
    static int otherPort(java.util.Set<Integer> named) {
        for (int p = 1; p <= 65535; p++) {
            if (!named.contains(p)) {
                return p;
            }
        }
        throw new IllegalStateException("every port is named"); // a policy set cannot name 65535 ports
    }

    /**
     * An address inside {@code c} that is in no strictly longer member of {@code all}, or empty when the longer
     * members cover {@code c} entirely.
     */
    static Optional<InetAddress> representative(IpCidr c, java.util.Collection<IpCidr> all) {
        List<IpCidr> inner = all.stream().filter(d -> d.prefix() > c.prefix() && c.contains(d)).toList();
        return free(c, inner);
    }

    private static Optional<InetAddress> free(IpCidr block, List<IpCidr> inner) {
        List<IpCidr> overlapping = inner.stream().filter(d -> d.overlaps(block)).toList();
        if (overlapping.isEmpty()) {
            return Optional.of(block.network());
        }
        if (overlapping.stream().anyMatch(d -> d.prefix() <= block.prefix())) {
            return Optional.empty(); // one of them contains the whole block
        }
        // block is no single address here: a /32 or /128 that is overlapped is contained
        Optional<InetAddress> low = free(block.half(false), overlapping);
        return low.isPresent() ? low : free(block.half(true), overlapping);
    }
}
