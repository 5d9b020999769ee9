package dev.tessera.agent.proxy;

import static java.util.Objects.requireNonNull;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * One proxied connection's accounting: its context, byte counts, the first failure reason and the single
 * {@code closed} event. Thread-safe: the two sides of a relay may run on different event loops.
 */
public final class RelaySession {

    private final long startNanos = System.nanoTime();
    private final ConnectionListener listener;
    private final AtomicReference<ConnectionContext> context;
    private final AtomicReference<CloseReason> reason = new AtomicReference<>();
    private final AtomicLong fromSource = new AtomicLong();
    private final AtomicLong toSource = new AtomicLong();
    private final AtomicBoolean closed = new AtomicBoolean();
    /** Set once a relay carries the connection: its source side closes the session (see {@link #close}). */
    private volatile boolean relayed;

    /** Starts a session and reports {@link ConnectionListener#opened}. */
    public RelaySession(ConnectionContext context, ConnectionListener listener) {
        this.context = new AtomicReference<>(requireNonNull(context, "context"));
        this.listener = requireNonNull(listener, "listener");
        listener.opened(context);
        listener.live(this);
    }

    /** When the session started ({@link System#nanoTime()}). */
    public long startNanos() {
        return startNanos;
    }

    public ConnectionContext context() {
        return context.get();
    }

    /** Replaces the context with a more complete one (before the connection closes). */
    public void context(ConnectionContext updated) {
        context.set(requireNonNull(updated, "updated"));
    }

    /** Records why the connection fails; the first reason wins. */
    public void fail(CloseReason why) {
        reason.compareAndSet(null, requireNonNull(why, "why"));
    }

    /** The failure recorded so far, or {@link CloseReason#OK}. */
    public CloseReason reason() {
        CloseReason r = reason.get();
        return r == null ? CloseReason.OK : r;
    }

    void addFromSource(long n) {
        fromSource.addAndGet(n);
    }

    void addToSource(long n) {
        toSource.addAndGet(n);
    }

    public long bytesFromSource() {
        return fromSource.get();
    }

    public long bytesToSource() {
        return toSource.get();
    }

    public boolean isClosed() {
        return closed.get();
    }

    /**
     * Reports {@link ConnectionListener#closed} once; later calls do nothing. Callers close the session when
     * its source channel closes (its close future); once a relay carries the connection that is left to the
     * relay's source side, which first records why the channel closed: a channel's close future completes
     * before its {@code channelInactive}, so closing here would report a connection cut under the relay as
     * OK.
     */
    public void close() {
        if (!relayed) {
            report();
        }
    }

    /** A relay now carries the connection (see {@link #close}). */
    void relayed() {
        relayed = true;
    }

    /** The relay's source side ended (after recording any failure): report the close. */
    void relayClosed() {
        report();
    }

    private void report() {
        if (closed.compareAndSet(false, true)) {
            listener.closed(this, new ConnectionStats(fromSource.get(), toSource.get(),
                    Duration.ofNanos(System.nanoTime() - startNanos), reason()));
        }
    }
}
