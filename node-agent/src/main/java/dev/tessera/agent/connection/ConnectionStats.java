package dev.tessera.agent.connection;

import static java.util.Objects.requireNonNull;

import java.time.Duration;

/**
 * The outcome of one closed connection.
 *
 * @param bytesFromSource bytes the source sent towards the destination (Istio's {@code received_bytes})
 * @param bytesToSource bytes the destination sent back to the source (Istio's {@code sent_bytes})
 * @param duration time from accept to close
 * @param reason why it ended ({@link CloseReason#OK} for a normal close)
 */
public record ConnectionStats(long bytesFromSource, long bytesToSource, Duration duration, CloseReason reason) {
    public ConnectionStats {
        requireNonNull(duration, "duration");
        requireNonNull(reason, "reason");
    }
}
