package dev.tessera.api.net;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** {@link Ipv4Cidr#parseAddress}: the ASCII fast path accepts and refuses exactly what the general loop does. */
class Ipv4CidrParseTest {

    @ParameterizedTest
    @ValueSource(strings = {"0.0.0.0", "198.18.0.1", "255.255.255.255", "10.0.0.01", "001.2.3.4", "1.22.133.255"})
    void acceptsDottedQuads(String ip) throws Exception {
        byte[] expected = java.net.InetAddress.getByName(ip.replaceAll("(^|\\.)0+(\\d)", "$1$2")).getAddress();
        int v = Ipv4Cidr.parseAddress(ip);
        assertThat(new byte[] {(byte) (v >>> 24), (byte) (v >>> 16), (byte) (v >>> 8), (byte) v}).isEqualTo(expected);
    }

    @ParameterizedTest
    @ValueSource(strings = {"", ".", "1.2.3", "1.2.3.4.", ".1.2.3.4", "1..2.3", "1.2.3.4.5", "256.0.0.1", "1.2.3.256",
            "1.2.3.1000", "0001.2.3.4", "1.2.3.-4", "1.2.3.4 ", " 1.2.3.4", "a.b.c.d", "1.2.3.4/32", "999.1.1.1"})
    void refusesEverythingElse(String ip) {
        assertThatThrownBy(() -> Ipv4Cidr.parseAddress(ip)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("ip: '" + ip + "' (expected: an IPv4 address a.b.c.d)");
    }

    @org.junit.jupiter.api.Test
    void otherUnicodeDigitsStillTakeTheGeneralPath() {
        // Character.isDigit and Integer.parseInt accept them, so the general loop does; the fast path leaves them to it
        assertThat(Ipv4Cidr.parseAddress("\u0661.2.3.4")).isEqualTo(Ipv4Cidr.parseAddress("1.2.3.4"));
    }
}
