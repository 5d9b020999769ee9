package dev.tessera.agent.metrics;

import static org.assertj.core.api.Assertions.assertThat;

import io.prometheus.metrics.expositionformats.OpenMetricsTextFormatWriter;
import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** {@link AgentMetrics#jvm()}: the JVM and process series on :15020, and only the lean subset. */
class JvmMetricsTest {

    private static String scrape(AgentMetrics metrics, boolean openMetrics) throws Exception {
        var out = new ByteArrayOutputStream();
        if (openMetrics) {
            new OpenMetricsTextFormatWriter(false, false).write(out, metrics.registry().scrape());
        } else {
            new PrometheusTextFormatWriter(false).write(out, metrics.registry().scrape());
        }
        return out.toString(StandardCharsets.UTF_8);
    }

    @Test
    void theAgentExportsJvmAndProcessMetrics() throws Exception {
        var metrics = new AgentMetrics();
        assertThat(scrape(metrics, false)).doesNotContain("jvm_memory_used_bytes");
        metrics.jvm();
        String text = scrape(metrics, false);
        assertThat(text).contains(
                "jvm_memory_used_bytes{area=\"heap\"}",
                "jvm_memory_pool_used_bytes{pool=",
                "jvm_buffer_pool_used_bytes{pool=\"direct\"}",
                "jvm_gc_collection_seconds_count{gc=",
                "jvm_threads_current ",
                "jvm_classes_currently_loaded ",
                "jvm_compilation_time_seconds_total ",
                "jvm_runtime_info{",
                "process_cpu_seconds_total ",
                "process_start_time_seconds ",
                "process_resident_memory_bytes ",
                "process_open_fds ");
        // Left out for the agent's idle memory (see AgentMetrics#jvm): JMX-backed native memory, allocation listener.
        assertThat(text).doesNotContain("jvm_native_memory", "jvm_memory_pool_allocated_bytes");
        assertThat(scrape(metrics, true)).contains("jvm_memory_used_bytes{area=\"heap\"}", "process_cpu_seconds_total ")
                .endsWith("# EOF\n");
    }

    @Test
    void theValuesAreThisProcesssOwn() throws Exception {
        var metrics = new AgentMetrics();
        metrics.jvm();
        double rss = value(scrape(metrics, false), "process_resident_memory_bytes ");
        double heap = value(scrape(metrics, false), "jvm_memory_used_bytes{area=\"heap\"} ");
        assertThat(rss).isGreaterThan(10e6);
        assertThat(heap).isPositive().isLessThanOrEqualTo(Runtime.getRuntime().maxMemory());
    }

    @Test
    void directMemoryCountsNettysBuffersWhicheverWayTheyWereAllocated() throws Exception {
        var metrics = new AgentMetrics();
        metrics.jvm();
        double before = value(scrape(metrics, false), "tessera_direct_memory_bytes ");
        assertThat(value(scrape(metrics, false), "tessera_direct_memory_max_bytes "))
                .isEqualTo(io.netty.util.internal.PlatformDependent.maxDirectMemory()).isPositive();
        // 8 MiB is above the adaptive allocator's pooled sizes: a buffer of its own, as a bulk read's can be
        var buf = io.netty.buffer.ByteBufAllocator.DEFAULT.directBuffer(8 << 20);
        double held;
        try {
            held = value(scrape(metrics, false), "tessera_direct_memory_bytes ");
            assertThat(held - before).isGreaterThanOrEqualTo(8 << 20);
        } finally {
            buf.release();
        }
        double after = value(scrape(metrics, false), "tessera_direct_memory_bytes ");
        if (io.netty.util.internal.PlatformDependent.useDirectBufferNoCleaner()) {
            // freed at release, not at a later GC
            assertThat(held - after).isGreaterThanOrEqualTo(7 << 20);
        }
    }

    /**
     * The shipped JVM options (agent-jvm.options, read as the image and {@code tessera local} read them) put Netty in
     * its no-Cleaner mode, and this test JVM runs as the agent does (node-agent/pom.xml's argLine).
     */
    @Test
    void theShippedOptionsLetNettyAllocateWithoutTheCleaner() throws Exception {
        assertThat(io.netty.util.internal.PlatformDependent.useDirectBufferNoCleaner())
                .as("the test JVM's Netty mode (node-agent/pom.xml argLine)").isTrue();
        var cmd = new java.util.ArrayList<String>();
        cmd.add(java.nio.file.Path.of(System.getProperty("java.home"), "bin", "java").toString());
        java.nio.file.Files.readAllLines(java.nio.file.Path.of("src/main/jvm/agent-jvm.options")).stream()
                .map(String::trim).filter(l -> !l.isEmpty() && !l.startsWith("#"))
                .flatMap(l -> java.util.Arrays.stream(l.split("\\s+"))).forEach(cmd::add);
        cmd.addAll(java.util.List.of("-cp", System.getProperty("java.class.path"), NettyMode.class.getName()));
        var p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor()).as(out).isZero();
        assertThat(out).contains("noCleaner=true");
    }

    /** Prints the Netty allocation mode of its JVM. */
    public static final class NettyMode {
        public static void main(String[] args) {
            System.out.println("noCleaner=" + io.netty.util.internal.PlatformDependent.useDirectBufferNoCleaner());
        }
    }

    private static double value(String text, String prefix) {
        return text.lines().filter(l -> l.startsWith(prefix)).mapToDouble(l -> Double.parseDouble(l.substring(prefix.length())))
                .findFirst().orElseThrow(() -> new AssertionError(prefix + " missing in\n" + text));
    }
}
