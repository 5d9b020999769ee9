package dev.tessera.agent.redirect;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.Inet4Address;
import java.net.InetAddress;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Which rules of TESSERA-PROBES a start keeps: its own, as {@code iptables -S} prints them, and no other. */
class ProbeSnatRulesTest {

    private static final List<String> CIDRS = List.of("198.18.1.0/24", "10.244.7.9/16");

    private static Inet4Address probe() throws Exception {
        return (Inet4Address) InetAddress.getByName("169.254.7.127");
    }

    @Test
    void keepsTheMarkRulePerMeshCidrAsIptablesPrintsIt() throws Exception {
        assertThat(ProbeSnat.wanted("-A TESSERA-PROBES -d 198.18.1.0/24 -p tcp -m mark --mark 0x4000/0x4000 -j SNAT"
                + " --to-source 169.254.7.127", CIDRS, "0x4000/0x4000", probe())).isTrue();
        // iptables prints the network of a CIDR given with host bits
        assertThat(ProbeSnat.wanted("-A TESSERA-PROBES -d 10.244.0.0/16 -p tcp -m mark --mark 0x4000/0x4000 -j SNAT"
                + " --to-source 169.254.7.127", CIDRS, "0x4000/0x4000", probe())).isTrue();
    }

    @Test
    void removesAnOlderAgentsCgroupPathRuleAndRulesOfAnotherMarkAddressOrCidr() throws Exception {
        for (String line : List.of(
                "-A TESSERA-PROBES -d 198.18.1.0/24 -p tcp -m cgroup --path system.slice/kubelet.service -j SNAT"
                        + " --to-source 169.254.7.127",
                "-A TESSERA-PROBES -d 198.18.1.0/24 -p tcp -m mark --mark 0x8000/0x8000 -j SNAT --to-source 169.254.7.127",
                "-A TESSERA-PROBES -d 198.18.1.0/24 -p tcp -m mark --mark 0x4000/0x4000 -j SNAT --to-source 169.254.9.9",
                "-A TESSERA-PROBES -d 198.18.2.0/24 -p tcp -m mark --mark 0x4000/0x4000 -j SNAT --to-source 169.254.7.127",
                "-A TESSERA-PROBES -j ACCEPT")) {
            assertThat(ProbeSnat.wanted(line, CIDRS, "0x4000/0x4000", probe())).as(line).isFalse();
        }
    }

    @Test
    void canonicalClearsHostBits() {
        assertThat(ProbeSnat.canonical("10.244.7.9/16")).isEqualTo("10.244.0.0/16");
        assertThat(ProbeSnat.canonical("198.18.0.1")).isEqualTo("198.18.0.1/32");
        assertThat(ProbeSnat.canonical("0.0.0.0/0")).isEqualTo("0.0.0.0/0");
        assertThat(ProbeSnat.canonical("fd00::/8")).isEqualTo("fd00::/8");
    }
}
