package dev.tessera.agent.config;

import static dev.tessera.agent.config.AgentArgs.parse;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class ProbeFlagsTest {

    @Test
    void defaultsAreTheKubeletUnitAndAmbientsProbeAddress() {
        AgentConfig c = parse();
        assertThat(c.probeCgroup()).isEqualTo("system.slice/kubelet.service");
        assertThat(c.probeAddress().getHostAddress()).isEqualTo("169.254.7.127");
    }

    @Test
    void anEmptyCgroupTurnsTheSnatOff() {
        assertThat(parse("--probe-cgroup", "").probeCgroup()).isEmpty();
    }

    @Test
    void theProbeAddressMustBeIpv4LinkLocal() {
        assertThat(parse("--probe-address", "169.254.9.9").probeAddress().getHostAddress()).isEqualTo("169.254.9.9");
        for (String bad : new String[] {"198.18.0.1", "fe80::1", "localhost"}) {
            assertThatThrownBy(() -> parse("--probe-address", bad)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("--probe-address: " + bad + " (expected: an IPv4 link-local address, 169.254.0.0/16)");
        }
    }

    @Test
    void theProbeMarkIsOneBitOtherThanTheReplyMark() {
        assertThat(parse().probeMark()).isEqualTo(0x4000);
        assertThat(parse("--probe-mark", "0x8000").probeMark()).isEqualTo(0x8000);
        for (String bad : new String[] {"0x6000", "0", "0x2000", "mark"}) {
            assertThatThrownBy(() -> parse("--probe-mark", bad)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("--probe-mark: " + bad + " (expected: one bit other than --reply-mark's, e.g. 0x4000)");
        }
    }
}
