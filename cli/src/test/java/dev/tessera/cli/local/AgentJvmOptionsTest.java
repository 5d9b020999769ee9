package dev.tessera.cli.local;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Arrays;
import org.junit.jupiter.api.Test;

class AgentJvmOptionsTest {

    @Test
    void defaultOptionsComeFromTheDocumentedResourceWithoutComments() {
        String[] opts = AgentProcesses.DEFAULT_JVM_OPTIONS.split(" ");
        assertThat(opts).isNotEmpty().allSatisfy(o -> assertThat(o).startsWith("-").doesNotContain("#"));
        assertThat(opts).contains("-XX:+UseSerialGC", "-Dio.netty.leakDetection.level=disabled",
                "-XX:+ExitOnOutOfMemoryError");
        // experimental options must be unlocked before they are used
        int unlock = Arrays.asList(opts).indexOf("-XX:+UnlockExperimentalVMOptions");
        int trim = Arrays.asList(opts).indexOf("-XX:TrimNativeHeapInterval=5000");
        assertThat(unlock).isNotNegative().isLessThan(trim);
    }
}
