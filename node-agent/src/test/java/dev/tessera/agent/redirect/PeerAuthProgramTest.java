package dev.tessera.agent.redirect;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tessera.api.net.IpCidr;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** The Java mirrors of the peerauth structs against the C header's {@code _Static_assert}s. */
class PeerAuthProgramTest {

    @Test
    void podStructSizeMatchesTheHeader() throws Exception {
        String header = Files.readString(Path.of("../ebpf-programs/src/tessera_peerauth.h"));
        var m = Pattern.compile("sizeof\\(struct tsp_pod\\) == (\\d+)").matcher(header);
        assertThat(m.find()).isTrue();
        assertThat(PeerAuthProgram.POD_SIZE).isEqualTo(Integer.parseInt(m.group(1)));
    }

    @Test
    void encodeKeepsCountersAndPutsTheNodeIpInWireOrder() {
        byte[] v = PeerAuthProgram.encode(new byte[] {(byte) 198, 18, 0, 2}, true, 0, new PeerAuthProgram.Counters(5, 7, 9));
        assertThat(v).hasSize(PeerAuthProgram.POD_SIZE);
        assertThat(new byte[] {v[0], v[1], v[2], v[3]}).containsExactly((byte) 198, 18, 0, 2);
        assertThat(v[4] | v[5] | v[6] | v[7]).isEqualTo(1); // mode STRICT, host order
        assertThat(PeerAuthProgram.counters(v)).isEqualTo(new PeerAuthProgram.Counters(5, 7, 9));
    }

    @Test
    void modeAndFlagsShareTheOldModeWordSoAnOlderPinnedValueReadsAsNoFlags() {
        byte[] v = PeerAuthProgram.encode(new byte[4], false, PeerAuthProgram.FLAG_PLAIN_RULES, new PeerAuthProgram.Counters(0, 0, 0));
        var b = java.nio.ByteBuffer.wrap(v).order(java.nio.ByteOrder.nativeOrder());
        assertThat(b.getShort(4)).isEqualTo((short) 0); // mode PERMISSIVE
        assertThat(b.getShort(6)).isEqualTo((short) 1); // TSP_POD_PLAIN_RULES
    }

    @Test
    void ruleStructSizesMatchTheHeader() throws Exception {
        String header = Files.readString(Path.of("../ebpf-programs/src/tessera_peerauth.h"));
        assertThat(sizeIn(header, "tsp_plain_key")).isEqualTo(PeerAuthProgram.RULE_KEY_SIZE);
        assertThat(sizeIn(header, "tsp_plain_verdict")).isEqualTo(PeerAuthProgram.RULE_VALUE_SIZE);
        var m = Pattern.compile("#define TSP_PLAIN_FIXED_BITS (\\d+)").matcher(header);
        assertThat(m.find()).isTrue();
        assertThat(PeerAuthProgram.FIXED_BITS).isEqualTo(Integer.parseInt(m.group(1)));
        var max = Pattern.compile("BPF_MAP_TYPE_LPM_TRIE\\);\\s*__uint\\(max_entries, (\\d+)\\)").matcher(header);
        assertThat(max.find()).isTrue();
        assertThat(PeerAuthProgram.MAX_RULES).isEqualTo(Integer.parseInt(max.group(1)));
    }

    @Test
    void ruleKeyIsPrefixLengthThenPodPortPadSourceInWireOrder() {
        byte[] k = PeerAuthProgram.ruleKey(new byte[] {(byte) 198, 18, 2, 5}, 7000, IpCidr.parse("198.19.4.0/24"));
        var b = java.nio.ByteBuffer.wrap(k).order(java.nio.ByteOrder.nativeOrder());
        assertThat(b.getInt(0)).isEqualTo(64 + 24);
        assertThat(java.util.Arrays.copyOfRange(k, 4, 16)).containsExactly((byte) 198, 18, 2, 5, 0x1b, 0x58, 0, 0,
                (byte) 198, 19, 4, 0);
        assertThat(PeerAuthProgram.ruleKey(k)).isEqualTo(new PeerAuthProgram.RuleKey(
                new java.net.InetSocketAddress("198.18.2.5", 0).getAddress(), 7000, IpCidr.parse("198.19.4.0/24")));
        byte[] v = PeerAuthProgram.verdict(true, 42);
        assertThat(PeerAuthProgram.verdictAllows(v)).isTrue();
        assertThat(PeerAuthProgram.hits(v)).isEqualTo(42);
    }

    @Test
    void deliveryKeyIsTheSynsFourTupleInWireOrderAndMatchesTheHeader() throws Exception {
        String header = Files.readString(Path.of("../ebpf-programs/src/tessera_peerauth.h"));
        assertThat(sizeIn(header, "tsp_delivery_key")).isEqualTo(PeerAuthProgram.DELIVERY_KEY_SIZE);
        byte[] k = PeerAuthProgram.deliveryKey(new java.net.InetSocketAddress("198.18.1.7", 40000),
                new java.net.InetSocketAddress("198.18.2.5", 7000));
        assertThat(k).containsExactly((byte) 198, 18, 1, 7, (byte) 198, 18, 2, 5, (byte) 0x9c, 0x40, 0x1b, 0x58);
        assertThatThrownBy(() -> PeerAuthProgram.deliveryKey(new java.net.InetSocketAddress("2001:db8::1", 1),
                new java.net.InetSocketAddress("198.18.2.5", 7000))).hasMessageContaining("expected: both IPv4 or both IPv6");
    }

    @Test
    void plainEventMirrorsTheHeaderAndDecodesWireOrder() throws Exception {
        String header = Files.readString(Path.of("../ebpf-programs/src/tessera_peerauth.h"));
        assertThat(sizeIn(header, "tsp_plain_event")).isEqualTo(PeerAuthProgram.EVENT_SIZE);
        var max = Pattern.compile("BPF_MAP_TYPE_QUEUE\\);\\s*__uint\\(max_entries, (\\d+)\\)").matcher(header);
        assertThat(max.find()).isTrue();
        assertThat(PeerAuthProgram.MAX_QUEUED_EVENTS).isEqualTo(Integer.parseInt(max.group(1)));
        for (PeerAuthProgram.PlainVerdict v : PeerAuthProgram.PlainVerdict.values()) {
            var d = Pattern.compile("#define TSP_PLAIN_EV_" + v.name() + " (\\d+)").matcher(header);
            assertThat(d.find()).as(v.name()).isTrue();
            assertThat(v.ordinal() + 1).as(v.name()).isEqualTo(Integer.parseInt(d.group(1)));
        }
        byte[] e = {(byte) 198, 18, 1, 7, (byte) 198, 18, 2, 5, (byte) 0x9c, 0x40, 0x1b, 0x58, 2, 0, 0, 0};
        assertThat(PeerAuthProgram.plainEvent(e)).isEqualTo(new PeerAuthProgram.PlainEvent(
                new java.net.InetSocketAddress("198.18.1.7", 40000), new java.net.InetSocketAddress("198.18.2.5", 7000),
                PeerAuthProgram.PlainVerdict.DENIED));
        e[12] = 9;
        assertThatThrownBy(() -> PeerAuthProgram.plainEvent(e)).hasMessageContaining("expected: 1-4");
    }

    @Test
    void ipv6StructSizesAndMapBoundsMatchTheHeader() throws Exception {
        String header = Files.readString(Path.of("../ebpf-programs/src/tessera_peerauth.h"));
        assertThat(sizeIn(header, "tsp_pod6")).isEqualTo(PeerAuthProgram.POD6_SIZE);
        assertThat(sizeIn(header, "tsp_plain_key6")).isEqualTo(PeerAuthProgram.RULE_KEY6_SIZE);
        assertThat(sizeIn(header, "tsp_delivery_key6")).isEqualTo(PeerAuthProgram.DELIVERY_KEY6_SIZE);
        assertThat(sizeIn(header, "tsp_plain_event6")).isEqualTo(PeerAuthProgram.EVENT6_SIZE);
        var bits = Pattern.compile("#define TSP_PLAIN_FIXED_BITS6 (\\d+)").matcher(header);
        assertThat(bits.find()).isTrue();
        assertThat(PeerAuthProgram.FIXED_BITS6).isEqualTo(Integer.parseInt(bits.group(1)));
        var max = Pattern.compile("BPF_MAP_TYPE_LPM_TRIE\\);\\s*__uint\\(max_entries, (\\d+)\\);\\s*__uint\\(map_flags, "
                + "BPF_F_NO_PREALLOC\\);\\s*__type\\(key, struct tsp_plain_key6\\)").matcher(header);
        assertThat(max.find()).isTrue();
        assertThat(PeerAuthProgram.MAX_RULES6).isEqualTo(Integer.parseInt(max.group(1)));
        for (String map : PeerAuthProgram.MAPS) {
            assertThat(header).as(map).containsPattern("\\} " + map + " SEC\\(\".maps\"\\);");
        }
    }

    @Test
    void pod6IsTheProbeAddressThenModeFlagsPadAndCounters() throws Exception {
        byte[] probe = java.net.InetAddress.getByName("2001:db8::7f").getAddress();
        byte[] v = PeerAuthProgram.encode6(probe, true, PeerAuthProgram.FLAG_PLAIN_RULES, new PeerAuthProgram.Counters(5, 7, 9));
        assertThat(v).hasSize(PeerAuthProgram.POD6_SIZE);
        assertThat(java.util.Arrays.copyOfRange(v, 0, 16)).isEqualTo(probe);
        var b = java.nio.ByteBuffer.wrap(v).order(java.nio.ByteOrder.nativeOrder());
        assertThat(b.getShort(16)).isEqualTo((short) 1); // STRICT
        assertThat(b.getShort(18)).isEqualTo((short) 1); // TSP_POD_PLAIN_RULES
        assertThat(b.getInt(20)).isZero();
        assertThat(PeerAuthProgram.counters6(v)).isEqualTo(new PeerAuthProgram.Counters(5, 7, 9));
        assertThatThrownBy(() -> PeerAuthProgram.encode6(new byte[4], false, 0, new PeerAuthProgram.Counters(0, 0, 0)))
                .hasMessageContaining("expected: 16");
    }

    @Test
    void ruleKey6IsPrefixLengthThenPodPortPadSourceInWireOrderAndDecodes() throws Exception {
        var pod = java.net.InetAddress.getByName("2001:db8:2::5");
        byte[] k = PeerAuthProgram.ruleKey(pod.getAddress(), 7000, IpCidr.parse("2001:db8:4::/48"));
        assertThat(k).hasSize(PeerAuthProgram.RULE_KEY6_SIZE);
        var b = java.nio.ByteBuffer.wrap(k).order(java.nio.ByteOrder.nativeOrder());
        assertThat(b.getInt(0)).isEqualTo(160 + 48);
        assertThat(java.util.Arrays.copyOfRange(k, 4, 20)).isEqualTo(pod.getAddress());
        assertThat(java.util.Arrays.copyOfRange(k, 20, 24)).containsExactly(0x1b, 0x58, 0, 0);
        assertThat(java.util.Arrays.copyOfRange(k, 24, 40))
                .isEqualTo(java.net.InetAddress.getByName("2001:db8:4::").getAddress());
        assertThat(PeerAuthProgram.ruleKey(k)).isEqualTo(new PeerAuthProgram.RuleKey(pod, 7000, IpCidr.parse("2001:db8:4::/48")));
        assertThatThrownBy(() -> PeerAuthProgram.ruleKey(pod.getAddress(), 0, IpCidr.parse("0.0.0.0/0")))
                .hasMessageContaining("expected: the family of the pod address");
    }

    @Test
    void deliveryKey6AndEvent6AreWireOrder() throws Exception {
        var client = new java.net.InetSocketAddress("2001:db8:1::7", 40000);
        var pod = new java.net.InetSocketAddress("2001:db8:2::5", 7000);
        byte[] k = PeerAuthProgram.deliveryKey(client, pod);
        assertThat(k).hasSize(PeerAuthProgram.DELIVERY_KEY6_SIZE);
        assertThat(java.util.Arrays.copyOfRange(k, 0, 16)).isEqualTo(client.getAddress().getAddress());
        assertThat(java.util.Arrays.copyOfRange(k, 16, 32)).isEqualTo(pod.getAddress().getAddress());
        assertThat(java.util.Arrays.copyOfRange(k, 32, 36)).containsExactly((byte) 0x9c, 0x40, 0x1b, 0x58);
        byte[] e = new byte[PeerAuthProgram.EVENT6_SIZE];
        System.arraycopy(k, 0, e, 0, 36);
        e[36] = 3;
        assertThat(PeerAuthProgram.plainEvent(e)).isEqualTo(new PeerAuthProgram.PlainEvent(client, pod,
                PeerAuthProgram.PlainVerdict.STRICT));
        e[36] = 0;
        assertThatThrownBy(() -> PeerAuthProgram.plainEvent(e)).hasMessageContaining("expected: 1-4");
        assertThatThrownBy(() -> PeerAuthProgram.plainEvent(new byte[20])).hasMessageContaining("expected: 16 or 40");
    }

    private static int sizeIn(String header, String struct) {
        var m = Pattern.compile("sizeof\\(struct " + struct + "\\) == (\\d+)").matcher(header);
        assertThat(m.find()).as(struct).isTrue();
        return Integer.parseInt(m.group(1));
    }
}
