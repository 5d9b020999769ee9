package dev.tessera.localcluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

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
    }

    @Test
    void refusesWhatIsNotACpuList() {
        assertThatThrownBy(() -> CpuList.parse("3-1")).hasMessage("CPU range '3-1' (expected: low-high, at most 4095)");
        assertThatThrownBy(() -> CpuList.parse("0,5000")).hasMessage("CPU range '5000' (expected: low-high, at most 4095)");
        assertThatThrownBy(() -> CpuList.parse("0, 1")).hasMessage("'0, 1' is not a CPU list");
        assertThatThrownBy(() -> CpuList.parse("")).hasMessage("'' is not a CPU list");
        assertThatThrownBy(() -> CpuList.parse("1-")).hasMessage("'1-' is not a CPU list");
    }
}
