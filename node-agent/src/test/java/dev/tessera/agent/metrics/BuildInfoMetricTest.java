package dev.tessera.agent.metrics;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tessera.api.config.BuildInfo;
import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** {@code tessera version} reads the agent's version from this series. */
class BuildInfoMetricTest {

    @Test
    void theAgentExportsItsBuild() throws Exception {
        var out = new ByteArrayOutputStream();
        new PrometheusTextFormatWriter(false).write(out, new AgentMetrics().registry().scrape());
        assertThat(out.toString(StandardCharsets.UTF_8)).contains("tessera_build_info{component=\"node-agent\",version=\""
                + BuildInfo.VERSION + "\"} 1");
    }
}
