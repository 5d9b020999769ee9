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
 * (default 169.254.7.127), in the node's network namespace. The kernel program recognises the kubelet
 * ({@code tsr_probe} in {@code tessera_redirect.h}: connect4/connect6 compare {@code bpf_get_current_cgroup_id()}
 * with the kubelet cgroup's id and set the socket mark {@code --probe-mark}), and iptables SNATs what carries
 * the mark:
 * <pre>
 * iptables -t nat -N TESSERA-PROBES
 * iptables -t nat -I POSTROUTING -j TESSERA-PROBES
 * iptables -t nat -A TESSERA-PROBES -d CIDR -p tcp -m mark --mark MARK/MARK -j SNAT --to-source PROBE  # per mesh CIDR
 * </pre>
 * Not {@code -m cgroup --path}: iptables resolves that path in the cgroup namespace of the process adding the
 * rule, and a DaemonSet's agent has its own, where {@code system.slice/kubelet.service} does not exist. The
 * cgroup id is the inode of the kubelet's directory under the host's cgroup v2 mount the agent attaches to
 * ({@code --cgroup}), the same in every namespace; it changes when systemd recreates the kubelet's cgroup, so
 * the agent re-reads it ({@link #cgroupId}) periodically.
 *
 * <p>The ingress program ({@code peerauth.bpf.c}) then trusts the probe address instead of the node address. The
 * pod answers the probe address through its default route to the node, where conntrack reverses the SNAT.
 * Installed idempotently at every start (wanted rules added first, then any other rule of the chain, such as an
 * older agent's {@code -m cgroup} rule, removed), kept when the agent stops (an upgrade's probes keep passing),
 * removed by {@code --uninstall}. Shells out to {@code iptables} as {@link ReplyRouting} does.
 */
public final class ProbeSnat {

    private static final Logger log = LoggerFactory.getLogger(ProbeSnat.class);
    static final String CHAIN = "TESSERA-PROBES";

    private ProbeSnat() {}

    /** Where the kubelet's cgroup is found: its directory under the cgroup v2 directory the programs attach to. */
    public static Path cgroupDir(Path cgroupRoot, String cgroup) {
        String rel = cgroup.startsWith("/") ? cgroup.substring(1) : cgroup;
        return cgroupRoot.resolve(rel);
    }

    /** The kubelet cgroup's id (its directory's inode), or 0 when it does not exist now. */
    public static long cgroupId(Path cgroupRoot, String cgroup) {
        if (cgroup.isEmpty()) {
            return 0;
        }
        Path dir = cgroupDir(cgroupRoot, cgroup);
        try {
            return Files.isDirectory(dir) ? Cgroups.id(dir) : 0;
        } catch (RuntimeException e) {
            return 0; // removed between the check and the stat
        }
    }

    /**
     * Installs the SNAT of connections marked {@code mark} to {@code cidrs}; the caller then writes the kubelet's
     * cgroup id to the kernel program ({@link BpfRedirector#markProbes}).
     *
     * @param cgroupRoot the cgroup v2 directory the programs attach to (to say early that the cgroup is missing)
     * @return null when in place, else why not (the caller then keeps trusting the node address)
     */
    public static String install(Path cgroupRoot, String cgroup, List<String> cidrs, Inet4Address probe, int mark) {
        if (cgroup.isEmpty()) {
            return "--probe-cgroup is empty";
        }
        if (!Files.isDirectory(cgroupDir(cgroupRoot, cgroup))) {
            return "cgroup " + cgroup + " not found under " + cgroupRoot
                    + " (hint: --probe-cgroup names the kubelet's cgroup v2, relative to --cgroup)";
        }
        if (cidrs.isEmpty()) {
            return "no --mesh-cidr to restrict the SNAT to";
        }
        String markSpec = String.format("0x%x/0x%x", mark, mark);
        try {
            if (ReplyRouting.run(nat("-L", CHAIN, "-n")) != 0) {
                ReplyRouting.check(nat("-N", CHAIN));
            }
            if (ReplyRouting.run(nat("-C", "POSTROUTING", "-j", CHAIN)) != 0) {
                ReplyRouting.check(nat("-I", "POSTROUTING", "-j", CHAIN));
            }
            for (String cidr : cidrs) {
                List<String> rule = List.of("-d", cidr, "-p", "tcp", "-m", "mark", "--mark", markSpec, "-j", "SNAT",
                        "--to-source", probe.getHostAddress());
                if (ReplyRouting.run(nat(concat("-C", CHAIN, rule))) != 0) {
                    ReplyRouting.check(nat(concat("-A", CHAIN, rule)));
                }
            }
            removeOthers(cidrs, markSpec, probe);
            log.info("kubelet probes (cgroup {}, socket mark {}) to {} are SNATed to {}", cgroup, markSpec, cidrs,
                    probe.getHostAddress());
            return null;
        } catch (IOException e) {
            return e.getMessage();
        }
    }

    /** Deletes, by number, every rule of the chain that is not one of the wanted ones (e.g. an older agent's). */
    private static void removeOthers(List<String> cidrs, String markSpec, Inet4Address probe) throws IOException {
        List<String> lines = ReplyRouting.output(nat("-S", CHAIN)).lines()
                .filter(l -> l.startsWith("-A " + CHAIN + " ")).toList();
        for (int i = lines.size(); i >= 1; i--) {
            if (!wanted(lines.get(i - 1), cidrs, markSpec, probe)) {
                ReplyRouting.check(nat("-D", CHAIN, String.valueOf(i)));
            }
        }
    }

    /** {@code a.b.c.d/n} with the host bits cleared, as iptables prints it; anything else unchanged. */
    static String canonical(String cidr) {
        int slash = cidr.indexOf('/');
        String[] o = (slash < 0 ? cidr : cidr.substring(0, slash)).split("\\.");
        if (o.length != 4) {
            return cidr;
        }
        try {
            int prefix = slash < 0 ? 32 : Integer.parseInt(cidr.substring(slash + 1));
            long ip = 0;
            for (String part : o) {
                ip = ip << 8 | Integer.parseInt(part);
            }
            long mask = prefix == 0 ? 0 : 0xFFFFFFFFL << (32 - prefix) & 0xFFFFFFFFL;
            ip &= mask;
            return (ip >> 24 & 255) + "." + (ip >> 16 & 255) + "." + (ip >> 8 & 255) + "." + (ip & 255) + "/" + prefix;
        } catch (NumberFormatException e) {
            return cidr;
        }
    }

    /** Whether an {@code iptables -S} line is one of the rules {@link #install} wants. */
    static boolean wanted(String line, List<String> cidrs, String markSpec, Inet4Address probe) {
        List<String> t = List.of(line.trim().split("\\s+"));
        int d = t.indexOf("-d");
        int m = t.indexOf("--mark");
        int to = t.indexOf("--to-source");
        return !t.contains("cgroup") && d > 0 && m > 0 && to > 0 && d + 1 < t.size() && m + 1 < t.size()
                && to + 1 < t.size() && cidrs.stream().anyMatch(c -> canonical(c).equals(canonical(t.get(d + 1))))
                && t.get(m + 1).equals(markSpec)
                && t.get(to + 1).equals(probe.getHostAddress());
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
