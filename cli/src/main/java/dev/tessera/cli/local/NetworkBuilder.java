package dev.tessera.cli.local;

import dev.tessera.api.netns.NetworkAttachments.NodeAttachment;
import dev.tessera.api.netns.NetworkAttachments.PodAttachment;
import dev.tessera.api.netns.NetworkAttachments;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The "CNI" of a local cluster: creates the namespaces, veths, addresses and routes that
 * {@link ClusterState} lists. Every veth is created directly between two of the cluster's namespaces,
 * so its short names ({@code v1}, {@code p2}, {@code eth0}) never meet the host's interfaces.
 */
final class NetworkBuilder {

    private static final String BRIDGE = "br0";

    private final NetnsCluster cluster;
    private final ClusterState state;
    private final NetworkAttachments network;

    NetworkBuilder(NetnsCluster cluster) {
        this.cluster = cluster;
        this.state = cluster.state();
        this.network = cluster.network();
    }

    void build() throws IOException {
        ensureBpffs();
        String fabric = state.fabricNetns();
        addNetns(fabric);
        ip(fabric, "link", "add", BRIDGE, "type", "bridge");
        ip(fabric, "link", "set", BRIDGE, "up");
        for (NodeAttachment n : network.nodes()) {
            String ns = name(n.netns());
            String veth = state.fabricVeths().get(n.name());
            addNetns(ns);
            ip(fabric, "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns);
            ip(fabric, "link", "set", veth, "master", BRIDGE);
            ip(fabric, "link", "set", veth, "up");
            ip(ns, "addr", "add", n.ip() + "/24", "dev", "eth0");
            if (network.dualStack()) { // the fabric's IPv6 /120 embeds its IPv4 /24 (DualStack)
                ip(ns, "-6", "addr", "add", network.ip6(n).orElseThrow() + "/120", "dev", "eth0", "nodad");
            }
            ip(ns, "link", "set", "eth0", "up");
            Sh.run("nsenter", "--net=" + n.netns(), "--", "sysctl", "-qw", "net.ipv4.ip_forward=1");
            if (network.dualStack()) {
                Sh.run("nsenter", "--net=" + n.netns(), "--", "sysctl", "-qw", "net.ipv6.conf.all.forwarding=1");
            }
        }
        String cp = name(cluster.controlPlaneNetns().toString());
        addNetns(cp);
        ip(fabric, "link", "add", NetnsCluster.CONTROLLER_VETH, "type", "veth", "peer", "name", "eth0", "netns", cp);
        ip(fabric, "link", "set", NetnsCluster.CONTROLLER_VETH, "master", BRIDGE);
        ip(fabric, "link", "set", NetnsCluster.CONTROLLER_VETH, "up");
        ip(cp, "addr", "add", NetnsCluster.CONTROLLER_IP + "/24", "dev", "eth0");
        ip(cp, "link", "set", "eth0", "up");
        for (NodeAttachment n : network.nodes()) {
            for (NodeAttachment other : network.nodes()) {
                if (!other.name().equals(n.name())) {
                    ip(name(n.netns()), "route", "add", other.podCidr(), "via", other.ip(), "dev", "eth0");
                    if (network.dualStack()) {
                        ip(name(n.netns()), "-6", "route", "add", network.podCidr6(other).orElseThrow(), "via",
                                network.ip6(other).orElseThrow(), "dev", "eth0");
                    }
                }
            }
        }
        for (PodAttachment p : network.pods()) {
            NodeAttachment n = cluster.node(p.node());
            String nodeNs = name(n.netns());
            String ns = name(p.netns());
            String veth = state.podVeths().get(p.key());
            addNetns(ns);
            ip(nodeNs, "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns);
            ip(nodeNs, "link", "set", veth, "up");
            ip(nodeNs, "route", "add", p.ip() + "/32", "dev", veth);
            ip(ns, "addr", "add", p.ip() + "/32", "dev", "eth0");
            ip(ns, "link", "set", "eth0", "up");
            ip(ns, "route", "add", n.ip(), "dev", "eth0", "scope", "link");
            ip(ns, "route", "add", "default", "via", n.ip(), "dev", "eth0");
            if (network.dualStack()) {
                // A node answers neighbour solicitations only for addresses of the interface they arrive on, so
                // the pod's IPv6 gateway is a link-local address on the node's end of the veth (as CNIs do).
                String pod6 = network.ip6(p).orElseThrow();
                ip(nodeNs, "-6", "addr", "add", POD_GATEWAY6 + "/64", "dev", veth, "nodad");
                ip(nodeNs, "-6", "route", "add", pod6 + "/128", "dev", veth);
                ip(ns, "-6", "addr", "add", pod6 + "/128", "dev", "eth0", "nodad");
                ip(ns, "-6", "route", "add", "default", "via", POD_GATEWAY6, "dev", "eth0");
            }
        }
    }

    /** The IPv6 gateway of every pod: a link-local address on its node's end of the veth. */
    static final String POD_GATEWAY6 = "fe80::1";

    private void addNetns(String ns) throws IOException {
        Sh.run("ip", "netns", "add", ns);
        if (network.dualStack()) { // before any link exists: links created here take these defaults
            Sh.run("ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.all.accept_dad=0",
                    "net.ipv6.conf.default.accept_dad=0");
        }
        ip(ns, "link", "set", "lo", "up");
    }

    private static void ip(String netns, String... args) throws IOException {
        String[] cmd = new String[args.length + 3];
        cmd[0] = "ip";
        cmd[1] = "-n";
        cmd[2] = netns;
        System.arraycopy(args, 0, cmd, 3, args.length);
        Sh.run(cmd);
    }

    private static String name(String netnsPath) {
        return Path.of(netnsPath).getFileName().toString();
    }

    /** Agents pin under /sys/fs/bpf: mount bpffs there if the machine has not. */
    static void ensureBpffs() throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/mounts"))) {
            String[] f = line.split(" ");
            if (f.length > 2 && f[1].equals("/sys/fs/bpf") && f[2].equals("bpf")) {
                return;
            }
        }
        Sh.run("mount", "-t", "bpf", "bpf", "/sys/fs/bpf");
    }
}
