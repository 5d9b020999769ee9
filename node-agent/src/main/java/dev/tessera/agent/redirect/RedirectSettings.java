package dev.tessera.agent.redirect;

import static java.util.Objects.requireNonNull;

import dev.tessera.agent.config.AgentConfig;
import dev.tessera.api.net.Ipv4Cidr;
import java.net.Inet4Address;
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
 * @param port the outbound listener's port (15001)
 * @param meshCidrs captured destination prefixes, {@code a.b.c.d/n}
 * @param excludedAddresses destinations never captured: the node's own addresses (127.0.0.0/8 and
 *     {@code agentIp} are always excluded)
 * @param maxPods size of {@code tsr_enrolled} (meshed pods this node can hold)
 */
public record RedirectSettings(
        Path pinDir,
        Path cgroupDir,
        InetAddress agentIp,
        int port,
        List<String> meshCidrs,
        List<InetAddress> excludedAddresses,
        int maxPods) {

    /** The default {@code --max-pods}. */
    public static final int DEFAULT_MAX_PODS = 4096;

    /** Settings with the default map size. */
    public RedirectSettings(Path pinDir, Path cgroupDir, InetAddress agentIp, int port, List<String> meshCidrs,
            List<InetAddress> excludedAddresses) {
        this(pinDir, cgroupDir, agentIp, port, meshCidrs, excludedAddresses, DEFAULT_MAX_PODS);
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
        meshCidrs.forEach(Ipv4Cidr::parse); // fails on the first bad one, naming it
        excludedAddresses = List.copyOf(requireNonNull(excludedAddresses, "excludedAddresses"));
        for (InetAddress a : excludedAddresses) {
            if (!(a instanceof Inet4Address)) {
                throw new IllegalArgumentException(
                        "excludedAddresses: " + a.getHostAddress() + " (expected: IPv4)");
            }
        }
    }

    /**
     * The agent's settings: its pin dir, {@code --cgroup} or the cgroup v2 mount, node IP and outbound
     * port, {@code --mesh-cidr}s (all of IPv4 when none), with the node's own addresses excluded (the node
     * IP and every IPv4 address of the agent's network namespace, i.e. the node's; link-local and loopback
     * are never captured by the programs themselves).
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
        for (InetAddress a : nodeAddresses) {
            if (a instanceof Inet4Address && !a.isLoopbackAddress() && !a.isLinkLocalAddress()) {
                excluded.add(a);
            }
        }
        return new RedirectSettings(config.bpfPinDir(), cgroup, config.nodeIp(), config.outboundPort(), cidrs,
                List.copyOf(excluded).subList(0, Math.min(excluded.size(), MAX_EXCLUDED)), config.maxPods());
    }

    /** Capacity of the kernel's {@code tsr_excluded} map. */
    static final int MAX_EXCLUDED = 256;

    /** Every IPv4 address of this network namespace's interfaces (the node's, for a host-network agent). */
    static List<InetAddress> nodeAddresses() {
        var out = new ArrayList<InetAddress>();
        try {
            var ifs = java.net.NetworkInterface.getNetworkInterfaces();
            while (ifs != null && ifs.hasMoreElements()) {
                for (var a : java.util.Collections.list(ifs.nextElement().getInetAddresses())) {
                    if (a instanceof Inet4Address) {
                        out.add(a);
                    }
                }
            }
        } catch (java.net.SocketException e) { // the node IP alone is still excluded
            org.slf4j.LoggerFactory.getLogger(RedirectSettings.class).warn("cannot list the node's addresses: {}",
                    e.toString());
        }
        return out;
    }

    /** The mesh CIDRs, parsed. */
    public List<Ipv4Cidr> parsedMeshCidrs() {
        List<Ipv4Cidr> out = new ArrayList<>(meshCidrs.size());
        meshCidrs.forEach(c -> out.add(Ipv4Cidr.parse(c)));
        return out;
    }
}
