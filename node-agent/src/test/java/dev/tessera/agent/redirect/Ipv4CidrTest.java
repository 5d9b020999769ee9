package dev.tessera.agent.redirect;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.InetAddress;
import org.junit.jupiter.api.Test;

class Ipv4CidrTest {

    @Test
    void parsesAndNormalises() throws Exception {
        assertThat(Ipv4Cidr.parse("198.18.7.9/15").toString()).isEqualTo("198.18.0.0/15");
        assertThat(Ipv4Cidr.parse("10.1.2.3").toString()).isEqualTo("10.1.2.3/32");
        assertThat(Ipv4Cidr.parse("0.0.0.0/0").contains(InetAddress.getByName("203.0.113.5"))).isTrue();
        assertThat(Ipv4Cidr.parse("198.18.0.0/15").contains(InetAddress.getByName("198.19.255.1"))).isTrue();
        assertThat(Ipv4Cidr.parse("198.18.0.0/15").contains(InetAddress.getByName("198.20.0.1"))).isFalse();
    }

    @Test
    void rejectsBadInputNamingIt() {
        for (String bad : new String[] {"198.18.0.0/33", "256.1.1.1/8", "fd00::/8", "198.18.0/16", "a/b", "1.2.3.4/"}) {
            assertThatThrownBy(() -> Ipv4Cidr.parse(bad))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("cidr: " + bad + " (expected: a.b.c.d/0-32)");
        }
    }
}
