package dev.tessera.controller.push;

/**
 * What the config push server ({@link PushServer}) holds for peers at most, so that overload is refused and
 * counted ({@code tessera_controller_push_refused_total{reason}}) instead of queued without bound.
 *
 * @param maxUnauthenticated connections that have not yet been authenticated (TLS or HELLO pending), in all;
 *     one more is closed at accept, before its TLS handshake ({@code UNAUTHENTICATED_LIMIT})
 * @param maxUnauthenticatedPerSource the same, per source address ({@code UNAUTHENTICATED_PER_SOURCE}); agents
 *     dial from their node's address, so one address is one node
 * @param helloThreads threads that authenticate HELLO tokens (a TokenReview each, unless cached)
 * @param helloQueue HELLOs that may wait for those threads; one more is answered {@code OVERLOADED} and closed
 *     ({@code HELLO_QUEUE_FULL}); the agent reconnects with backoff
 * @param csrThreads threads that sign certificate requests, separate from the HELLO threads so that a CSR burst
 *     never delays an agent's (re)connection and a HELLO flood never delays renewals
 * @param csrQueue CSRs that may wait for those threads; one more is answered {@code TOO_MANY_REQUESTS}
 *     ({@code CSR_QUEUE_FULL}); the agent's certificate manager retries with backoff
 */
public record PushLimits(int maxUnauthenticated, int maxUnauthenticatedPerSource, int helloThreads, int helloQueue,
        int csrThreads, int csrQueue) {

    public PushLimits {
        atLeastOne("maxUnauthenticated", maxUnauthenticated);
        atLeastOne("maxUnauthenticatedPerSource", maxUnauthenticatedPerSource);
        atLeastOne("helloThreads", helloThreads);
        atLeastOne("helloQueue", helloQueue);
        atLeastOne("csrThreads", csrThreads);
        atLeastOne("csrQueue", csrQueue);
    }

    /**
     * 512 unauthenticated connections (16 per address), 2 HELLO threads with 1,024 waiting, 2 CSR threads with
     * 4,096 waiting: 1,000 agents reconnecting at once after a controller restart are served in a few rounds of
     * backoff; 500 strangers hold at most 512 TLS handshakes' worth of memory.
     */
    public static PushLimits defaults() {
        return new PushLimits(512, 16, 2, 1024, 2, 4096);
    }

    private static void atLeastOne(String field, int value) {
        if (value < 1) {
            throw new IllegalArgumentException(field + ": " + value + " (expected: at least 1)");
        }
    }
}
