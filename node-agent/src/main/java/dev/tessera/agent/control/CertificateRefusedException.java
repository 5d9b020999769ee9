package dev.tessera.agent.control;

import dev.tessera.api.identity.SpiffeId;

/** The controller refused to sign a certificate; {@link #reason()} is its refusal reason (e.g. NO_POD_ON_NODE). */
public final class CertificateRefusedException extends Exception {

    private static final long serialVersionUID = 1L;

    private final String reason;

    public CertificateRefusedException(SpiffeId id, String reason, String message) {
        super("controller refused a certificate for " + id + ": " + reason + ": " + message);
        this.reason = reason;
    }

    public String reason() {
        return reason;
    }
}
