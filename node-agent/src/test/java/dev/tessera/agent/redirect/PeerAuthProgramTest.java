package dev.tessera.agent.redirect;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** The Java mirror of {@code struct tsp_pod} against the C header's {@code _Static_assert}. */
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
        byte[] v = PeerAuthProgram.encode(new byte[] {(byte) 198, 18, 0, 2}, true, new PeerAuthProgram.Counters(5, 7, 9));
        assertThat(v).hasSize(PeerAuthProgram.POD_SIZE);
        assertThat(new byte[] {v[0], v[1], v[2], v[3]}).containsExactly((byte) 198, 18, 0, 2);
        assertThat(v[4] | v[5] | v[6] | v[7]).isEqualTo(1); // mode STRICT, host order
        assertThat(PeerAuthProgram.counters(v)).isEqualTo(new PeerAuthProgram.Counters(5, 7, 9));
    }
}
