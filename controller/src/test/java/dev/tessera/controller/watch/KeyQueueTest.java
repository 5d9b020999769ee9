package dev.tessera.controller.watch;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class KeyQueueTest {

    @Test
    void deduplicatesPendingKeysInArrivalOrder() throws Exception {
        var q = new KeyQueue();
        q.add("pod:a/x");
        q.add("ns:a");
        q.add("pod:a/x");
        assertThat(q.size()).isEqualTo(2);
        assertThat(q.takeAll(1, TimeUnit.SECONDS)).containsExactly("pod:a/x", "ns:a");
        assertThat(q.takeAll(10, TimeUnit.MILLISECONDS)).isEmpty();
    }

    @Test
    void takeWaitsForAKey() throws Exception {
        var q = new KeyQueue();
        var taken = CompletableFuture.supplyAsync(() -> {
            try {
                return q.takeAll(30, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            }
        });
        q.add("node:n1");
        assertThat(taken.get(30, TimeUnit.SECONDS)).containsExactly("node:n1");
    }
}
