package dev.tessera.agent.tunnel;

import static java.util.Objects.requireNonNull;

import dev.tessera.agent.proxy.CloseReason;

/** A tunnel could not be set up; {@link #reason()} is what the connection closes with. */
public final class TunnelException extends Exception {

    private static final long serialVersionUID = 1L;
    private final transient CloseReason reason;

    public TunnelException(CloseReason reason, String message) {
        this(reason, message, null);
    }

    public TunnelException(CloseReason reason, String message, Throwable cause) {
        super(reason + ": " + message, cause, false, false);
        this.reason = requireNonNull(reason, "reason");
    }

    public CloseReason reason() {
        return reason;
    }

    /** The reason of {@code t} when it is a tunnel failure, else {@code fallback}. */
    public static CloseReason reasonOf(Throwable t, CloseReason fallback) {
        return t instanceof TunnelException te ? te.reason : fallback;
    }
}
