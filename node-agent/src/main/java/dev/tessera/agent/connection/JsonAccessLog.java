package dev.tessera.agent.connection;

import dev.tessera.api.json.Json;
import dev.tessera.api.model.Workload;
import java.net.InetSocketAddress;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The default access log: one JSON line per closed connection on the SLF4J logger {@code tessera.access}
 * (INFO). Fields: direction, route, reason, src/dst addresses, workloads and identities, the inbound
 * authorization (policy_decision, policy, policy_rule, policy_reason; only where a decision was taken),
 * bytes and duration in milliseconds.
 *
 * <p>Rate-limited by a token bucket (default 200 lines/s, bursts of 1,000) so a connection flood cannot
 * fill the disk; lines over the limit are dropped and counted ({@link #dropped()}), and the next line
 * written says how many were dropped before it ({@code "dropped_before":N}).
 *
 * <p>The default log formats and writes on a background thread ({@link AccessLogWriter}): the event loop
 * that closed the connection only takes a token and queues the context.
 */
public final class JsonAccessLog implements ConnectionListener {

    /** The logger name access lines are written to. */
    public static final String LOGGER = "tessera.access";

    /** Default sustained access log lines per second. */
    public static final double DEFAULT_RATE = 200;
    /** Default burst of access log lines. */
    public static final int DEFAULT_BURST = 1000;

    private final Logger log;
    private final TokenBucket bucket;
    private final AccessLogWriter writer; // null: write on the caller's thread
    private final java.util.concurrent.atomic.AtomicLong dropped = new java.util.concurrent.atomic.AtomicLong();
    private final java.util.concurrent.atomic.AtomicLong droppedUnreported = new java.util.concurrent.atomic.AtomicLong();

    /** The agent's access log: logger {@link #LOGGER}, default rate, written on a background thread. */
    public JsonAccessLog() {
        this(LoggerFactory.getLogger(LOGGER), new TokenBucket(DEFAULT_RATE, DEFAULT_BURST, System::nanoTime),
                AccessLogWriter.SHARED);
    }

    JsonAccessLog(Logger log) {
        this(log, new TokenBucket(DEFAULT_RATE, DEFAULT_BURST, System::nanoTime));
    }

    /** An access log writing to {@code log} at most as fast as {@code bucket} allows. */
    public JsonAccessLog(Logger log, TokenBucket bucket) {
        this(log, bucket, null);
    }

    private JsonAccessLog(Logger log, TokenBucket bucket, AccessLogWriter writer) {
        this.log = java.util.Objects.requireNonNull(log, "log");
        this.bucket = java.util.Objects.requireNonNull(bucket, "bucket");
        this.writer = writer;
    }

    @Override
    public void closed(ConnectionContext context, ConnectionStats stats) {
        if (!log.isInfoEnabled()) {
            return;
        }
        if (!bucket.tryAcquire()) {
            dropped.incrementAndGet();
            droppedUnreported.incrementAndGet();
            return;
        }
        long before = droppedUnreported.getAndSet(0);
        if (writer == null) {
            log.info(line(context, stats, before));
        } else if (!writer.offer(log, context, stats, before)) {
            dropped.incrementAndGet(); // the writer is behind (stalled output): this line is lost
            droppedUnreported.addAndGet(before + 1);
        }
    }

    /** The line for one closed connection, announcing {@code droppedBefore} lines lost before it. */
    static String line(ConnectionContext context, ConnectionStats stats, long droppedBefore) {
        String line = format(context, stats);
        if (droppedBefore > 0) {
            line = line.substring(0, line.length() - 1) + ",\"dropped_before\":" + droppedBefore + "}";
        }
        return line;
    }

    /** Lines dropped by the rate limit since start. */
    public long dropped() {
        return dropped.get();
    }

    /** The JSON line for one closed connection. */
    public static String format(ConnectionContext c, ConnectionStats s) {
        var b = new StringBuilder(320).append('{');
        field(b, "direction", c.direction().name().toLowerCase(java.util.Locale.ROOT));
        field(b, "route", c.route() == null ? null : c.route().name().toLowerCase(java.util.Locale.ROOT));
        field(b, "reason", s.reason().name());
        field(b, "src_addr", addr(c.client()));
        field(b, "src_workload", workload(c.sourceWorkload()));
        field(b, "src_identity", c.sourceIdentity() == null ? null : c.sourceIdentity().toString());
        field(b, "dst_addr", addr(c.destination()));
        field(b, "dst_service", c.service() == null ? null : c.service().key());
        field(b, "dst_workload", workload(c.destinationWorkload()));
        field(b, "dst_identity", c.destinationIdentity() == null ? null : c.destinationIdentity().toString());
        field(b, "tunnel_peer", addr(c.tunnelPeer()));
        if (c.authorization() != null) {
            field(b, "policy_decision", c.authorization().label());
            field(b, "policy", c.authorization().policy());
            b.append("\"policy_rule\":").append(c.authorization().rule()).append(',');
            field(b, "policy_reason", c.authorization().reason());
        }
        b.append("\"bytes_from_src\":").append(s.bytesFromSource()).append(',');
        b.append("\"bytes_to_src\":").append(s.bytesToSource()).append(',');
        b.append("\"duration_ms\":").append(s.duration().toMillis());
        return b.append('}').toString();
    }

    private static String addr(InetSocketAddress a) {
        return a == null ? null : a.getAddress().getHostAddress() + ":" + a.getPort();
    }

    private static String workload(Workload w) {
        return w == null ? null : w.key();
    }

    private static void field(StringBuilder b, String name, String value) {
        b.append('"').append(name).append("\":");
        if (value == null) {
            b.append("null,");
            return;
        }
        Json.quote(b, value);
        b.append(',');
    }
}
