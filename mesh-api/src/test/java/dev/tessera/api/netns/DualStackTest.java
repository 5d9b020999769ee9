package dev.tessera.api.netns;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tessera.api.netns.NetworkAttachments.NodeAttachment;
import dev.tessera.api.netns.NetworkAttachments.PodAttachment;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The IPv6 side of a dual-stack local cluster: derived from the IPv4 plan, written to and read from network.json. */
class DualStackTest {

    @Test
    void everyIpv4AddressAndNetworkHasItsIpv6TwinInTheDocumentationPrefix() {
        assertThat(DualStack.ipv6Of("198.18.0.1")).isEqualTo("2001:db8::c612:1");
        assertThat(DualStack.ipv6Of("198.18.1.5")).isEqualTo("2001:db8::c612:105");
        assertThat(DualStack.ipv6Of("198.19.255.254")).isEqualTo("2001:db8::c613:fffe");
        assertThat(DualStack.inet6Of("198.18.1.5").getHostAddress()).isEqualTo("2001:db8:0:0:0:0:c612:105");
        assertThat(DualStack.cidr6Of("198.18.1.0/24")).isEqualTo("2001:db8::c612:100/120");
        assertThat(DualStack.cidr6Of("198.18.128.0/17")).isEqualTo("2001:db8::c612:8000/113");
    }

    @Test
    void networkJsonCarriesTheFlagAndReadsBackTheSame() {
        var n = new NetworkAttachments("c", List.of(new NodeAttachment("node1", "198.18.0.1", "198.18.1.0/24", "/x")),
                List.of(new PodAttachment("shop", "a", "node1", "198.18.1.2", "/y")));
        assertThat(NetworkAttachments.parse(n.toJson())).isEqualTo(n);
        assertThat(n.toJson()).doesNotContain("dualStack").doesNotContain("ip6");
        assertThat(n.ip6(n.pods().get(0))).isEmpty();

        var dual = n.withDualStack(true);
        assertThat(dual.toJson()).contains("\"dualStack\" : true").contains("\"ip6\" : \"2001:db8::c612:102\"")
                .contains("\"podCidr6\" : \"2001:db8::c612:100/120\"");
        assertThat(NetworkAttachments.parse(dual.toJson())).isEqualTo(dual);
        assertThat(dual.ip6(dual.nodes().get(0))).contains("2001:db8::c612:1");
        assertThatThrownBy(() -> NetworkAttachments.parse(dual.toJson().replace("\"dualStack\" : true", "\"dualStack\" : 1")))
                .hasMessageContaining("network.dualStack: 1 (expected: true or false)");
    }
}
