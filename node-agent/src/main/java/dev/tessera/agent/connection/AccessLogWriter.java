package dev.tessera.agent.connection;

import java.util.ArrayList;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.LockSupport;

/**
 * Writes access log lines on one background daemon thread ({@code tessera-access-log}), so formatting a
 * line and a synchronous write to stderr or a slow disk never run on an event loop. Lines are queued up to
 * a fixed capacity; {@link #offer} refuses a line when the queue is full (the caller counts it as dropped),
 * so a stalled output cannot grow the heap. Lines of one log are written in the order they were offered.
 *
 * <p>While lines keep coming the thread is never signalled: it writes what it finds, sleeps 20 ms, and writes
 * what came meanwhile in one go (at ~2,000 new connections per second a wake-up per line cost the event loop a
 * futex wake and the node's core a context switch per line). After a window in which nothing came it parks
 * until the next line, whose {@link #offer} wakes it: an idle agent's writer does not wake at all (it woke 50
 * times a second when it polled without end), and the first line after a quiet spell is written at once.
 */
final class AccessLogWriter {

    /** The writer every {@link JsonAccessLog} of the process shares (its thread starts on first use). */
    static final AccessLogWriter SHARED = new AccessLogWriter(4096);

    /** How long the writer sleeps after writing, gathering the lines that come meanwhile. */
    private static final long POLL_NANOS = TimeUnit.MILLISECONDS.toNanos(20);
    private static final int BATCH = 256;

    private record Line(JsonAccessLog log, ConnectionContext context, ConnectionStats stats, long droppedBefore) {}

    private final BlockingQueue<Line> queue;
    private final Object writeLock = new Object();
    private volatile Thread thread;
    /** The writer found nothing for a whole window and parks until {@link #offer} unparks it. */
    private final AtomicBoolean idle = new AtomicBoolean();

    AccessLogWriter(int capacity) {
        this.queue = new ArrayBlockingQueue<>(capacity);
    }

    /** Queues one line; false when the queue is full. */
    boolean offer(JsonAccessLog log, ConnectionContext context, ConnectionStats stats, long droppedBefore) {
        start();
        if (!queue.offer(new Line(log, context, stats, droppedBefore))) {
            return false;
        }
        if (idle.get() && idle.compareAndSet(true, false)) {
            LockSupport.unpark(thread);
        }
        return true;
    }

    /** Whether the writer is parked until the next line (tests). */
    boolean idle() {
        Thread t = thread;
        return idle.get() && t != null && t.getState() == Thread.State.WAITING;
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
            if (drainAndWrite(batch)) {
                // Lines came: gather the next ones for a window, unsignalled (offer() sees idle false).
                LockSupport.parkNanos(this, POLL_NANOS);
            } else {
                // A window without lines: park until offer() unparks. A line queued after the set and before the
                // check is seen by the check; one queued after the check unparks (park then returns at once).
                idle.set(true);
                if (queue.isEmpty()) {
                    LockSupport.park(this);
                }
                idle.set(false);
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
