package dev.tessera.controller.watch;

import static java.util.Objects.requireNonNull;

import java.util.LinkedHashSet;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A de-duplicating work queue of object keys: informer handlers add keys (cheap, never blocking on
 * reconcile work), the reconcile thread takes every pending key at once. A key added several times
 * before it is taken is reconciled once, from the latest cached object.
 */
public final class KeyQueue {

    private final LinkedHashSet<String> pending = new LinkedHashSet<>();

    /** Adds a key (no-op if it is already pending). */
    public synchronized void add(String key) {
        requireNonNull(key, "key");
        if (pending.add(key)) {
            notifyAll();
        }
    }

    /** Every pending key in arrival order, waiting up to {@code timeout} for one; empty on timeout. */
    public synchronized List<String> takeAll(long timeout, TimeUnit unit) throws InterruptedException {
        long deadline = System.nanoTime() + unit.toNanos(timeout);
        while (pending.isEmpty()) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                return List.of();
            }
            TimeUnit.NANOSECONDS.timedWait(this, left);
        }
        List<String> keys = List.copyOf(pending);
        pending.clear();
        return keys;
    }

    public synchronized int size() {
        return pending.size();
    }
}
