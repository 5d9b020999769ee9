package dev.tessera.api.config;

/**
 * The well-known ports of the mesh (BRIEF.md), defined once for every module: the agent's listeners and
 * endpoints, and the controller's.
 */
public final class Ports {

    /** Agent: captured outbound connections of meshed pods (eBPF redirect target). */
    public static final int OUTBOUND = 15001;
    /** Agent: HBONE (HTTP/2 CONNECT over mutual TLS) from other nodes' agents. */
    public static final int HBONE = 15008;
    /** Agent: Prometheus metrics. */
    public static final int METRICS = 15020;
    /** Agent: readiness ({@code /healthz/ready}). */
    public static final int READY = 15021;
    /** Agent: admin API, bound to localhost. */
    public static final int ADMIN = 15000;
    /** Controller: the agents' push and certificate endpoint (TLS). */
    public static final int CONTROLLER_PUSH = 15012;
    /** Controller: metrics and health. */
    public static final int CONTROLLER_METRICS = 15014;

    private Ports() {}
}
