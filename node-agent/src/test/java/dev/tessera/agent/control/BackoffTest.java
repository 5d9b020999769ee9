package dev.tessera.agent.control;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tessera.agent.config.ControllerAddress;
import java.time.Duration;
import org.junit.jupiter.api.Test;

class BackoffTest {

    @Test
    void ceilingDoublesFrom200msTo30sAndResets() {
        var b = new Backoff(Duration.ofMillis(200), Duration.ofSeconds(30));
        long[] ceilings = new long[10];
        for (int i = 0; i < 10; i++) {
            ceilings[i] = b.ceilingMillis();
            assertThat(b.nextMillis()).isBetween(0L, ceilings[i]);
        }
        assertThat(ceilings).containsExactly(200, 400, 800, 1600, 3200, 6400, 12800, 25600, 30000, 30000);
        for (int i = 0; i < 100; i++) {
            b.nextMillis(); // no overflow however long it fails
        }
        assertThat(b.ceilingMillis()).isEqualTo(30000);
        b.reset();
        assertThat(b.ceilingMillis()).isEqualTo(200);
    }

    @Test
    void fullJitterSpreadsDelaysOverTheWholeRange() {
        var b = new Backoff(Duration.ofMillis(1000), Duration.ofMillis(1000));
        long min = Long.MAX_VALUE;
        long max = 0;
        for (int i = 0; i < 2000; i++) {
            long d = b.nextMillis();
            min = Math.min(min, d);
            max = Math.max(max, d);
        }
        assertThat(min).isLessThan(100);
        assertThat(max).isGreaterThan(900);
    }

    @Test
    void badRangesAreRefused() {
        assertThatThrownBy(() -> new Backoff(Duration.ofSeconds(2), Duration.ofSeconds(1)))
                .hasMessage("backoff: PT2S..PT1S (expected: 0 < initial <= max)");
    }

    @Test
    void controllerAddressesParseWithClearErrors() {
        assertThat(ControllerAddress.parse("tessera-controller.tessera-system.svc:15012"))
                .isEqualTo(new ControllerAddress("tessera-controller.tessera-system.svc", 15012));
        assertThat(ControllerAddress.parse("[fd00::1]:15012")).isEqualTo(new ControllerAddress("fd00::1", 15012));
        assertThat(ControllerAddress.parse("[fd00::1]:15012").toString()).isEqualTo("[fd00::1]:15012");
        assertThatThrownBy(() -> ControllerAddress.parse("controller"))
                .hasMessageStartingWith("--controller: 'controller' (expected: HOST:PORT");
        assertThatThrownBy(() -> ControllerAddress.parse("c:70000")).hasMessage("--controller: port 70000 (expected: 1-65535)");
        assertThatThrownBy(() -> ControllerAddress.parse("c:x")).hasMessage("--controller: port 'x' (expected: 1-65535)");
    }
}
