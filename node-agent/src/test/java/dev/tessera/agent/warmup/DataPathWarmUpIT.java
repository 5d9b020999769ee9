package dev.tessera.agent.warmup;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import org.junit.jupiter.api.Test;

/** The warm-up runs the real data path (TLS 1.3, HTTP/2 CONNECT, relay, half-close) on loopback. */
class DataPathWarmUpIT {

    @Test
    void everyWarmUpConnectionGoesThroughTheWholeDataPath() {
        var r = DataPathWarmUp.run(40, Duration.ofSeconds(60));
        assertThat(r.connections()).isEqualTo(40);
        assertThat(r.failed()).as("warm-up connections that failed").isZero();
    }

    @Test
    void zeroConnectionsIsNoWarmUp() {
        assertThat(DataPathWarmUp.run(0, Duration.ofSeconds(5))).isEqualTo(new DataPathWarmUp.Result(0, 0, 0, false));
    }
}
