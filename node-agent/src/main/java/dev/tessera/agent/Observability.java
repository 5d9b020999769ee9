package dev.tessera.agent;

import dev.tessera.agent.metrics.AgentMetrics;
import dev.tessera.agent.metrics.CoverageCheck;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The agent's periodic observability work on one daemon thread: publishes the bytes of open connections
 * every second, re-checks mesh coverage against the kernel and the certificates ({@code --coverage-interval}),
 * and evicts the workload series of pods that left the node after a grace period
 * ({@code --metrics-eviction-grace}).
 */
final class Observability implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(Observability.class);

    static final Duration FLUSH_EVERY = Duration.ofSeconds(1);

    private final ScheduledExecutorService executor;
    private final AtomicLong evicted = new AtomicLong();

    private Observability(Duration coverageEvery, Duration evictionGrace, AgentMetrics metrics, CoverageCheck coverage, Supplier<Set<String>> localWorkloads) {
        executor = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "tessera-observability");
            t.setDaemon(true);
            return t;
        });
        metrics.seriesEvicted(evicted::get);
        every(FLUSH_EVERY, "flush", () -> metrics.connections().flush());
        every(coverageEvery, "coverage", coverage::run);
        Duration evictEvery = evictionGrace.dividedBy(4).isZero() ? Duration.ofSeconds(1) : evictionGrace.dividedBy(4);
        every(evictEvery, "eviction", () -> {
            int n = metrics.connections().evict(localWorkloads.get(), evictionGrace.toNanos());
            if (n > 0) {
                evicted.addAndGet(n);
                log.info("metrics: evicted {} series of workloads that left this node", n);
            }
        });
    }

    static Observability start(dev.tessera.agent.config.AgentConfig config, AgentMetrics metrics, CoverageCheck coverage,
            Supplier<Set<String>> localWorkloads) {
        return new Observability(config.coverageInterval(), config.metricsEvictionGrace(), metrics, coverage,
                localWorkloads);
    }

    private void every(Duration period, String what, Runnable task) {
        executor.scheduleWithFixedDelay(() -> {
            try {
                task.run();
            } catch (RuntimeException e) {
                log.warn("observability {} failed: {}", what, e.toString());
            }
        }, period.toMillis(), period.toMillis(), TimeUnit.MILLISECONDS);
    }

    @Override
    public void close() {
        executor.shutdownNow();
    }
}
