package dev.tessera.api.push;

/**
 * The type byte of a frame. Codes are part of the wire format: never renumber, only add. A type added in
 * protocol version N ({@link #since()}) is only ever sent on a session that negotiated N or later: a peer of
 * an older version would not decode it.
 */
public enum FrameType {
    /** agent -> controller: protocol version, node, bearer token, resume point. */
    HELLO(1),
    /** controller -> agent: the whole configuration at one version, with the trust bundle. */
    SNAPSHOT(2),
    /** controller -> agent: the changes from one version to the next. */
    DELTA(3),
    /** agent -> controller: a version was applied. */
    ACK(4),
    /** agent -> controller: a version could not be applied (the controller answers with a snapshot). */
    NACK(5),
    /** agent -> controller: a certificate signing request. */
    CSR(6),
    /** controller -> agent: a signed certificate chain. */
    CERT(7),
    /** controller -> agent: a certificate request was refused. */
    REFUSED(8),
    /** either way: liveness probe. */
    PING(9),
    /** either way: answer to a PING. */
    PONG(10),
    /** controller -> agent: the controller is going away; reconnect (elsewhere) later. */
    GOAWAY(11),
    /** either way: the connection is closed because of this error. */
    ERROR(12),
    /** controller -> agent, protocol version 2 on: the version chosen for the session (answers HELLO). */
    WELCOME(13, 2),
    /**
     * controller -> agent, protocol version 3 on: the configuration at one version as one node needs it, its
     * own pods whole and every other pod in the compact routing form ({@link NodeFrames}); decoded into a
     * {@link Message.Snapshot}.
     */
    NODE_SNAPSHOT(14, 3),
    /**
     * controller -> agent, protocol version 3 on: the changes from one version to the next as one node needs
     * them ({@link NodeFrames}); decoded into a {@link Message.Delta}.
     */
    NODE_DELTA(15, 3);

    private static final FrameType[] BY_CODE = new FrameType[256];

    static {
        for (FrameType t : values()) {
            BY_CODE[t.code] = t;
        }
    }

    private final int code;
    private final int since;

    FrameType(int code) {
        this(code, 1);
    }

    FrameType(int code, int since) {
        this.code = code;
        this.since = since;
    }

    /** The protocol version that introduced this type. */
    public int since() {
        return since;
    }

    /** The byte on the wire. */
    public int code() {
        return code;
    }

    /** The type of a code. */
    public static FrameType of(int code) throws ProtocolException {
        FrameType t = code >= 0 && code < 256 ? BY_CODE[code] : null;
        if (t == null) {
            throw new ProtocolException("frame type: " + code + " (expected: 1-" + values().length + ")");
        }
        return t;
    }
}
