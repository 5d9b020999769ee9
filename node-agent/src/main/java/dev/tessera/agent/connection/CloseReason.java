package dev.tessera.agent.connection;

/**
 * Why a proxied connection ended. Every failure of the data path maps to exactly one reason; it is the
 * {@code reason} of {@code tessera_connections_closed_total} and of the access log, and maps to one of
 * Istio's {@code response_flags} values on {@code istio_tcp_*} ({@link #istioFlag()}). HBONE servers send
 * refusals back as an HTTP/2 status with the reason's name in the {@code tessera-reason} header, so the
 * client records the same reason as the server.
 */
public enum CloseReason {
    /** Both sides finished normally. */
    OK(200, "-"),
    /** The kernel recorded no original destination for the accepted connection. */
    NO_ORIGINAL_DST(0, "NO_ORIGINAL_DST"),
    /** The client's IP is not a known workload. */
    UNKNOWN_SOURCE(0, "UNKNOWN_SOURCE"),
    /** The client is a workload that is not enrolled in the mesh. */
    NOT_MESHED_SOURCE(0, "NOT_MESHED_SOURCE"),
    /** The client is a meshed workload of another node (traffic must be captured on its own node). */
    SOURCE_NOT_LOCAL(0, "SOURCE_NOT_LOCAL"),
    /** The destination workload's node is not in the mesh state. */
    NO_NODE(0, "NO_NODE"),
    /** The client connected to a Service VIP on a port the Service does not define. */
    NO_SERVICE_PORT(0, "NO_SERVICE_PORT"),
    /** The Service the client connected to has no ready endpoint. */
    NO_HEALTHY_ENDPOINT(0, "NO_HEALTHY_ENDPOINT"),
    /** This node holds no certificate for the identity the connection needs. */
    NO_CERTIFICATE(0, "NO_CERTIFICATE"),
    /** TCP connect to the destination node's HBONE port failed. */
    TUNNEL_CONNECT_FAILED(0, "TUNNEL_CONNECT_FAILED"),
    /** The TLS handshake of a tunnel failed (untrusted chain, unknown SNI, protocol error). */
    TLS_HANDSHAKE_FAILED(0, "TLS_HANDSHAKE_FAILED"),
    /** The tunnel peer presented a certificate for another identity than the expected one. */
    PEER_IDENTITY_MISMATCH(0, "PEER_IDENTITY_MISMATCH"),
    /** The HBONE server answered the CONNECT with an error the client cannot map. */
    TUNNEL_REFUSED(502, "TUNNEL_REFUSED"),
    /** The CONNECT request is malformed (method, authority). */
    BAD_REQUEST(400, "BAD_REQUEST"),
    /** No workload has the CONNECT target's IP. */
    TARGET_UNKNOWN(404, "TARGET_UNKNOWN"),
    /** The CONNECT target is a workload that is not meshed: the HBONE server is no open relay. */
    TARGET_NOT_MESHED(403, "TARGET_NOT_MESHED"),
    /** The CONNECT target runs on another node. */
    TARGET_NOT_LOCAL(403, "TARGET_NOT_LOCAL"),
    /** The CONNECT target's identity is not the identity the client connected to (SNI). */
    IDENTITY_MISMATCH(403, "IDENTITY_MISMATCH"),
    /** An AuthorizationPolicy denies the connection (at connect time, or later when a new policy re-checks it). */
    POLICY_DENIED(403, "POLICY_DENIED"),
    /** A plaintext connection attempt to a pod whose PeerAuthentication is STRICT (dropped by the kernel). */
    MTLS_REQUIRED(0, "MTLS_REQUIRED"),
    /** Connecting to the destination pod failed (refused, unreachable). */
    UPSTREAM_CONNECT_FAILED(503, "UPSTREAM_CONNECT_FAILED"),
    /** Connecting to the destination pod timed out (also: the tunnel did not answer in time). */
    UPSTREAM_TIMEOUT(504, "UPSTREAM_TIMEOUT"),
    /** The destination side reset or dropped the connection. */
    UPSTREAM_RESET(0, "UPSTREAM_RESET"),
    /** The source application reset or dropped the connection. */
    CLIENT_RESET(0, "CLIENT_RESET"),
    /** The tunnel stream or its TLS connection was reset. */
    TUNNEL_RESET(0, "TUNNEL_RESET"),
    /** The agent is shutting down. */
    SHUTDOWN(503, "SHUTDOWN"),
    /** An unexpected error in the agent. */
    INTERNAL_ERROR(500, "INTERNAL_ERROR");

    private final int httpStatus;
    private final String flag;

    CloseReason(int httpStatus, String flag) {
        this.httpStatus = httpStatus;
        this.flag = flag;
    }

    /** The HTTP/2 status an HBONE server answers a refused CONNECT with (0: not a server-side refusal). */
    public int httpStatus() {
        return httpStatus;
    }

    /**
     * The precise reason as the {@code reason} label of {@code tessera_connections_closed_total} and the access log
     * show it ("-" when the connection ended normally); {@link #istioFlag()} is the {@code response_flags} value.
     */
    public String flag() {
        return flag;
    }

    /**
     * The {@code response_flags} value of the {@code istio_tcp_*} metrics, in Istio's vocabulary so Kiali and
     * Istio's dashboards read it: ztunnel's values where ztunnel has one ({@code -}, {@code DENY},
     * {@code CONNECT}, {@code TLS_FAILURE}, {@code IDENTITY_ERROR}), Envoy's where only Envoy names the case
     * ({@code NR} no route, {@code UH} no healthy upstream, {@code DC} downstream and {@code UC} upstream
     * connection termination). {@link #flag()} keeps the precise reason.
     */
    public String istioFlag() {
        return switch (this) {
            case OK -> "-";
            case POLICY_DENIED, MTLS_REQUIRED -> "DENY";
            case TLS_HANDSHAKE_FAILED -> "TLS_FAILURE";
            case NO_CERTIFICATE, PEER_IDENTITY_MISMATCH, IDENTITY_MISMATCH -> "IDENTITY_ERROR";
            case NO_ORIGINAL_DST, UNKNOWN_SOURCE, NOT_MESHED_SOURCE, SOURCE_NOT_LOCAL, NO_SERVICE_PORT, BAD_REQUEST,
                    TARGET_UNKNOWN, TARGET_NOT_MESHED, TARGET_NOT_LOCAL -> "NR";
            case NO_HEALTHY_ENDPOINT -> "UH";
            case CLIENT_RESET -> "DC";
            case UPSTREAM_RESET, TUNNEL_RESET -> "UC";
            case NO_NODE, TUNNEL_CONNECT_FAILED, TUNNEL_REFUSED, UPSTREAM_CONNECT_FAILED, UPSTREAM_TIMEOUT, SHUTDOWN,
                    INTERNAL_ERROR -> "CONNECT";
        };
    }

    /** Parses a reason name; unknown names give {@code fallback}. */
    public static CloseReason parse(CharSequence name, CloseReason fallback) {
        if (name == null) {
            return fallback;
        }
        try {
            return valueOf(name.toString());
        } catch (IllegalArgumentException e) {
            return fallback;
        }
    }
}
