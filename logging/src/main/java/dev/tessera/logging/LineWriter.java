package dev.tessera.logging;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import java.util.function.LongFunction;

/**
 * Writes finished lines to one output on one daemon thread ({@code tessera-log}), so a slow stderr (a full pipe,
 * a stalled container runtime) never blocks an event loop. The queue is bounded: when it is full a line is
 * dropped and counted, and the next line written is preceded by a line saying how many were lost. A shutdown
 * hook (and {@link #flush}) writes what is still queued, so the last words before {@code System.exit} are kept.
 */
final class LineWriter {

    private final BlockingQueue<String> queue;
    private final OutputStream out;
    private final AtomicLong dropped = new AtomicLong();
    private final AtomicLong droppedTotal = new AtomicLong();
    private final Object writeLock = new Object();
    private final LongFunction<String> droppedNotice;
    private volatile Thread thread;

    /** A writer to {@code out} holding up to {@code capacity} lines; {@code droppedNotice} words a loss. */
    LineWriter(OutputStream out, int capacity, LongFunction<String> droppedNotice) {
        this.out = out;
        this.queue = new ArrayBlockingQueue<>(capacity);
        this.droppedNotice = droppedNotice;
    }

    /** Queues one line (ending in a newline); false, and counted, when the queue is full. */
    boolean offer(String line) {
        start();
        if (queue.offer(line)) {
            LockSupport.unpark(thread);
            return true;
        }
        dropped.incrementAndGet();
        droppedTotal.incrementAndGet();
        return false;
    }

    /** Whether the writer thread has written everything and is parked until the next {@link #offer} (tests). */
    boolean parked() {
        Thread t = thread;
        return t != null && queue.isEmpty() && t.getState() == Thread.State.WAITING;
    }

    /** Lines lost to a full queue since start. */
    long dropped() {
        return droppedTotal.get();
    }

    /** Writes every queued line now, on the caller's thread. */
    void flush() {
        drainAndWrite(new ArrayList<>());
    }

    private void start() {
        if (thread == null) {
            synchronized (this) {
                if (thread == null) {
                    Thread t = new Thread(this::run, "tessera-log");
                    t.setDaemon(true);
                    t.start();
                    try {
                        Runtime.getRuntime().addShutdownHook(new Thread(this::flush, "tessera-log-flush"));
                    } catch (IllegalStateException shuttingDown) {
                        // first line logged during shutdown: the writer thread alone will have to do
                    }
                    thread = t;
                }
            }
        }
    }

    private void run() {
        // Lines leave the queue only inside drainAndWrite (under the write lock), so a flush from another
        // thread can never write a later line before an earlier one.
        var batch = new ArrayList<String>(64);
        while (!Thread.currentThread().isInterrupted()) {
            if (queue.isEmpty()) {
                // offer() unparks after queueing: a line queued after the check leaves a permit, so park returns
                LockSupport.park(this);
                continue;
            }
            drainAndWrite(batch);
        }
    }

    private void drainAndWrite(ArrayList<String> batch) {
        synchronized (writeLock) {
            queue.drainTo(batch);
            var b = new StringBuilder();
            long lost = dropped.getAndSet(0);
            if (lost > 0) {
                b.append(droppedNotice.apply(lost));
            }
            for (String s : batch) {
                b.append(s);
            }
            batch.clear();
            if (b.length() == 0) {
                return;
            }
            try {
                out.write(b.toString().getBytes(StandardCharsets.UTF_8));
                out.flush();
            } catch (IOException | RuntimeException e) {
                // nowhere left to report it: the lines are lost, the writer lives on
            }
        }
    }
}
