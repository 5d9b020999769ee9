package dev.tessera.agent.hbone;

import static java.util.Objects.requireNonNull;

import dev.tessera.agent.connection.CloseReason;

/** A tunnel could not be set up; {@link #reason()} is what the connection closes with. */
public final class TunnelException extends Exception {

    private static final long serialVersionUID = 1L;
    private final transient CloseReason reason;
    private final boolean unprocessed;

    public TunnelException(CloseReason reason, String message) {
        this(reason, message, null);
    }

    public TunnelException(CloseReason reason, String message, Throwable cause) {
        this(reason, message, cause, false);
    }

    private TunnelException(CloseReason reason, String message, Throwable cause, boolean unprocessed) {
        super(reason + ": " + message, cause, false, false);
        this.reason = requireNonNull(reason, "reason");
        this.unprocessed = unprocessed;
    }

    /**
     * A stream the server never processed: the connection went away (GOAWAY naming an earlier last stream,
     * or closed) before any answer to the CONNECT. Nothing reached the destination, so it may be retried on
     * another connection.
     */
    static TunnelException unprocessed(String message) {
        return new TunnelException(CloseReason.TUNNEL_RESET, message, null, true);
    }

    /** True when the server never processed the stream (safe to retry). */
    public boolean unprocessed() {
        return unprocessed;
    }

    public CloseReason reason() {
        return reason;
    }

    /** The reason of {@code t} when it is a tunnel failure, else {@code fallback}. */
    public static CloseReason reasonOf(Throwable t, CloseReason fallback) {
        return t instanceof TunnelException te ? te.reason : fallback;
    }
}
