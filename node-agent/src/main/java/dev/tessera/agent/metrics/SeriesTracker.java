package dev.tessera.agent.metrics;

import static java.util.Objects.requireNonNull;

import io.prometheus.metrics.core.metrics.Counter;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.LongSupplier;

/**
 * Remembers when each label set of a group of counters was last updated and which local workload it
 * belongs to, and removes the label sets of workloads that left the node once they have been idle for a
 * grace period. This bounds cardinality: a node that saw thousands of short-lived pods exports only the
 * series of the pods still there (plus those of the last grace period).
 */
final class SeriesTracker {

    private record Entry(String localWorkload, long lastTouchNanos) {}

    private final LongSupplier nanoClock;
    private final List<Counter> counters;
    private final Map<List<String>, Entry> entries = new ConcurrentHashMap<>();

    /**
     * @param nanoClock a monotonic clock in nanoseconds ({@code System::nanoTime}; tests pass a fake)
     * @param counters the counters sharing these label sets; eviction removes the set from all of them
     */
    SeriesTracker(LongSupplier nanoClock, List<Counter> counters) {
        this.nanoClock = requireNonNull(nanoClock, "nanoClock");
        this.counters = List.copyOf(counters);
    }

    /** Records that {@code labels} (of the local workload {@code namespace/workload}) was updated now. */
    void touch(String[] labels, String localWorkload) {
        entries.put(Arrays.asList(labels.clone()), new Entry(localWorkload, nanoClock.getAsLong()));
    }

    /**
     * Removes every label set idle for more than {@code graceNanos} whose local workload is not in
     * {@code present}; returns how many were removed.
     */
    int evict(Set<String> present, long graceNanos) {
        if (graceNanos < 0) {
            throw new IllegalArgumentException("graceNanos: " + graceNanos + " (expected: >= 0)");
        }
        long now = nanoClock.getAsLong();
        int removed = 0;
        for (var e : entries.entrySet()) {
            Entry v = e.getValue();
            if (present.contains(v.localWorkload()) || now - v.lastTouchNanos() <= graceNanos) {
                continue;
            }
            // Remove only if nothing touched it meanwhile (a concurrent update re-creates a fresh entry).
            if (entries.remove(e.getKey(), v)) {
                String[] labels = e.getKey().toArray(String[]::new);
                counters.forEach(c -> c.remove(labels));
                removed++;
            }
        }
        return removed;
    }

    int size() {
        return entries.size();
    }
}
