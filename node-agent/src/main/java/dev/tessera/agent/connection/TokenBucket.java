package dev.tessera.agent.connection;

import static java.util.Objects.requireNonNull;

import java.util.function.LongSupplier;

/**
 * A token bucket: up to {@code burst} events at once, refilled at {@code ratePerSecond}. Lock-free enough
 * for the data path (one short synchronized section, never blocking on I/O).
 */
public final class TokenBucket {

    private final double ratePerNano;
    private final double burst;
    private final LongSupplier nanoClock;
    private double tokens;
    private long lastNanos;

    /**
     * @param ratePerSecond sustained events per second (> 0)
     * @param burst events allowed at once (>= 1)
     * @param nanoClock monotonic clock ({@code System::nanoTime}; tests pass a fake)
     */
    public TokenBucket(double ratePerSecond, int burst, LongSupplier nanoClock) {
        if (!(ratePerSecond > 0)) {
            throw new IllegalArgumentException("ratePerSecond: " + ratePerSecond + " (expected: > 0)");
        }
        if (burst < 1) {
            throw new IllegalArgumentException("burst: " + burst + " (expected: >= 1)");
        }
        this.ratePerNano = ratePerSecond / 1e9;
        this.burst = burst;
        this.nanoClock = requireNonNull(nanoClock, "nanoClock");
        this.tokens = burst;
        this.lastNanos = nanoClock.getAsLong();
    }

    /** Takes one token if there is one. */
    public synchronized boolean tryAcquire() {
        long now = nanoClock.getAsLong();
        tokens = Math.min(burst, tokens + (now - lastNanos) * ratePerNano);
        lastNanos = now;
        if (tokens >= 1) {
            tokens -= 1;
            return true;
        }
        return false;
    }
}
