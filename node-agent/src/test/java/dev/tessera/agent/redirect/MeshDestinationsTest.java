package dev.tessera.agent.redirect;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tessera.api.identity.SpiffeId;
import dev.tessera.api.model.MeshSnapshot;
import dev.tessera.api.model.NodeInfo;
import dev.tessera.api.model.Service;
import dev.tessera.api.model.Workload;
import dev.tessera.api.net.Ipv4Cidr;
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
        assertThat(MeshDestinations.of(snapshot)).containsExactlyInAnyOrder(
                Ipv4Cidr.parseAddress("198.18.1.2"), Ipv4Cidr.parseAddress("198.18.2.2"),
                Ipv4Cidr.parseAddress("198.19.0.10"));
    }

    @Test
    void address0IsNeverAMember() throws Exception {
        // Key 0 marks the kernel set complete; 0.0.0.0 itself is never captured.
        var snapshot = new MeshSnapshot(1, List.of(node()), List.of(workload("zero", "0.0.0.0", true)));
        assertThat(MeshDestinations.of(snapshot)).isEmpty();
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
