package dev.tessera.cli.local;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.util.BitSet;
import org.junit.jupiter.api.Test;

class CpuListTest {

    private static BitSet cpus(int... numbers) {
        var b = new BitSet();
        for (int n : numbers) {
            b.set(n);
        }
        return b;
    }

    @Test
    void parsesSinglesRangesAndTheirMix() {
        assertThat(CpuList.parse("1")).isEqualTo(cpus(1));
        assertThat(CpuList.parse("0-3")).isEqualTo(cpus(0, 1, 2, 3));
        assertThat(CpuList.parse("0-1,4,6-7\n")).isEqualTo(cpus(0, 1, 4, 6, 7)); // as /sys/devices/system/cpu/online
        assertThatThrownBy(() -> CpuList.parse("3-1")).hasMessage("CPU range '3-1' (expected: low-high)");
    }

    @Test
    void acceptsOnlyCpusThatAreOnline() throws IOException {
        CpuList.requireOnline("Node n1: cpus", "1", "0-1");
        CpuList.requireOnline("Node n1: cpus", "0-1", "0-3");
        assertThatThrownBy(() -> CpuList.requireOnline("Node n1: cpus", "0,2-3", "0-1")).hasMessage(
                "Node n1: cpus: '0,2-3' names CPU 2, which this machine does not have online (expected: CPUs among 0-1)");
    }

    @Test
    void thisMachineHasCpuZeroOnline() throws IOException {
        assertThat(CpuList.parse(CpuList.online()).get(0)).isTrue();
    }
}
