package dev.tessera.cli.kube;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** The minimums the kubeconfig checks enforce are the ones docs/compatibility.md promises. */
class CompatibilityTest {

    @Test
    void theMinimumsAreTheDocumentedOnes() throws Exception {
        String doc = Files.readString(Path.of("..", "docs", "compatibility.md"));
        assertThat(doc).contains("Linux ≥ " + Compatibility.show(Compatibility.MIN_KERNEL) + " ")
                .contains("Kubernetes " + Compatibility.show(Compatibility.MIN_KUBERNETES) + " or later");
    }

    @Test
    void versionsAreReadTheWayNodesAndApiServersWriteThem() {
        assertThat(Compatibility.majorMinor("5.15.0-1051-azure")).containsExactly(5, 15);
        assertThat(Compatibility.majorMinor("6.1.0-27-amd64")).containsExactly(6, 1);
        assertThat(Compatibility.majorMinor("v1.30.2+k3s1")).containsExactly(1, 30);
        assertThat(Compatibility.majorMinor("windows")).isNull();
        assertThat(Compatibility.majorMinor("1", "30+")).containsExactly(1, 30);
        assertThat(Compatibility.atLeast(new int[] {5, 14}, Compatibility.MIN_KERNEL)).isTrue();
        assertThat(Compatibility.atLeast(new int[] {5, 13}, Compatibility.MIN_KERNEL)).isFalse();
        assertThat(Compatibility.atLeast(new int[] {6, 0}, Compatibility.MIN_KERNEL)).isTrue();
        assertThat(Compatibility.atLeast(new int[] {4, 19}, Compatibility.MIN_KERNEL)).isFalse();
        assertThat(Compatibility.compareRelease("0.10.0", "0.9.1")).isPositive();
        assertThat(Compatibility.compareRelease("0.1.0-rc1", "0.1.0")).isZero();
        assertThat(Compatibility.compareRelease("0.1", "0.1.1")).isNegative();
    }
}
