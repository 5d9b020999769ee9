package dev.tessera.agent.inbound;

import static java.util.Objects.requireNonNull;

import dev.tessera.agent.connection.CloseReason;
import dev.tessera.agent.connection.ConnectionContext;
import dev.tessera.agent.connection.ConnectionListener;
import dev.tessera.agent.connection.ConnectionStats;
import dev.tessera.agent.policy.Decision;
import dev.tessera.agent.redirect.PeerAuthProgram;
import dev.tessera.agent.redirect.PeerAuthProgram.PlainEvent;
import dev.tessera.agent.redirect.ffi.RingBell;
import dev.tessera.api.model.MeshSnapshot;
import dev.tessera.api.model.Workload;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.function.BiFunction;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The inbound connections the agent never proxies: plaintext connection attempts to meshed pods of this node,
 * decided by the kernel ({@code peerauth.bpf.c} queues one event per decided SYN in {@code tsp_plain_events}).
 * A daemon thread ({@code tessera-plaintext-events}) sleeps until the program rings its doorbell
 * ({@code tsp_plain_bell}, a ring buffer: {@link PeerAuthProgram#plainEventBell()}), then drains the queue and hands
 * each attempt, as an inbound {@link ConnectionContext.RouteKind#PLAINTEXT} context, to
 * {@link ConnectionListener#plaintext} (access log, {@code istio_tcp_*} with
 * {@code connection_security_policy="none"}). An agent that sees no plaintext wakes for none of it (it polled the
 * queue ten times a second before); an attempt is reported within milliseconds instead of up to 100 ms later. The
 * kernel queue (4,096 events) bounds what one drain can bring; beyond it events are lost and counted by the
 * kernel; the access log's own rate limit applies.
 */
public final class PlaintextEvents implements AutoCloseable {

    /**
     * The longest the thread sleeps without a doorbell before it drains anyway: a bound for a doorbell that never
     * came (none is known to be lost), not a poll.
     */
    public static final Duration SAFETY_NET = Duration.ofSeconds(30);
    /** How often the queue is read when there is no doorbell (see {@link #start()}). */
    public static final Duration POLL = Duration.ofMillis(100);
    private static final Logger log = LoggerFactory.getLogger(PlaintextEvents.class);

    private final PeerAuthProgram program;
    private final Supplier<MeshSnapshot> state;
    private final BiFunction<InetSocketAddress, InetAddress, Optional<Decision>> decisions;
    private final ConnectionListener listener;
    private final java.util.function.LongConsumer permissive;
    private volatile Thread thread;
    private volatile RingBell bell;
    private volatile boolean closed;

    /**
     * @param decisions the policy decision behind the kernel entry that decided (pod, source), if any
     * @param permissive told how many attempts of a drain passed because no policy selects the pod (PERMISSIVE):
     *     no kernel entry counts those, so the policy decisions metric learns them from here
     */
    public PlaintextEvents(PeerAuthProgram program, Supplier<MeshSnapshot> state,
            BiFunction<InetSocketAddress, InetAddress, Optional<Decision>> decisions, ConnectionListener listener,
            java.util.function.LongConsumer permissive) {
        this.permissive = requireNonNull(permissive, "permissive");
        this.program = requireNonNull(program, "program");
        this.state = requireNonNull(state, "state");
        this.decisions = requireNonNull(decisions, "decisions");
        this.listener = requireNonNull(listener, "listener");
    }

    /**
     * Opens the doorbell and starts the draining thread. Without a doorbell (the ring cannot be opened or mapped)
     * the thread polls the queue every {@link #POLL} instead, as before the doorbell, rather than the agent failing.
     */
    public PlaintextEvents start() {
        RingBell b = openBell();
        bell = b;
        Thread t = new Thread(() -> run(b), "tessera-plaintext-events");
        t.setDaemon(true);
        thread = t;
        t.start();
        return this;
    }

    private RingBell openBell() {
        try {
            return program.plainEventBell();
        } catch (RuntimeException e) {
            log.warn("plaintext events: no doorbell ({}); polling the queue every {} ms", e.toString(), POLL.toMillis());
            return null;
        }
    }

    private void run(RingBell b) {
        while (!closed) {
            try {
                drain();
            } catch (RuntimeException e) {
                if (closed) {
                    return; // the map was closed by a shutdown
                }
                log.warn("plaintext events not read: {}", e.toString());
            }
            if (!awaitEvents(b)) {
                return;
            }
        }
    }

    /**
     * Waits until the doorbell rings (or its safety net, or close()); without a doorbell, or after it failed, sleeps
     * {@link #POLL} or 1 s. False when the thread is to stop.
     */
    private boolean awaitEvents(RingBell b) {
        long pause = POLL.toMillis();
        if (b != null) {
            try {
                b.await((int) SAFETY_NET.toMillis());
                return true;
            } catch (RuntimeException e) {
                if (closed) {
                    return false;
                }
                log.warn("plaintext events: waiting for the doorbell failed ({}); draining in 1 s", e.toString());
                pause = 1000;
            }
        }
        try {
            Thread.sleep(pause);
            return true;
        } catch (InterruptedException stop) {
            return false;
        }
    }

    /** Reports what the kernel queued since the last call; returns how many events were read. */
    public int drain() {
        List<PlainEvent> events = program.drainPlainEvents(PeerAuthProgram.MAX_QUEUED_EVENTS);
        MeshSnapshot snapshot = state.get();
        long unselected = 0;
        for (PlainEvent e : events) {
            Decision d;
            if (e.verdict() == PeerAuthProgram.PlainVerdict.PERMISSIVE) {
                d = dev.tessera.agent.policy.PlaintextDecisions.NO_POLICY;
                unselected++;
            } else {
                d = e.verdict() == PeerAuthProgram.PlainVerdict.ALLOWED
                        || e.verdict() == PeerAuthProgram.PlainVerdict.DENIED
                        ? decisions.apply(e.pod(), e.source().getAddress()).orElse(null) : null;
            }
            listener.plaintext(context(e, snapshot, d), stats(e));
        }
        if (unselected > 0) {
            permissive.accept(unselected);
        }
        return events.size();
    }

    /** The inbound context of one plaintext attempt: both workloads when the state knows their addresses. */
    static ConnectionContext context(PlainEvent e, MeshSnapshot snapshot, Decision decision) {
        Workload src = snapshot.workloadByIp(e.source().getAddress()).orElse(null);
        Workload dst = snapshot.workloadByIp(e.pod().getAddress()).orElse(null);
        return ConnectionContext.accepted(ConnectionContext.Direction.INBOUND, e.source())
                .withDestination(e.pod())
                .withSource(src, null) // plaintext carries no identity
                .withTarget(dst, null)
                .withAuthorization(decision)
                .withRoute(ConnectionContext.RouteKind.PLAINTEXT, null);
    }

    /** No bytes and no duration: the agent sees only the decision. */
    static ConnectionStats stats(PlainEvent e) {
        CloseReason reason = switch (e.verdict()) {
            case ALLOWED, PERMISSIVE -> CloseReason.OK;
            case DENIED -> CloseReason.POLICY_DENIED;
            case STRICT -> CloseReason.MTLS_REQUIRED;
        };
        return new ConnectionStats(0, 0, Duration.ZERO, reason);
    }

    @Override
    public void close() {
        closed = true;
        RingBell b = bell;
        if (b != null) {
            b.close(); // wakes the thread; the ring is released when it has left its wait
        }
        Thread t = thread;
        if (t != null) {
            t.interrupt();
        }
    }
}
