package dev.tessera.controller.push;

import java.net.InetAddress;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Counts the connections that have not authenticated yet, in all and per source address, and refuses one
 * more above either limit. Each admitted connection holds a {@link Permit} until it authenticates or
 * closes, whichever comes first. Thread-safe (accepts run on every event loop).
 */
final class UnauthenticatedLimiter {

    /** Why a connection was refused; the {@code reason} label of the refusal counter. */
    static final String GLOBAL = "UNAUTHENTICATED_LIMIT";
    static final String PER_SOURCE = "UNAUTHENTICATED_PER_SOURCE";

    private final int max;
    private final int perSource;
    private final Map<InetAddress, Integer> bySource = new HashMap<>(); // at most max entries
    private int total;

    UnauthenticatedLimiter(int max, int perSource) {
        this.max = max;
        this.perSource = perSource;
    }

    /** One unauthenticated connection's place; {@link #release()} is idempotent. */
    final class Permit {
        private final InetAddress source;
        private final AtomicBoolean released = new AtomicBoolean();

        private Permit(InetAddress source) {
            this.source = source;
        }

        void release() {
            if (released.compareAndSet(false, true)) {
                UnauthenticatedLimiter.this.release(source);
            }
        }
    }

    /** The outcome of an admission: a permit, or the refusal reason. */
    record Admission(Permit permit, String refusal) {}

    synchronized Admission admit(InetAddress source) {
        if (total >= max) {
            return new Admission(null, GLOBAL);
        }
        int n = bySource.getOrDefault(source, 0);
        if (n >= perSource) {
            return new Admission(null, PER_SOURCE);
        }
        bySource.put(source, n + 1);
        total++;
        return new Admission(new Permit(source), null);
    }

    private synchronized void release(InetAddress source) {
        total--;
        bySource.computeIfPresent(source, (k, n) -> n == 1 ? null : n - 1);
    }

    /** Connections holding a permit now. */
    synchronized int held() {
        return total;
    }

    /** A description for refusal messages. */
    String describe(String reason) {
        return GLOBAL.equals(reason) ? max + " unauthenticated connections in all"
                : perSource + " unauthenticated connections from one address";
    }
}
