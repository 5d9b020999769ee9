package dev.tessera.agent.metrics;

import static org.assertj.core.api.Assertions.assertThat;

import io.prometheus.metrics.model.snapshots.CounterSnapshot;
import io.prometheus.metrics.model.snapshots.GaugeSnapshot;
import io.prometheus.metrics.model.snapshots.MetricSnapshot;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** The controller session's version metrics read the client at scrape time. */
class ControllerSessionMetricsTest {

    private static MetricSnapshot scrape(AgentMetrics metrics, String name) {
        for (var s : metrics.registry().scrape()) {
            if (s.getMetadata().getPrometheusName().equals(name)) {
                return s;
            }
        }
        throw new AssertionError("no metric " + name);
    }

    @Test
    void negotiatedVersionAndSkewRefusalsAreExported() {
        var metrics = new AgentMetrics();
        var version = new AtomicInteger();
        var skews = new AtomicLong();
        metrics.controllerSession(version::get, skews::get);

        var gauge = (GaugeSnapshot) scrape(metrics, "tessera_controller_protocol_version");
        assertThat(gauge.getDataPoints().get(0).getValue()).as("no session").isEqualTo(0.0);
        version.set(2);
        skews.set(3);
        gauge = (GaugeSnapshot) scrape(metrics, "tessera_controller_protocol_version");
        assertThat(gauge.getDataPoints().get(0).getValue()).isEqualTo(2.0);
        var counter = (CounterSnapshot) scrape(metrics, "tessera_controller_version_skew");
        assertThat(counter.getDataPoints().get(0).getValue()).isEqualTo(3.0);
    }
}
