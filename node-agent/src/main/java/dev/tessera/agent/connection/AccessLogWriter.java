package dev.tessera.agent.connection;

import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;

/**
 * Writes access log lines on one background daemon thread ({@code tessera-access-log}), so formatting a
 * line and a synchronous write to stderr or a slow disk never run on an event loop. Lines are queued up to
 * a fixed capacity; {@link #offer} refuses a line when the queue is full (the caller counts it as dropped),
 * so a stalled output cannot grow the heap. Lines of one log are written in the order they were offered.
 */
final class AccessLogWriter {

    /** The writer every {@link JsonAccessLog} of the process shares (its thread starts on first use). */
    static final AccessLogWriter SHARED = new AccessLogWriter(4096);

    private record Line(JsonAccessLog log, ConnectionContext context, ConnectionStats stats, long droppedBefore) {}

    private final BlockingQueue<Line> queue;
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

    private void run() {
        while (true) {
            Line l;
            try {
                l = queue.take();
            } catch (InterruptedException e) {
                return;
            }
            try {
                l.log().write(l.context(), l.stats(), l.droppedBefore());
            } catch (RuntimeException e) {
                // a failing log backend loses this line, not the writer
            }
        }
    }
}
