package dev.tessera.cli.local;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tessera.localcluster.CpuList;
import java.io.IOException;
import org.junit.jupiter.api.Test;

class OnlineCpusTest {

    @Test
    void acceptsOnlyCpusThatAreOnline() throws IOException {
        OnlineCpus.require("Node n1: cpus", "1", "0-1");
        OnlineCpus.require("Node n1: cpus", "0-1", "0-3");
        assertThatThrownBy(() -> OnlineCpus.require("Node n1: cpus", "0,2-3", "0-1")).hasMessage(
                "Node n1: cpus: '0,2-3' names CPU 2, which this machine does not have online (expected: CPUs among 0-1)");
    }

    @Test
    void thisMachineHasCpuZeroOnline() throws IOException {
        assertThat(CpuList.parse(OnlineCpus.online()).get(0)).isTrue();
    }
}
