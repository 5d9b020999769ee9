package dev.tessera.controller.push;

import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;

/** Counters of the config push server, read by the controller's metrics endpoint. Thread-safe. */
public final class PushCounters {

    private final LongAdder connections = new LongAdder();
    private final LongAdder malformed = new LongAdder();
    private final LongAdder snapshots = new LongAdder();
    private final LongAdder deltas = new LongAdder();
    private final LongAdder nacks = new LongAdder();
    private final LongAdder csrs = new LongAdder();
    private final ConcurrentHashMap<String, LongAdder> rejected = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<String, LongAdder> refused = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<String, LongAdder> versionRefused = new ConcurrentHashMap<>();

    void connection() {
        connections.increment();
    }

    void malformedFrame() {
        malformed.increment();
    }

    void snapshotSent() {
        snapshots.increment();
    }

    void deltaSent() {
        deltas.increment();
    }

    void nack() {
        nacks.increment();
    }

    void csr() {
        csrs.increment();
    }

    void rejected(String reason) {
        rejected.computeIfAbsent(reason, r -> new LongAdder()).increment();
    }

    void versionRefused(String agent) {
        versionRefused.computeIfAbsent(agent, r -> new LongAdder()).increment();
    }

    /**
     * Agents refused because they share no protocol version with this controller (also counted among the
     * PROTOCOL_VERSION {@link #rejectedHandshakes()}), by which side is ahead: {@code newer} (the agent: upgrade
     * the controller first) or {@code older} (the agent: upgrade it).
     */
    public Map<String, Long> versionRefusals() {
        var out = new TreeMap<String, Long>();
        versionRefused.forEach((k, v) -> out.put(k, v.sum()));
        return out;
    }

    void refused(String reason) {
        refused.computeIfAbsent(reason, r -> new LongAdder()).increment();
    }

    /**
     * Work refused for overload, by reason: {@code UNAUTHENTICATED_LIMIT}, {@code UNAUTHENTICATED_PER_SOURCE}
     * (connections closed at accept), {@code HELLO_QUEUE_FULL}, {@code CSR_QUEUE_FULL}, {@code CSR_PER_AGENT_LIMIT}.
     */
    public Map<String, Long> refusals() {
        var out = new TreeMap<String, Long>();
        refused.forEach((k, v) -> out.put(k, v.sum()));
        return out;
    }

    /** TCP connections accepted. */
    public long connections() {
        return connections.sum();
    }

    /** Handshakes refused, by reason (a {@code RefusalReason} name, NODE_MISMATCH, PROTOCOL_VERSION, HELLO_TIMEOUT, TLS). */
    public Map<String, Long> rejectedHandshakes() {
        var out = new TreeMap<String, Long>();
        rejected.forEach((k, v) -> out.put(k, v.sum()));
        return out;
    }

    /** Connections closed because a frame could not be decoded. */
    public long malformedFrames() {
        return malformed.sum();
    }

    /** Snapshots plus deltas written to agents. */
    public long pushes() {
        return snapshots.sum() + deltas.sum();
    }

    public long snapshotsSent() {
        return snapshots.sum();
    }

    public long deltasSent() {
        return deltas.sum();
    }

    /** Versions agents could not apply. */
    public long nacks() {
        return nacks.sum();
    }

    /** Certificate requests received (issued and refused ones are counted by the SvidIssuer). */
    public long csrs() {
        return csrs.sum();
    }
}
