package dev.tessera.agent.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.InetAddress;
import org.junit.jupiter.api.Test;

/** {@code --node-ip6}: optional; when given, a global IPv6 address of the node. */
class NodeIp6FlagTest {

    @Test
    void optionalAndAbsentByDefault() {
        assertThat(AgentArgs.parse().nodeIp6()).isNull();
    }

    @Test
    void aGlobalIpv6Address() throws Exception {
        assertThat(AgentArgs.parse("--node-ip6", "2001:db8::1").nodeIp6())
                .isEqualTo(InetAddress.getByName("2001:db8::1"));
    }

    @Test
    void badValuesNameTheFlagAndTheExpectedValue() {
        String expected = " (expected: this node's global IPv6 address, e.g. 2001:db8::1)";
        for (String bad : new String[] {"198.18.0.1", "::ffff:198.18.0.1", "::1", "::", "fe80::1", "ff02::1"}) {
            assertThatThrownBy(() -> AgentArgs.parse("--node-ip6", bad)).as(bad)
                    .hasMessage("--node-ip6: '" + bad + "'" + expected);
        }
        assertThatThrownBy(() -> AgentArgs.parse("--node-ip6", "node-1:x"))
                .hasMessage("--node-ip6: 'node-1:x' (expected: an IP address literal)");
    }

    @Test
    void theDaemonSetsHostIpsListGivesTheIpv6AddressUnlessNodeIp6IsGiven() throws Exception {
        assertThat(AgentArgs.parse("--node-ips", "198.18.0.1,2001:db8::5").nodeIp6())
                .isEqualTo(InetAddress.getByName("2001:db8::5"));
        assertThat(AgentArgs.parse("--node-ips", "2001:db8::5, 198.18.0.1").nodeIp6())
                .isEqualTo(InetAddress.getByName("2001:db8::5"));
        assertThat(AgentArgs.parse("--node-ips", "198.18.0.1").nodeIp6()).as("single-stack").isNull();
        assertThat(AgentArgs.parse("--node-ips", "").nodeIp6()).as("status.hostIPs not filled in").isNull();
        assertThat(AgentArgs.parse("--node-ips", "198.18.0.1,2001:db8::5", "--node-ip6", "2001:db8::9").nodeIp6())
                .isEqualTo(InetAddress.getByName("2001:db8::9"));
    }

    @Test
    void aBadHostIpsListNamesTheFlag() {
        assertThatThrownBy(() -> AgentArgs.parse("--node-ips", "198.18.0.1,,2001:db8::5"))
                .hasMessage("--node-ips: '198.18.0.1,,2001:db8::5' (expected: the node's addresses, comma-separated,"
                        + " e.g. 10.0.0.5,2001:db8::5)");
        assertThatThrownBy(() -> AgentArgs.parse("--node-ips", "198.18.0.1,fe80::1"))
                .hasMessage("--node-ip6: 'fe80::1' (expected: this node's global IPv6 address, e.g. 2001:db8::1)");
        assertThatThrownBy(() -> AgentArgs.parse("--node-ips", "node1")).hasMessageStartingWith("--node-ips: 'node1'");
    }
}
