package dev.tessera.api.net;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.InetAddress;
import org.junit.jupiter.api.Test;

class Ipv6CidrTest {

    @Test
    void parsesAndPrintsTheShortForm() {
        Ipv6Cidr c = Ipv6Cidr.parse("2001:DB8::/32");
        assertThat(c.prefix()).isEqualTo(32);
        assertThat(c.networkBytes()).startsWith(0x20, 0x01, 0x0d, 0xb8, 0, 0);
        assertThat(c).hasToString("2001:db8::/32");
        assertThat(Ipv6Cidr.parse("::/0")).hasToString("::/0");
        assertThat(Ipv6Cidr.parse("2001:db8:0:1:0:0:0:0/64")).hasToString("2001:db8:0:1::/64");
        assertThat(Ipv6Cidr.parse("2001:db8::1/128")).hasToString("2001:db8::1/128");
        assertThat(Ipv6Cidr.parse("2001:db8:1:2:3:4:5:6/128")).hasToString("2001:db8:1:2:3:4:5:6/128");
    }

    @Test
    void containsAtEveryPrefixBoundary() throws Exception {
        assertThat(Ipv6Cidr.parse("2001:db8::/32").contains(InetAddress.getByName("2001:db8:ffff::1"))).isTrue();
        assertThat(Ipv6Cidr.parse("2001:db8::/32").contains(InetAddress.getByName("2001:db9::1"))).isFalse();
        assertThat(Ipv6Cidr.parse("2001:db8::/32").contains(InetAddress.getByName("198.18.0.1"))).isFalse();
        assertThat(Ipv6Cidr.parse("2001:db8:0:0:8000::/65").contains(InetAddress.getByName("2001:db8::8000:0:0:1")))
                .isTrue();
        assertThat(Ipv6Cidr.parse("2001:db8:0:0:8000::/65").contains(InetAddress.getByName("2001:db8::7fff:0:0:1")))
                .isFalse();
        assertThat(Ipv6Cidr.parse("2001:db8::1/128").contains(InetAddress.getByName("2001:db8::1"))).isTrue();
        assertThat(Ipv6Cidr.parse("2001:db8::1/128").contains(InetAddress.getByName("2001:db8::2"))).isFalse();
        assertThat(Ipv6Cidr.parse("::/0").contains(InetAddress.getByName("fe80::1"))).isTrue();
    }

    @Test
    void badInputNamesTheValueAndTheExpectedForm() {
        assertThatThrownBy(() -> Ipv6Cidr.parse("2001:db8::")).hasMessage("cidr: '2001:db8::' (expected: an IPv6"
                + " network x:x::/n)");
        assertThatThrownBy(() -> Ipv6Cidr.parse("2001:db8::/129")).hasMessage("cidr: '2001:db8::/129' (expected: an"
                + " IPv6 network x:x::/n with n in 0-128)");
        assertThatThrownBy(() -> Ipv6Cidr.parse("2001:db8::/x")).hasMessage("cidr: '2001:db8::/x' (expected: an IPv6"
                + " network x:x::/n with n in 0-128)");
        assertThatThrownBy(() -> Ipv6Cidr.parse("2001:db8::1/32")).hasMessage("cidr: '2001:db8::1/32' (expected: a"
                + " network address, e.g. 2001:db8::/32)");
        assertThatThrownBy(() -> Ipv6Cidr.parse("example.com:1/32")).hasMessage("cidr: 'example.com:1/32' (expected:"
                + " an IPv6 address, e.g. 2001:db8::1)");
        assertThatThrownBy(() -> Ipv6Cidr.parse("::ffff:198.18.0.0/120")).hasMessage("cidr: '::ffff:198.18.0.0/120'"
                + " (expected: a native IPv6 address, not an IPv4-mapped one)");
        assertThatThrownBy(() -> Ipv6Cidr.parse("fe80::%eth0/64")).hasMessageContaining("(expected: an IPv6 address");
    }
}
