package dev.tessera.cli.kube;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tessera.cli.observe.Check;
import dev.tessera.cli.observe.KernelRequirements;
import dev.tessera.cli.observe.Preflight;
import io.fabric8.kubernetes.api.model.NodeBuilder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The minimums the checks enforce are the ones docs/compatibility.md promises, and the kernel minimum is the
 * newest feature the eBPF sources use.
 */
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
        assertThat(Compatibility.atLeast(new int[] {5, 15}, Compatibility.MIN_KERNEL)).isTrue();
        assertThat(Compatibility.atLeast(new int[] {5, 14}, Compatibility.MIN_KERNEL)).isFalse();
        assertThat(Compatibility.atLeast(new int[] {6, 0}, Compatibility.MIN_KERNEL)).isTrue();
        assertThat(Compatibility.atLeast(new int[] {4, 19}, Compatibility.MIN_KERNEL)).isFalse();
        assertThat(Compatibility.compareRelease("0.10.0", "0.9.1")).isPositive();
        assertThat(Compatibility.compareRelease("0.1.0-rc1", "0.1.0")).isZero();
        assertThat(Compatibility.compareRelease("0.1", "0.1.1")).isNegative();
    }

    @Test
    void oneKernelMinimumForTheNodeCheckTheClusterCheckAndTheDocs() throws Exception {
        int[] min = KernelRequirements.MIN_KERNEL;
        assertThat(Compatibility.MIN_KERNEL).isSameAs(min);
        String at = min[0] + "." + min[1] + ".0-1-amd64";
        String below = min[0] + "." + (min[1] - 1) + ".0-1-amd64";
        assertThat(Preflight.kernelVersion(at).status()).isEqualTo(Check.Status.OK);
        assertThat(Preflight.kernelVersion(below).status()).isEqualTo(Check.Status.FAIL);
        assertThat(Preflight.kernelVersion(below).detail()).contains(">= " + KernelRequirements.minimum());
        assertThat(ClusterPreflight.kernel(node(at)).status()).isEqualTo(Check.Status.OK);
        assertThat(ClusterPreflight.kernel(node(below)).status()).isEqualTo(Check.Status.FAIL);
        assertThat(ClusterPreflight.kernel(node(below)).hint()).contains(KernelRequirements.newest());

        String doc = Files.readString(Path.of("..", "docs", "compatibility.md"));
        for (KernelRequirements.Feature f : KernelRequirements.FEATURES) {
            assertThat(doc).as("docs/compatibility.md lists %s", f).contains("| " + f.version() + " | " + f.what() + " |");
        }
        assertThat(Files.readString(Path.of("..", "README.md"))).contains("Linux ≥ " + KernelRequirements.minimum() + " ")
                .doesNotContain("Linux ≥ 5.14");
        assertThat(Files.readString(Path.of("..", "ebpf-programs", "README.md")))
                .contains("Minimum kernel overall: **" + KernelRequirements.minimum() + "**");
    }

    /** Adding a hook, helper or map type to the C programs without saying which kernel has it fails here. */
    @Test
    void everySectionHelperAndMapTypeTheEbpfSourcesUseHasAKernelRelease() throws Exception {
        Set<String> used = new TreeSet<>();
        Pattern section = Pattern.compile("SEC\\(\"([^\"]+)\"\\)");
        Pattern helper = Pattern.compile("\\b(bpf_[a-z0-9_]+)\\s*\\(");
        Pattern mapType = Pattern.compile("\\b(BPF_MAP_TYPE_[A-Z_]+|BPF_SOCK_OPS_[A-Z_]+_CB)\\b");
        try (Stream<Path> files = Files.list(Path.of("..", "ebpf-programs", "src"))) {
            for (Path p : files.filter(f -> f.toString().endsWith(".c") || f.toString().endsWith(".h")).toList()) {
                String src = Files.readString(p);
                collect(section.matcher(src), used);
                collect(helper.matcher(src), used);
                collect(mapType.matcher(src), used);
            }
        }
        // ELF bookkeeping and byte-order macros (bpf_endian.h), not kernel features.
        used.removeAll(Set.of(".maps", "license", "bpf_htons", "bpf_htonl", "bpf_ntohs", "bpf_ntohl"));
        assertThat(used).as("the scan found the programs").contains("cgroup/connect4", "sockops", "bpf_get_netns_cookie");
        Set<String> listed = new TreeSet<>();
        KernelRequirements.FEATURES.forEach(f -> listed.addAll(f.tokens()));
        assertThat(listed).as("KernelRequirements.FEATURES (and docs/compatibility.md) must say which kernel has each")
                .containsAll(used);
    }

    private static void collect(Matcher m, Set<String> into) {
        while (m.find()) {
            into.add(m.group(1));
        }
    }

    private static io.fabric8.kubernetes.api.model.Node node(String kernel) {
        return new NodeBuilder().withNewMetadata().withName("n").endMetadata().withNewStatus().withNewNodeInfo()
                .withOperatingSystem("linux").withKernelVersion(kernel).endNodeInfo().endStatus().build();
    }
}
