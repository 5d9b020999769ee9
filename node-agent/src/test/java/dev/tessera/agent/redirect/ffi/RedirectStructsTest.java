package dev.tessera.agent.redirect.ffi;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

class RedirectStructsTest {

    private static final Path HEADER = Path.of("..", "ebpf-programs", "src", "tessera_redirect.h");

    private static String header() throws IOException {
        return Files.readString(HEADER);
    }

    @Test
    void javaSizesMatchTheHeadersStaticAsserts() throws IOException {
        Map<String, Integer> sizes = new HashMap<>();
        Matcher m = Pattern.compile("_Static_assert\\(sizeof\\(struct (\\w+)\\) == (\\d+)").matcher(header());
        while (m.find()) {
            sizes.put(m.group(1), Integer.parseInt(m.group(2)));
        }
        assertThat(sizes).containsOnlyKeys("tsr_addr4", "tsr_lpm_key4", "tsr_ip6", "tsr_addr6", "tsr_lpm_key6");
        assertThat(RedirectStructs.ADDR4_SIZE).isEqualTo(sizes.get("tsr_addr4"));
        assertThat(RedirectStructs.LPM_KEY4_SIZE).isEqualTo(sizes.get("tsr_lpm_key4"));
        assertThat(RedirectStructs.IP6_SIZE).isEqualTo(sizes.get("tsr_ip6"));
        assertThat(RedirectStructs.ADDR6_SIZE).isEqualTo(sizes.get("tsr_addr6"));
        assertThat(RedirectStructs.LPM_KEY6_SIZE).isEqualTo(sizes.get("tsr_lpm_key6"));
    }

    @Test
    void statIndexesMatchTheHeadersEnum() throws IOException {
        Map<String, Integer> values = new HashMap<>();
        Matcher m = Pattern.compile("TSR_STAT_(\\w+) = (\\d+),").matcher(header());
        while (m.find()) {
            values.put(m.group(1), Integer.parseInt(m.group(2)));
        }
        assertThat(values).containsExactlyInAnyOrderEntriesOf(Map.of(
                "REDIRECTED", RedirectStructs.STAT_REDIRECTED,
                "RECORDED", RedirectStructs.STAT_RECORDED,
                "STORE_FAILED", RedirectStructs.STAT_STORE_FAILED,
                "RECORD_FAILED", RedirectStructs.STAT_RECORD_FAILED,
                "NO_CONFIG", RedirectStructs.STAT_NO_CONFIG,
                "PEERNAME", RedirectStructs.STAT_PEERNAME,
                "REDIRECTED6", RedirectStructs.STAT_REDIRECTED6,
                "RECORDED6", RedirectStructs.STAT_RECORDED6,
                "MAX", RedirectStructs.STAT_MAX));
    }

    @Test
    void addr4IsNetworkOrderAddressThenPort() throws Exception {
        byte[] b = RedirectStructs.addr4(InetAddress.getByName("198.18.201.1"), 8080);
        assertThat(b).containsExactly(198, 18, 201, 1, 0x1f, 0x90, 0, 0);
        assertThat(RedirectStructs.decodeAddr4(b)).isEqualTo(new InetSocketAddress("198.18.201.1", 8080));
    }

    @Test
    void addr4AcceptsV4MappedAndRejectsIpv6() throws Exception {
        byte[] mapped = new byte[16];
        mapped[10] = (byte) 0xff;
        mapped[11] = (byte) 0xff;
        mapped[12] = 10;
        mapped[15] = 7;
        var v6Mapped = java.net.Inet6Address.getByAddress(null, mapped, -1);
        assertThat(RedirectStructs.ipv4Bytes(v6Mapped)).containsExactly(10, 0, 0, 7);
        assertThatThrownBy(() -> RedirectStructs.addr4(InetAddress.getByName("fd00::1"), 1))
                .hasMessage("address: fd00:0:0:0:0:0:0:1 (expected: IPv4)");
        assertThatThrownBy(() -> RedirectStructs.addr4(InetAddress.getByName("10.0.0.1"), 70000))
                .hasMessage("port: 70000 (expected: 0-65535)");
    }

    @Test
    void addr6IsNetworkOrderAddressThenPortAndRejectsIpv4() throws Exception {
        byte[] b = RedirectStructs.addr6(InetAddress.getByName("2001:db8::a:1"), 8080);
        assertThat(b).hasSize(20).startsWith(0x20, 0x01, 0x0d, 0xb8).endsWith(0, 0x0a, 0, 1, 0x1f, 0x90, 0, 0);
        assertThat(RedirectStructs.decodeAddr6(b)).isEqualTo(new InetSocketAddress("2001:db8::a:1", 8080));
        assertThatThrownBy(() -> RedirectStructs.addr6(InetAddress.getByName("198.18.0.1"), 1))
                .hasMessage("address: 198.18.0.1 (expected: IPv6)");
        assertThatThrownBy(() -> RedirectStructs.decodeAddr6(new byte[8]))
                .hasMessage("tsr_addr6: 8 bytes (expected: 20)");
    }

    @Test
    void lpmKey6HasHostOrderPrefixLengthAndNetworkOrderAddress() throws Exception {
        byte[] key = RedirectStructs.lpmKey6(InetAddress.getByName("2001:db8::"), 32);
        byte[] prefix = ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN ? new byte[] {32, 0, 0, 0}
                : new byte[] {0, 0, 0, 32};
        assertThat(java.util.Arrays.copyOf(key, 4)).isEqualTo(prefix);
        assertThat(java.util.Arrays.copyOfRange(key, 4, 20)).isEqualTo(InetAddress.getByName("2001:db8::").getAddress());
        assertThatThrownBy(() -> RedirectStructs.lpmKey6(InetAddress.getByName("2001:db8::"), 129))
                .hasMessage("prefixLength: 129 (expected: 0-128)");
    }

    @Test
    void lpmKeyHasHostOrderPrefixLengthAndNetworkOrderAddress() throws Exception {
        byte[] key = RedirectStructs.lpmKey4(InetAddress.getByName("198.18.0.0"), 15);
        byte[] prefix = ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN ? new byte[] {15, 0, 0, 0}
                : new byte[] {0, 0, 0, 15};
        assertThat(java.util.Arrays.copyOf(key, 4)).isEqualTo(prefix);
        assertThat(java.util.Arrays.copyOfRange(key, 4, 8)).containsExactly(198, 18, 0, 0);
        assertThat(RedirectStructs.decodeLpmKey4(key)).isEqualTo("198.18.0.0/15");
    }

    @Test
    void cookieRoundTripsInHostOrder() {
        long cookie = 0x0102030405060708L;
        byte[] key = RedirectStructs.cookie(cookie);
        assertThat(key[0]).isEqualTo(ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN ? (byte) 8 : (byte) 1);
        assertThat(RedirectStructs.decodeCookie(key)).isEqualTo(cookie);
    }

    @Test
    void perCpuValuesAreSummed() {
        var b = java.nio.ByteBuffer.allocate(24).order(ByteOrder.nativeOrder());
        b.putLong(3).putLong(0).putLong(40);
        assertThat(RedirectStructs.sumPerCpu(b.array())).isEqualTo(43);
    }

    @Test
    void errnoNamesAndHints() {
        assertThat(Errno.describe(-1)).isEqualTo("EPERM (1)");
        assertThat(Errno.describe(999)).isEqualTo("errno 999");
        assertThat(new BpfException("map tsr_enrolled: update", -Errno.EPERM))
                .hasMessageStartingWith("map tsr_enrolled: update: EPERM (1) (hint: needs root")
                .extracting(BpfException::errno).isEqualTo(1);
    }
}
