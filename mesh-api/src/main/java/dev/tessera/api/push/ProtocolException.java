package dev.tessera.api.push;

import java.io.IOException;

/**
 * A frame of the controller-agent protocol that cannot be read: truncated, oversized, of an unknown type,
 * or with a field out of range. The message names the field and the expected value, e.g.
 * {@code "frame length: 70000000 (expected: 1-67108864)"}. The peer that sent it is disconnected.
 */
public final class ProtocolException extends IOException {

    private static final long serialVersionUID = 1L;

    public ProtocolException(String message) {
        super(message);
    }

    public ProtocolException(String message, Throwable cause) {
        super(message, cause);
    }
}
