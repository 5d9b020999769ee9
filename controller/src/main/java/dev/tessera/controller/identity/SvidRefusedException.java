package dev.tessera.controller.identity;

import static java.util.Objects.requireNonNull;

/** A certificate request the controller refused; {@link #reason()} says which rule it failed. */
public final class SvidRefusedException extends Exception {

    private static final long serialVersionUID = 1L;

    private final RefusalReason reason;

    public SvidRefusedException(RefusalReason reason, String message) {
        this(reason, message, null);
    }

    public SvidRefusedException(RefusalReason reason, String message, Throwable cause) {
        super(requireNonNull(reason, "reason") + ": " + message, cause);
        this.reason = reason;
    }

    public RefusalReason reason() {
        return reason;
    }
}
