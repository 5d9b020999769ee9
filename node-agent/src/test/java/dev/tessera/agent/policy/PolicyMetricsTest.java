package dev.tessera.agent.policy;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tessera.agent.metrics.NoExemplarsTest;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import io.prometheus.metrics.tracer.initializer.SpanContextSupplier;
import java.util.List;
import org.junit.jupiter.api.Test;

class PolicyMetricsTest {

    /** Decisions are counted per connection: no exemplars (see {@link NoExemplarsTest}). */
    @Test
    void decisionsAreCountedWithoutExemplars() {
        var before = SpanContextSupplier.getSpanContext();
        SpanContextSupplier.setSpanContext(NoExemplarsTest.SAMPLED);
        try {
            var registry = new PrometheusRegistry();
            var metrics = new PolicyMetrics(registry);
            metrics.decision(new Decision(true, "shop/allow-client", 0, "allowed", List.of("shop/audit-all#1")),
                    "connect");
            metrics.decision(new Decision(false, null, -1, "no policy allows it", List.of()), "connect");

            assertThat(registry.scrape().stream().flatMap(m -> m.getDataPoints().stream())).hasSize(3);
            assertThat(NoExemplarsTest.exemplars(registry)).isEmpty();
        } finally {
            SpanContextSupplier.setSpanContext(before);
        }
    }
}
