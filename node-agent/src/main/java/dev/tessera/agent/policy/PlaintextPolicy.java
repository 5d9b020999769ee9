package dev.tessera.agent.policy;

import static java.util.Objects.requireNonNull;

import dev.tessera.api.model.Workload;
import dev.tessera.api.net.Ipv4Cidr;
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
import java.util.OptionalInt;
import java.util.TreeSet;

/**
 * Compiles the {@link Authorizer}'s decisions for plaintext connections to one workload (no source
 * identity: principal and namespace rules cannot match, ipBlocks and ports can) into a table the kernel can
 * look up by longest prefix: {@code (port, source network) -> decision}. A pure function.
 *
 * <p>Without an identity, a decision depends only on the source address and the port. Let C be every
 * {@code ipBlocks}/{@code notIpBlocks} network of the policies selecting the workload, plus
 * {@code 0.0.0.0/0}; two networks are always nested or disjoint, so whether an address is in each member of
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

    private static final Ipv4Cidr ANY = new Ipv4Cidr(0, 0);

    private PlaintextPolicy() {}

    /**
     * One compiled entry: plaintext SYNs to {@code port} ({@code 0}: every port no entry names) whose source's
     * longest match among the workload's entries is {@code source} get {@code decision}.
     */
    public record Entry(int port, Ipv4Cidr source, Decision decision) {}

    /**
     * The plaintext decisions for {@code destination}, or empty when no AuthorizationPolicy selects it
     * (then nothing is decided for plaintext: it passes, as PERMISSIVE always did).
     */
    public static Optional<List<Entry>> compile(PolicySet policies, Workload destination) {
        requireNonNull(policies, "policies");
        requireNonNull(destination, "destination");
        List<Translation<AuthorizationPolicy>> selected = policies.authorizationPolicies().stream()
                .filter(t -> PolicyScope.selects(t.namespace(), t.selector(), destination))
                .toList();
        if (selected.isEmpty()) {
            return Optional.empty();
        }
        var networks = new TreeSet<Ipv4Cidr>(java.util.Comparator.comparingInt(Ipv4Cidr::prefix)
                .thenComparingInt(c -> c.network()));
        networks.add(ANY);
        var ports = new TreeSet<Integer>();
        for (var t : selected) {
            if (!t.valid()) {
                continue; // an invalid policy matches nothing (or denies everything): no network or port of its own
            }
            for (Rule r : t.policy().rules()) {
                for (Source s : r.from()) {
                    networks.addAll(s.ipBlocks());
                    networks.addAll(s.notIpBlocks());
                }
                for (Operation o : r.to()) {
                    ports.addAll(o.ports());
                    ports.addAll(o.notPorts());
                }
            }
        }
        int other = otherPort(ports);
        var out = new ArrayList<Entry>();
        for (Ipv4Cidr c : networks) {
            OptionalInt rep = representative(c, networks);
            if (rep.isEmpty()) {
                continue;
            }
            var source = Ipv4Cidr.toInetAddress(rep.getAsInt());
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
    static OptionalInt representative(Ipv4Cidr c, java.util.Collection<Ipv4Cidr> all) {
        List<Ipv4Cidr> inner = all.stream().filter(d -> d.prefix() > c.prefix() && c.contains(d.network())).toList();
        return free(c, inner);
    }

    private static OptionalInt free(Ipv4Cidr block, List<Ipv4Cidr> inner) {
        List<Ipv4Cidr> overlapping = inner.stream().filter(d -> d.overlaps(block)).toList();
        if (overlapping.isEmpty()) {
            return OptionalInt.of(block.network());
        }
        if (overlapping.stream().anyMatch(d -> d.prefix() <= block.prefix())) {
            return OptionalInt.empty(); // one of them contains the whole block
        }
        int p = block.prefix() + 1; // block.prefix() < 32 here: a /32 overlapped is contained
        OptionalInt low = free(new Ipv4Cidr(block.network(), p), overlapping);
        return low.isPresent() ? low : free(new Ipv4Cidr(block.network() | (1 << (32 - p)), p), overlapping);
    }
}
