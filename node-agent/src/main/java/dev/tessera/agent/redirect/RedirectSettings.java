package dev.tessera.agent.redirect;

import static java.util.Objects.requireNonNull;

import dev.tessera.agent.config.AgentConfig;
import dev.tessera.api.net.Ipv4Cidr;
import dev.tessera.api.net.Ipv6Cidr;
import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * What {@link BpfRedirector#install} needs.
 *
 * @param pinDir bpffs directory for this agent's pins, e.g. {@code /sys/fs/bpf/tessera}
 * @param cgroupDir cgroup v2 directory the programs attach to (an ancestor of every pod; see
 *     {@link Cgroups#v2Root()})
 * @param agentIp the IPv4 address of the agent's outbound listener (the node IP)
 * @param port the outbound listener's port (15001), on both addresses
 * @param meshCidrs captured destination prefixes of either family, {@code a.b.c.d/n} or {@code x:x::/n};
 *     native IPv6 destinations are captured only inside an IPv6 one
 * @param excludedAddresses destinations never captured, of either family: the node's own addresses
 *     (127.0.0.0/8, 169.254.0.0/16, ::, ::1, fe80::/10, {@code agentIp} and {@code agentIp6} are always
 *     excluded); at most {@value #MAX_EXCLUDED} per family
 * @param maxPods size of {@code tsr_enrolled} (meshed pods this node can hold)
 * @param agentIp6 the IPv6 address of the agent's outbound listener ({@code --node-ip6}), or null: then an
 *     enrolled pod's connect to an IPv6 mesh destination is refused (fail closed)
 */
public record RedirectSettings(
        Path pinDir,
        Path cgroupDir,
        InetAddress agentIp,
        int port,
        List<String> meshCidrs,
        List<InetAddress> excludedAddresses,
        int maxPods,
        InetAddress agentIp6) {

    /** The default {@code --max-pods}. */
    public static final int DEFAULT_MAX_PODS = 4096;

    /** Settings with the default map size and no IPv6 listener. */
    public RedirectSettings(Path pinDir, Path cgroupDir, InetAddress agentIp, int port, List<String> meshCidrs,
            List<InetAddress> excludedAddresses) {
        this(pinDir, cgroupDir, agentIp, port, meshCidrs, excludedAddresses, DEFAULT_MAX_PODS);
    }

    /** Settings without an IPv6 listener. */
    public RedirectSettings(Path pinDir, Path cgroupDir, InetAddress agentIp, int port, List<String> meshCidrs,
            List<InetAddress> excludedAddresses, int maxPods) {
        this(pinDir, cgroupDir, agentIp, port, meshCidrs, excludedAddresses, maxPods, null);
    }

    public RedirectSettings {
        if (maxPods < 1) {
            throw new IllegalArgumentException("maxPods: " + maxPods + " (expected: 1 or more)");
        }
        requireNonNull(pinDir, "pinDir");
        requireNonNull(cgroupDir, "cgroupDir");
        requireNonNull(agentIp, "agentIp");
        if (!(agentIp instanceof Inet4Address)) {
            throw new IllegalArgumentException("agentIp: " + agentIp.getHostAddress() + " (expected: IPv4)");
        }
        if (port < 1 || port > 65535) {
            throw new IllegalArgumentException("port: " + port + " (expected: 1-65535)");
        }
        meshCidrs = List.copyOf(requireNonNull(meshCidrs, "meshCidrs"));
        for (String c : meshCidrs) { // fails on the first bad one, naming it
            if (Ipv6Cidr.isIpv6(c)) {
                Ipv6Cidr.parse(c);
            } else {
                Ipv4Cidr.parse(c);
            }
        }
        excludedAddresses = List.copyOf(requireNonNull(excludedAddresses, "excludedAddresses"));
        long v6 = excludedAddresses.stream().filter(a -> a instanceof Inet6Address).count();
        long v4 = excludedAddresses.size() - v6;
        if (v4 > MAX_EXCLUDED || v6 > MAX_EXCLUDED) {
            throw new IllegalArgumentException("excludedAddresses: " + v4 + " IPv4 and " + v6 + " IPv6 addresses"
                    + " (expected: at most " + MAX_EXCLUDED + " per family)");
        }
        if (agentIp6 != null) {
            if (!(agentIp6 instanceof Inet6Address)) {
                throw new IllegalArgumentException("agentIp6: " + agentIp6.getHostAddress() + " (expected: IPv6)");
            }
            if (agentIp6.isAnyLocalAddress() || agentIp6.isLoopbackAddress() || agentIp6.isLinkLocalAddress()
                    || agentIp6.isMulticastAddress()) {
                throw new IllegalArgumentException("agentIp6: " + agentIp6.getHostAddress()
                        + " (expected: a global IPv6 address of the node, e.g. 2001:db8::1)");
            }
        }
    }

    /**
     * The agent's settings: its pin dir, {@code --cgroup} or the cgroup v2 mount, node IP, {@code --node-ip6}
     * and outbound port, {@code --mesh-cidr}s (all of IPv4 when none), with the node's own addresses excluded
     * (the node IPs and every address of the agent's network namespace, i.e. the node's; link-local and
     * loopback are never captured by the programs themselves).
     */
    public static RedirectSettings of(AgentConfig config) {
        return of(config, nodeAddresses());
    }

    /** Like {@link #of(AgentConfig)} with the node's other addresses given. */
    static RedirectSettings of(AgentConfig config, List<InetAddress> nodeAddresses) {
        Path cgroup = config.cgroupPath() != null ? config.cgroupPath() : Cgroups.v2Root();
        List<String> cidrs = config.meshCidrs().isEmpty() ? List.of("0.0.0.0/0") : config.meshCidrs();
        var excluded = new java.util.LinkedHashSet<InetAddress>();
        excluded.add(config.nodeIp());
        var excluded6 = new java.util.LinkedHashSet<InetAddress>();
        if (config.nodeIp6() != null) {
            excluded6.add(config.nodeIp6());
        }
        for (InetAddress a : nodeAddresses) {
            if (a.isLoopbackAddress() || a.isLinkLocalAddress() || a.isAnyLocalAddress()) {
                continue;
            }
            (a instanceof Inet4Address ? excluded : excluded6).add(a);
        }
        List<InetAddress> all = new ArrayList<>(List.copyOf(excluded).subList(0, Math.min(excluded.size(),
                MAX_EXCLUDED)));
        all.addAll(List.copyOf(excluded6).subList(0, Math.min(excluded6.size(), MAX_EXCLUDED)));
        return new RedirectSettings(config.bpfPinDir(), cgroup, config.nodeIp(), config.outboundPort(), cidrs, all,
                config.maxPods(), config.nodeIp6());
    }

    /** Capacity of the kernel's {@code tsr_excluded} and {@code tsr_excluded6} maps. */
    static final int MAX_EXCLUDED = 256;

    /** Every address of this network namespace's interfaces (the node's, for a host-network agent). */
    static List<InetAddress> nodeAddresses() {
        var out = new ArrayList<InetAddress>();
        try {
            var ifs = java.net.NetworkInterface.getNetworkInterfaces();
            while (ifs != null && ifs.hasMoreElements()) {
                out.addAll(java.util.Collections.list(ifs.nextElement().getInetAddresses()));
            }
        } catch (java.net.SocketException e) { // the node IP alone is still excluded
            org.slf4j.LoggerFactory.getLogger(RedirectSettings.class).warn("cannot list the node's addresses: {}",
                    e.toString());
        }
        return out;
    }

    /** The IPv4 mesh CIDRs, parsed. */
    public List<Ipv4Cidr> parsedMeshCidrs() {
        List<Ipv4Cidr> out = new ArrayList<>(meshCidrs.size());
        meshCidrs.stream().filter(c -> !Ipv6Cidr.isIpv6(c)).forEach(c -> out.add(Ipv4Cidr.parse(c)));
        return out;
    }

    /** The IPv6 mesh CIDRs, parsed (empty: no native IPv6 destination is captured). */
    public List<Ipv6Cidr> parsedMeshCidrs6() {
        List<Ipv6Cidr> out = new ArrayList<>();
        meshCidrs.stream().filter(Ipv6Cidr::isIpv6).forEach(c -> out.add(Ipv6Cidr.parse(c)));
        return out;
    }
}
