package dev.tessera.agent.connection;

import static java.util.Objects.requireNonNull;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One proxied connection's accounting: its context, byte counts, the first failure reason and the single
 * {@code closed} event. Thread-safe: the two sides of a relay may run on different event loops.
 */
public final class RelaySession {

    /**
     * At DEBUG, one line per connection with the time of each set-up stage since accept, in µs ({@link #mark});
     * absolute stamps are {@code CLOCK_MONOTONIC}, shared by every process of the machine.
     */
    private static final Logger SETUP_LOG = LoggerFactory.getLogger("tessera.setup");

    private final long startNanos;
    private final StringBuilder trace; // null unless tessera.setup is at DEBUG
    private volatile long firstFromSourceNanos;
    private volatile long firstToSourceNanos;
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
        this(context, listener, System.nanoTime());
    }

    /**
     * Starts a session for a connection accepted at {@code acceptedNanos} ({@link System#nanoTime()}) and
     * reports {@link ConnectionListener#opened}.
     */
    public RelaySession(ConnectionContext context, ConnectionListener listener, long acceptedNanos) {
        this.startNanos = acceptedNanos;
        this.context = new AtomicReference<>(requireNonNull(context, "context"));
        this.listener = requireNonNull(listener, "listener");
        this.trace = SETUP_LOG.isDebugEnabled() ? new StringBuilder(160).append(context.direction())
                .append(' ').append(context.client()).append(" t0=").append(startNanos / 1000) : null;
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

    /** Notes that set-up stage {@code stage} was reached now (a no-op unless {@code tessera.setup} logs DEBUG). */
    public void mark(String stage) {
        mark(stage, System.nanoTime());
    }

    /** {@link #mark(String)} for a stage reached at {@code nanos} ({@link System#nanoTime()}). */
    public void mark(String stage, long nanos) {
        if (trace != null) {
            long us = (nanos - startNanos) / 1000;
            synchronized (trace) {
                trace.append(' ').append(stage).append('=').append(us);
            }
        }
    }

    public void addFromSource(long n) {
        if (fromSource.getAndAdd(n) == 0 && n > 0 && firstFromSourceNanos == 0) {
            firstFromSourceNanos = System.nanoTime();
            mark("first-byte-upstream");
            listener.setup(context().direction(), ConnectionListener.SetupPhase.REQUEST,
                    firstFromSourceNanos - startNanos);
        }
    }

    void addToSource(long n) {
        if (toSource.getAndAdd(n) == 0 && n > 0 && firstToSourceNanos == 0) {
            firstToSourceNanos = System.nanoTime();
            mark("first-byte-downstream");
            listener.setup(context().direction(), ConnectionListener.SetupPhase.RESPONSE,
                    firstToSourceNanos - startNanos);
        }
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
            if (trace != null) {
                mark("closed");
                SETUP_LOG.debug("{} -> {} {}", trace, context().destination(), reason());
            }
            listener.closed(this, new ConnectionStats(fromSource.get(), toSource.get(),
                    Duration.ofNanos(System.nanoTime() - startNanos), reason()));
        }
    }
}
