package dev.tessera.agent.redirect;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tessera.api.identity.SpiffeId;
import dev.tessera.api.model.MeshSnapshot;
import dev.tessera.api.model.NodeInfo;
import dev.tessera.api.model.Service;
import dev.tessera.api.model.Workload;
import dev.tessera.api.net.Ipv4Cidr;
import dev.tessera.api.net.Ipv6Cidr;
import java.net.InetAddress;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Which destinations the kernel captures, from the mesh state (the kernel side is in RedirectNetnsIT). */
class MeshDestinationsTest {

    private static final SpiffeId ID = new SpiffeId("cluster.local", "shop", "default");

    @Test
    void meshedWorkloadsAndServiceVipsOnlyNeverNonMeshedPods() throws Exception {
        var snapshot = new MeshSnapshot(1, List.of(node()), List.of(
                workload("a", "198.18.1.2", true), workload("b", "198.18.2.2", true),
                workload("plain", "198.18.1.9", false)), List.of(service("198.19.0.10")));
        assertThat(MeshDestinations.of(snapshot).ipv4()).containsExactlyInAnyOrder(
                Ipv4Cidr.parseAddress("198.18.1.2"), Ipv4Cidr.parseAddress("198.18.2.2"),
                Ipv4Cidr.parseAddress("198.19.0.10"));
        assertThat(MeshDestinations.of(snapshot).ipv6()).isEmpty();
    }

    @Test
    void ipv6WorkloadsAndVipsGoToTheIpv6SetEachAddressToItsFamily() throws Exception {
        var snapshot = new MeshSnapshot(1, List.of(node()), List.of(
                workload("a", "2001:db8:1::2", true), workload("b", "198.18.2.2", true),
                workload("plain", "2001:db8:1::9", false)),
                List.of(service("2001:db8:f::10"), new Service("shop", "dual", List.of(
                        InetAddress.getByName("198.19.0.11"), InetAddress.getByName("2001:db8:f::11")),
                        List.of(new Service.Port("tcp", 80, 8080)), List.of())));
        var wanted = MeshDestinations.of(snapshot);
        assertThat(wanted.ipv4()).containsExactlyInAnyOrder(Ipv4Cidr.parseAddress("198.18.2.2"),
                Ipv4Cidr.parseAddress("198.19.0.11"));
        assertThat(wanted.ipv6()).containsExactlyInAnyOrder(ip6("2001:db8:1::2"), ip6("2001:db8:f::10"),
                ip6("2001:db8:f::11"));
        assertThat(wanted.size()).isEqualTo(5);
    }

    @Test
    void anIpv6WorkloadIsACaptureGapOnlyOnceIpv6CaptureIsAskedFor() throws Exception {
        var snapshot = new MeshSnapshot(1, List.of(node()), List.of(workload("a", "198.18.1.2", true),
                workload("v6", "2001:db9::5", true), workload("in", "2001:db8::5", true)));
        var v4 = List.of(Ipv4Cidr.parse("198.18.0.0/15"));
        assertThat(BpfRedirector.captureGap(snapshot, v4)).as("no IPv6 --mesh-cidr: IPv6 is not captured at all")
                .isNull();
        assertThat(BpfRedirector.captureGap(snapshot, v4, List.of(Ipv6Cidr.parse("2001:db8::/32")))).isEqualTo(
                "1 meshed workload(s) outside --mesh-cidr [198.18.0.0/15, 2001:db8::/32] (e.g. shop/v6 at"
                        + " 2001:db9:0:0:0:0:0:5): their traffic is not captured (expected: --mesh-cidr set to the"
                        + " cluster's pod and service CIDRs)");
        assertThat(BpfRedirector.captureGap(snapshot, v4, List.of(Ipv6Cidr.parse("2001:db8::/31")))).isNull();
    }

    @Test
    void aDualStackPodGoesToBothSetsAndIsAGapWhenOneOfItsAddressesIsOutside() throws Exception {
        Workload dual = workload("dual", "198.18.1.2", true).withOtherIps(List.of(InetAddress.getByName("2001:db8::2")));
        var snapshot = new MeshSnapshot(1, List.of(node()), List.of(dual));
        var wanted = MeshDestinations.of(snapshot);
        assertThat(wanted.ipv4()).containsExactly(Ipv4Cidr.parseAddress("198.18.1.2"));
        assertThat(wanted.ipv6()).containsExactly(ip6("2001:db8::2"));
        var v4 = List.of(Ipv4Cidr.parse("198.18.0.0/15"));
        assertThat(BpfRedirector.captureGap(snapshot, v4, List.of(Ipv6Cidr.parse("2001:db8::/32")))).isNull();
        assertThat(BpfRedirector.captureGap(snapshot, v4, List.of(Ipv6Cidr.parse("2001:db9::/32"))))
                .startsWith("1 meshed workload(s) outside --mesh-cidr [198.18.0.0/15, 2001:db9::/32] (e.g. shop/dual at"
                        + " 2001:db8:0:0:0:0:0:2)");
    }

    private static MeshDestinations.Ip6 ip6(String ip) {
        return MeshDestinations.Ip6.of(Ipv6Cidr.parseAddress(ip));
    }

    @Test
    void address0IsNeverAMember() throws Exception {
        // Key 0 marks the kernel set complete; 0.0.0.0 itself is never captured.
        var snapshot = new MeshSnapshot(1, List.of(node()), List.of(workload("zero", "0.0.0.0", true)));
        assertThat(MeshDestinations.of(snapshot).ipv4()).isEmpty();
    }

    @Test
    void aMeshedWorkloadOutsideTheMeshCidrsIsAReadinessGapNamingIt() throws Exception {
        var snapshot = new MeshSnapshot(1, List.of(node()), List.of(workload("a", "198.18.1.2", true),
                workload("b", "10.0.0.5", true), workload("plain", "10.0.0.6", false)));
        assertThat(BpfRedirector.captureGap(snapshot, List.of(Ipv4Cidr.parse("198.18.0.0/15")))).isEqualTo(
                "1 meshed workload(s) outside --mesh-cidr [198.18.0.0/15] (e.g. shop/b at 10.0.0.5): their traffic is"
                        + " not captured (expected: --mesh-cidr set to the cluster's pod and service CIDRs)");
        assertThat(BpfRedirector.captureGap(snapshot, List.of(Ipv4Cidr.parse("0.0.0.0/0")))).isNull();
    }

    private static NodeInfo node() throws Exception {
        return new NodeInfo("n1", InetAddress.getByName("198.18.0.1"), "198.18.1.0/24");
    }

    private static Workload workload(String name, String ip, boolean meshed) throws Exception {
        return new Workload("shop", name, "n1", InetAddress.getByName(ip), "default", Map.of(), meshed, ID);
    }

    private static Service service(String vip) throws Exception {
        return new Service("shop", "svc", List.of(InetAddress.getByName(vip)), List.of(new Service.Port("tcp", 80, 8080)),
                List.of());
    }
}
