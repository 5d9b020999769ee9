package dev.tessera.agent.connection;

import static java.util.Objects.requireNonNull;

import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Receives the life of every proxied connection and of the HBONE tunnels. Called on event-loop threads:
 * implementations must be fast, thread-safe and must not block. Every {@link #opened} is followed by
 * exactly one {@link #closed} with the same context (also for connections rejected right after accept).
 */
public interface ConnectionListener {

    /** A listener that ignores everything. */
    ConnectionListener NOOP = new ConnectionListener() {};

    /** A connection was accepted and routed (or is about to be rejected). */
    default void opened(ConnectionContext context) {}

    /**
     * The live accounting of a connection reported by {@link #opened}, right after it (observability:
     * byte counts while the connection lasts, the list of open connections). Do not keep it after
     * {@link #closed}.
     */
    default void live(RelaySession session) {}

    /** A connection ended; {@code context} is the most complete one it reached. */
    default void closed(ConnectionContext context, ConnectionStats stats) {}

    /**
     * A connection reported by {@link #live} ended (what {@link RelaySession#close()} calls); by default
     * {@link #closed(ConnectionContext, ConnectionStats)} with the session's latest context.
     */
    default void closed(RelaySession session, ConnectionStats stats) {
        closed(session.context(), stats);
    }

    /**
     * A plaintext connection attempt the kernel decided (route {@link ConnectionContext.RouteKind#PLAINTEXT}):
     * {@code stats.reason()} is {@link CloseReason#OK} when it was let through (the connection goes on
     * without the agent: no bytes, no close are ever seen), otherwise why it was dropped.
     */
    default void plaintext(ConnectionContext context, ConnectionStats stats) {}

    /** The two moments of a connection's set-up that {@link #setup} reports. */
    enum SetupPhase {
        /** The client's first bytes were relayed towards the destination (upstream). */
        REQUEST,
        /** The destination's first answer bytes were relayed back to the client. */
        RESPONSE
    }

    /**
     * A connection reached {@code phase}, {@code nanos} after it was accepted (outbound: the application's
     * connection to 15001; inbound: the CONNECT stream's arrival). At most once per phase and connection.
     */
    default void setup(ConnectionContext.Direction direction, SetupPhase phase, long nanos) {}

    /** An HBONE TLS handshake ended, as client ({@code OUTBOUND}) or server ({@code INBOUND}). */
    default void handshake(ConnectionContext.Direction direction, boolean success) {}

    /** A pooled HBONE client connection was established. */
    default void tunnelOpened() {}

    /** A pooled HBONE client connection that had been established closed. */
    default void tunnelClosed() {}

    /** A listener calling each of {@code listeners} in order; one's failure does not stop the others. */
    static ConnectionListener of(ConnectionListener... listeners) {
        List<ConnectionListener> all = List.of(listeners);
        return new Composite(all);
    }

    /** See {@link ConnectionListener#of}. */
    final class Composite implements ConnectionListener {
        private static final Logger log = LoggerFactory.getLogger(Composite.class);
        private final List<ConnectionListener> all;

        Composite(List<ConnectionListener> all) {
            this.all = requireNonNull(all, "all");
        }

        private void each(java.util.function.Consumer<ConnectionListener> call) {
            for (ConnectionListener l : all) {
                try {
                    call.accept(l);
                } catch (RuntimeException e) {
                    log.warn("connection listener {} failed", l, e);
                }
            }
        }

        @Override
        public void opened(ConnectionContext context) {
            each(l -> l.opened(context));
        }

        @Override
        public void live(RelaySession session) {
            each(l -> l.live(session));
        }

        @Override
        public void closed(ConnectionContext context, ConnectionStats stats) {
            each(l -> l.closed(context, stats));
        }

        @Override
        public void closed(RelaySession session, ConnectionStats stats) {
            each(l -> l.closed(session, stats));
        }

        @Override
        public void plaintext(ConnectionContext context, ConnectionStats stats) {
            each(l -> l.plaintext(context, stats));
        }

        @Override
        public void setup(ConnectionContext.Direction direction, SetupPhase phase, long nanos) {
            each(l -> l.setup(direction, phase, nanos));
        }

        @Override
        public void handshake(ConnectionContext.Direction direction, boolean success) {
            each(l -> l.handshake(direction, success));
        }

        @Override
        public void tunnelOpened() {
            each(ConnectionListener::tunnelOpened);
        }

        @Override
        public void tunnelClosed() {
            each(ConnectionListener::tunnelClosed);
        }
    }
}
