package dev.tessera.agent.redirect;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.InetAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

class TcpHealthMapTest {

    @Test
    void javaSizesMatchTheHeadersStaticAsserts() throws IOException {
        String header = Files.readString(Path.of("..", "ebpf-programs", "src", "tessera_tcp_health.h"));
        Map<String, Integer> sizes = new HashMap<>();
        Matcher m = Pattern.compile("_Static_assert\\(sizeof\\(struct (\\w+)\\) == (\\d+)").matcher(header);
        while (m.find()) {
            sizes.put(m.group(1), Integer.parseInt(m.group(2)));
        }
        assertThat(sizes).containsOnlyKeys("tsr_tcp_pair", "tsr_tcp_stats");
        assertThat(TcpHealthMap.PAIR_SIZE).isEqualTo(sizes.get("tsr_tcp_pair"));
        assertThat(TcpHealthMap.STATS_SIZE).isEqualTo(sizes.get("tsr_tcp_stats"));
        assertThat(header).contains("#define TSR_TCP_POD 1").contains("#define TSR_TCP_TUNNEL 2");
    }

    @Test
    void decodesKeyAndValueAsTheKernelLaysThemOut() throws Exception {
        var pair = new TcpHealthMap.Pair(TcpHealthMap.Kind.TUNNEL, InetAddress.getByName("198.18.0.1"),
                InetAddress.getByName("198.18.0.2"), 0, 0, 0, 0, 0);
        byte[] key = TcpHealthMap.key(pair);
        assertThat(key).startsWith(198, 18, 0, 1, 198, 18, 0, 2);
        ByteBuffer v = ByteBuffer.allocate(TcpHealthMap.STATS_SIZE).order(ByteOrder.nativeOrder());
        v.putLong(3).putLong(10).putLong(2500).putInt(240).putInt(2);
        var decoded = TcpHealthMap.decode(key, v.array()).orElseThrow();
        assertThat(decoded.kind()).isEqualTo(TcpHealthMap.Kind.TUNNEL);
        assertThat(decoded.destination().getHostAddress()).isEqualTo("198.18.0.2");
        assertThat(decoded.retransmits()).isEqualTo(3);
        assertThat(decoded.rttSamples()).isEqualTo(10);
        assertThat(decoded.rttSumMicros()).isEqualTo(2500);
        assertThat(decoded.srttMicros()).isEqualTo(240);
        assertThat(decoded.connections()).isEqualTo(2);
        byte[] badKind = key.clone();
        badKind[8] = 9;
        assertThat(TcpHealthMap.decode(badKind, v.array())).isEmpty();
    }
}
