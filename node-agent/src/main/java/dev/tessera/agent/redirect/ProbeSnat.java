package dev.tessera.agent.redirect;

import java.io.IOException;
import java.net.Inet4Address;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Recognises kubelet probes by something a host-network process cannot claim by accident: the kubelet's cgroup.
 * Like Istio ambient, its TCP connections to the mesh CIDRs are SNATed to a link-local probe address
 * (default 169.254.7.127), in the node's network namespace:
 * <pre>
 * iptables -t nat -N TESSERA-PROBES
 * iptables -t nat -I POSTROUTING -j TESSERA-PROBES
 * iptables -t nat -A TESSERA-PROBES -p tcp -d CIDR -m cgroup --path KUBELET_CGROUP -j SNAT --to-source PROBE  # per mesh CIDR
 * </pre>
 * The ingress program ({@code peerauth.bpf.c}) then trusts the probe address instead of the node address. The
 * pod answers the probe address through its default route to the node, where conntrack reverses the SNAT.
 * Installed idempotently at every start (what is there is kept), kept when the agent stops (an upgrade's probes
 * keep passing), removed by {@code --uninstall}. Shells out to {@code iptables} as {@link ReplyRouting} does;
 * {@code -m cgroup --path} resolves the path when the rule is added, so the cgroup must exist then.
 */
public final class ProbeSnat {

    private static final Logger log = LoggerFactory.getLogger(ProbeSnat.class);
    static final String CHAIN = "TESSERA-PROBES";

    private ProbeSnat() {}

    /**
     * Installs the SNAT of {@code cgroup}'s connections to {@code cidrs}.
     *
     * @param cgroupV2Root where cgroup v2 is mounted (to say early that the cgroup is missing)
     * @return null when in place, else why not (the caller then keeps trusting the node address)
     */
    public static String install(Path cgroupV2Root, String cgroup, List<String> cidrs, Inet4Address probe) {
        if (cgroup.isEmpty()) {
            return "--probe-cgroup is empty";
        }
        String rel = cgroup.startsWith("/") ? cgroup.substring(1) : cgroup;
        if (!Files.isDirectory(cgroupV2Root.resolve(rel))) {
            return "cgroup " + cgroup + " not found under " + cgroupV2Root
                    + " (hint: --probe-cgroup names the kubelet's cgroup v2, relative to the root)";
        }
        if (cidrs.isEmpty()) {
            return "no --mesh-cidr to restrict the SNAT to";
        }
        try {
            if (ReplyRouting.run(nat("-L", CHAIN, "-n")) != 0) {
                ReplyRouting.check(nat("-N", CHAIN));
            }
            if (ReplyRouting.run(nat("-C", "POSTROUTING", "-j", CHAIN)) != 0) {
                ReplyRouting.check(nat("-I", "POSTROUTING", "-j", CHAIN));
            }
            for (String cidr : cidrs) {
                List<String> rule = List.of("-p", "tcp", "-d", cidr, "-m", "cgroup", "--path", rel, "-j", "SNAT",
                        "--to-source", probe.getHostAddress());
                if (ReplyRouting.run(nat(concat("-C", CHAIN, rule))) != 0) {
                    ReplyRouting.check(nat(concat("-A", CHAIN, rule)));
                }
            }
            log.info("kubelet probes (cgroup {}) to {} are SNATed to {}", rel, cidrs, probe.getHostAddress());
            return null;
        } catch (IOException e) {
            return e.getMessage();
        }
    }

    /** Removes what {@link #install} added (no-op when absent). */
    public static void uninstall() {
        try {
            for (int i = 0; i < 16 && ReplyRouting.run(nat("-D", "POSTROUTING", "-j", CHAIN)) == 0; i++) {
                // every copy
            }
            ReplyRouting.run(nat("-F", CHAIN));
            ReplyRouting.run(nat("-X", CHAIN));
        } catch (IOException e) {
            log.warn("probe SNAT not removed: {}", e.getMessage());
        }
    }

    private static String[] concat(String op, String chain, List<String> rule) {
        var all = new ArrayList<String>(List.of(op, chain));
        all.addAll(rule);
        return all.toArray(String[]::new);
    }

    private static List<String> nat(String... args) throws IOException {
        var cmd = new ArrayList<String>(List.of(ReplyRouting.tool("iptables"), "-w", "5", "-t", "nat"));
        cmd.addAll(List.of(args));
        return cmd;
    }
}
