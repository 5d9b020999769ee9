package dev.tessera.agent.connection;

import java.util.ArrayList;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * Writes access log lines on one background daemon thread ({@code tessera-access-log}), so formatting a
 * line and a synchronous write to stderr or a slow disk never run on an event loop. Lines are queued up to
 * a fixed capacity; {@link #offer} refuses a line when the queue is full (the caller counts it as dropped),
 * so a stalled output cannot grow the heap. Lines of one log are written in the order they were offered. The
 * thread polls the queue every 20 ms when it is empty instead of being woken per line, and writes what it finds
 * in one go.
 */
final class AccessLogWriter {

    /** The writer every {@link JsonAccessLog} of the process shares (its thread starts on first use). */
    static final AccessLogWriter SHARED = new AccessLogWriter(4096);

    /** How long the writer sleeps when it found nothing to write. */
    private static final long POLL_NANOS = TimeUnit.MILLISECONDS.toNanos(20);
    private static final int BATCH = 256;

    private record Line(JsonAccessLog log, ConnectionContext context, ConnectionStats stats, long droppedBefore) {}

    private final BlockingQueue<Line> queue;
    private final Object writeLock = new Object();
    private volatile Thread thread;

    AccessLogWriter(int capacity) {
        this.queue = new ArrayBlockingQueue<>(capacity);
    }

    /** Queues one line; false when the queue is full. */
    boolean offer(JsonAccessLog log, ConnectionContext context, ConnectionStats stats, long droppedBefore) {
        start();
        return queue.offer(new Line(log, context, stats, droppedBefore));
    }

    private void start() {
        if (thread == null) {
            synchronized (this) {
                if (thread == null) {
                    Thread t = new Thread(this::run, "tessera-access-log");
                    t.setDaemon(true);
                    t.start();
                    thread = t;
                }
            }
        }
    }

    /**
     * Writes every queued line now, on the caller's thread (at shutdown: the connections a drain cut are logged
     * before the process exits).
     */
    void flush() {
        while (drainAndWrite(new ArrayList<>(BATCH))) {
            // until the queue is empty
        }
    }

    private void run() {
        var batch = new ArrayList<Line>(BATCH);
        while (!Thread.currentThread().isInterrupted()) {
            if (!drainAndWrite(batch)) {
                // Polled, never signalled: offer() wakes nobody, so a connection's close costs the event loop no
                // futex wake and the node's core no context switch per line (issue 10: at ~2,000 new connections
                // per second the writer woke for every line). A line waits at most this long.
                LockSupport.parkNanos(this, POLL_NANOS);
            }
        }
    }

    /** Writes up to {@link #BATCH} queued lines; false when there was none. Under a lock: lines stay in order. */
    private boolean drainAndWrite(ArrayList<Line> batch) {
        synchronized (writeLock) {
            queue.drainTo(batch, BATCH);
            if (batch.isEmpty()) {
                return false;
            }
            for (Line l : batch) {
                try {
                    l.log().write(l.context(), l.stats(), l.droppedBefore());
                } catch (RuntimeException e) {
                    // a failing log backend loses this line, not the writer
                }
            }
            batch.clear();
            return true;
        }
    }
}
