package dev.tessera.api.net;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tessera.api.net.IpCidr.Family;
import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

/** Parsing, containment across families and the text forms of policy ipBlocks. */
class IpCidrTest {

    @ParameterizedTest
    @CsvSource({
        "198.18.0.0/15, IPV4, 15, 198.18.0.0/15",
        "0.0.0.0/0, IPV4, 0, 0.0.0.0/0",
        "198.18.7.1/32, IPV4, 32, 198.18.7.1/32",
        "2001:db8::/32, IPV6, 32, 2001:db8::/32",
        "2001:0DB8:0000::/48, IPV6, 48, 2001:db8::/48",
        "::/0, IPV6, 0, ::/0",
        "2001:db8::1/128, IPV6, 128, 2001:db8::1/128",
        "2001:db8:0:1::/64, IPV6, 64, 2001:db8:0:1::/64",
        "2001:db8:8000::/33, IPV6, 33, 2001:db8:8000::/33",
    })
    void parsesBothFamiliesAndPrintsTheCanonicalForm(String text, Family family, int prefix, String printed) {
        IpCidr c = IpCidr.parse(text);
        assertThat(c.family()).isEqualTo(family);
        assertThat(c.prefix()).isEqualTo(prefix);
        assertThat(c).hasToString(printed);
        assertThat(IpCidr.parse(printed)).isEqualTo(c);
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', quoteCharacter = '"', value = {
        "198.18.0.1/15 | cidr: '198.18.0.1/15' (expected: a network address, e.g. 198.18.0.0/15)",
        "2001:db8::1/32 | cidr: '2001:db8::1/32' (expected: a network address, e.g. 2001:db8::/32)",
        "2001:db8:8000::/32 | cidr: '2001:db8:8000::/32' (expected: a network address, e.g. 2001:db8::/32)",
        "2001:db8::/129 | cidr: '2001:db8::/129' (expected: a.b.c.d/n with n in 0-32, or x:x::x/n with n in 0-128)",
        "198.18.0.0/33 | cidr: '198.18.0.0/33' (expected: a.b.c.d/n with n in 0-32, or x:x::x/n with n in 0-128)",
        "2001:db8:: | cidr: '2001:db8::' (expected: a.b.c.d/n with n in 0-32, or x:x::x/n with n in 0-128)",
        "2001:db8::/x | cidr: '2001:db8::/x' (expected: a.b.c.d/n with n in 0-32, or x:x::x/n with n in 0-128)",
        "2001:db8::/+32 | cidr: '2001:db8::/+32' (expected: a.b.c.d/n with n in 0-32, or x:x::x/n with n in 0-128)",
        "2001:db8:::/32 | cidr: '2001:db8:::/32' (expected: a.b.c.d/n with n in 0-32, or x:x::x/n with n in 0-128)",
        "fe80::%eth0/64 | cidr: 'fe80::%eth0/64' (expected: a.b.c.d/n with n in 0-32, or x:x::x/n with n in 0-128)",
        "[2001:db8::]/32 | cidr: '[2001:db8::]/32' (expected: a.b.c.d/n with n in 0-32, or x:x::x/n with n in 0-128)",
        "example.com/32 | cidr: 'example.com/32' (expected: a.b.c.d/n with n in 0-32, or x:x::x/n with n in 0-128)",
        "::ffff:198.18.0.0/112 | cidr: '::ffff:198.18.0.0/112' (expected: an IPv4-mapped network written as IPv4, a.b.c.d/n)",
    })
    void refusesWithTheValueAndTheExpectedForm(String text, String message) {
        assertThatThrownBy(() -> IpCidr.parse(text)).isInstanceOf(IllegalArgumentException.class).hasMessage(message);
    }

    @ParameterizedTest
    @CsvSource({
        "198.18.0.0/15, 198.19.255.255, true",
        "198.18.0.0/15, 198.20.0.0, false",
        "198.18.0.0/15, 2001:db8::1, false",
        "0.0.0.0/0, 2001:db8::1, false",
        "::/0, 198.18.0.1, false",
        "::/0, 2001:db8::1, true",
        "2001:db8::/32, 2001:db8:ffff:ffff:ffff:ffff:ffff:ffff, true",
        "2001:db8::/32, 2001:db9::, false",
        "2001:db8:8000::/33, 2001:db8:7fff::1, false",
        "2001:db8:8000::/33, 2001:db8:8000::1, true",
        "2001:db8::1/128, 2001:db8::1, true",
        "2001:db8::1/128, 2001:db8::2, false",
    })
    void containsOnlyAddressesOfItsOwnFamily(String cidr, String address, boolean in) throws Exception {
        assertThat(IpCidr.parse(cidr).contains(InetAddress.getByName(address))).isEqualTo(in);
    }

    /** A dual-stack socket may show an IPv4 client as ::ffff:a.b.c.d: the same host, so the same blocks. */
    @Test
    void anIpv4MappedAddressIsJudgedAsItsIpv4Address() throws Exception {
        byte[] mapped = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, (byte) 0xff, (byte) 0xff, (byte) 198, 18, 0, 1};
        InetAddress v6 = Inet6Address.getByAddress(null, mapped, -1);
        assertThat(v6).isInstanceOf(Inet6Address.class); // not unmapped by the JDK this way
        assertThat(IpCidr.parse("198.18.0.0/15").contains(v6)).isTrue();
        assertThat(IpCidr.parse("198.18.0.1/32").contains(v6)).isTrue();
        assertThat(IpCidr.parse("203.0.113.0/24").contains(v6)).isFalse();
        assertThat(IpCidr.parse("::/0").contains(v6)).as("it is no IPv6 source").isFalse();
        assertThat(Family.of(v6)).isEqualTo(Family.IPV4);
        assertThat(IpCidr.unmapped(v6)).isInstanceOf(Inet4Address.class).isEqualTo(InetAddress.getByName("198.18.0.1"));
        assertThatThrownBy(() -> new IpCidr(v6, 128)).hasMessageContaining("written as IPv4");
    }

    @Test
    void networksNestOverlapAndHalveWithinOneFamily() {
        IpCidr v6 = IpCidr.parse("2001:db8::/32");
        assertThat(v6.contains(IpCidr.parse("2001:db8:1::/48"))).isTrue();
        assertThat(IpCidr.parse("2001:db8:1::/48").contains(v6)).isFalse();
        assertThat(v6.overlaps(IpCidr.parse("2001::/16"))).isTrue();
        assertThat(v6.overlaps(IpCidr.parse("2001:db9::/32"))).isFalse();
        assertThat(IpCidr.parse("0.0.0.0/0").overlaps(IpCidr.parse("::/0"))).as("never across families").isFalse();
        assertThat(IpCidr.parse("0.0.0.0/0").contains(IpCidr.parse("::/0"))).isFalse();
        assertThat(v6.half(false)).isEqualTo(IpCidr.parse("2001:db8::/33"));
        assertThat(v6.half(true)).isEqualTo(IpCidr.parse("2001:db8:8000::/33"));
        assertThat(IpCidr.parse("198.18.0.0/15").half(true)).isEqualTo(IpCidr.parse("198.19.0.0/16"));
        assertThat(IpCidr.parse("::/0").half(true)).isEqualTo(IpCidr.parse("8000::/1"));
        assertThatThrownBy(() -> IpCidr.parse("2001:db8::1/128").half(true)).isInstanceOf(IllegalStateException.class);
        assertThat(IpCidr.any(Family.IPV6)).isEqualTo(IpCidr.parse("::/0"));
        assertThat(IpCidr.any(Family.IPV4)).isEqualTo(IpCidr.parse("0.0.0.0/0"));
    }

    @Test
    void ipv4FormsAgreeWithIpv4Cidr() {
        for (String s : new String[] {"198.18.0.0/15", "0.0.0.0/0", "198.19.4.7/32", "128.0.0.0/1"}) {
            Ipv4Cidr v4 = Ipv4Cidr.parse(s);
            assertThat(IpCidr.of(v4)).isEqualTo(IpCidr.parse(s)).isEqualTo(IpCidr.ipv4(v4.network(), v4.prefix()));
            assertThat(IpCidr.of(v4).networkBytes()).hasSize(4);
        }
        assertThatThrownBy(() -> IpCidr.ipv4(Ipv4Cidr.parseAddress("198.18.0.1"), 24))
                .hasMessage("cidr: '198.18.0.1/24' (expected: a network address, e.g. 198.18.0.0/24)");
    }

    @ParameterizedTest
    @CsvSource({
        "2001:db8::1, 2001:db8::1",
        "2001:db8:0:0:1:0:0:1, 2001:db8::1:0:0:1",
        "2001:0:0:1:0:0:0:1, 2001:0:0:1::1",
        "2001:db8:0:1:1:1:1:1, 2001:db8:0:1:1:1:1:1",
        "::, ::",
        "::1, ::1",
        "fe80::, fe80::",
        "2001:DB8:AA:0:0:0:0:0, 2001:db8:aa::",
        "198.18.0.1, 198.18.0.1",
    })
    void addressesPrintAsRfc5952(String in, String out) throws Exception {
        assertThat(Addresses.format(InetAddress.getByName(in))).isEqualTo(out);
    }

    @Test
    void socketAddressesBracketIpv6() {
        assertThat(Addresses.format(new java.net.InetSocketAddress("2001:db8::1", 8080))).isEqualTo("[2001:db8::1]:8080");
        assertThat(Addresses.format(new java.net.InetSocketAddress("198.18.0.1", 8080))).isEqualTo("198.18.0.1:8080");
        assertThat(Addresses.format((java.net.InetSocketAddress) null)).isNull();
    }
}
