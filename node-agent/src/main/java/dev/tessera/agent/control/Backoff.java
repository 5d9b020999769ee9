package dev.tessera.agent.control;

import java.time.Duration;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Exponential backoff with full jitter: the n-th consecutive failure waits a uniformly random time in
 * {@code [0, min(max, initial * 2^n))} (AWS's "full jitter", which spreads a thousand agents reconnecting
 * after a controller restart). {@link #reset()} after a healthy session. Not thread-safe.
 */
final class Backoff {

    private final long initialMillis;
    private final long maxMillis;
    private int attempt;

    Backoff(Duration initial, Duration max) {
        this.initialMillis = initial.toMillis();
        this.maxMillis = max.toMillis();
        if (initialMillis < 1 || maxMillis < initialMillis) {
            throw new IllegalArgumentException("backoff: " + initial + ".." + max + " (expected: 0 < initial <= max)");
        }
    }

    /** The ceiling of the next delay (before jitter). */
    long ceilingMillis() {
        long c = initialMillis << Math.min(attempt, 30);
        return c <= 0 || c > maxMillis ? maxMillis : c;
    }

    /** The next delay, and counts an attempt. */
    long nextMillis() {
        long ceiling = ceilingMillis();
        attempt++;
        return ThreadLocalRandom.current().nextLong(ceiling + 1);
    }

    void reset() {
        attempt = 0;
    }

    int attempts() {
        return attempt;
    }
}
