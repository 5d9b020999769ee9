package dev.tessera.agent.connection;

import dev.tessera.api.json.Json;
import dev.tessera.api.model.Workload;
import dev.tessera.logging.LogFormat;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.event.KeyValuePair;
import org.slf4j.spi.LoggingEventBuilder;

/**
 * The default access log: one record per closed connection on the SLF4J logger {@code tessera.access}
 * (INFO), in one of two shapes chosen by {@code --log-format}:
 * <ul>
 * <li>text (the default, unchanged): the message is a JSON object with our field names — direction, route,
 * reason, src/dst addresses, workloads and identities, the inbound authorization (policy_decision, policy,
 * policy_rule, policy_reason; only where a decision was taken), bytes and duration in milliseconds;
 * <li>json: the log line itself is the record, with ztunnel's access-log keys ({@link #keyValues}): message
 * {@code connection complete}, {@code src.addr}, {@code src.workload}, {@code src.namespace},
 * {@code src.identity}, {@code dst.addr}, {@code dst.hbone_addr}, {@code dst.service}, {@code dst.workload},
 * {@code dst.namespace}, {@code dst.identity}, {@code direction}, {@code bytes_sent}, {@code bytes_recv},
 * {@code duration} ({@code "12ms"}), {@code error} on failures (logged at ERROR as ztunnel does), plus ours:
 * {@code route}, {@code reason}, the policy fields and {@code dropped_before}.
 * </ul>
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

    /** The DNS suffix of {@code dst.service}, as in the metrics' {@code destination_service}. */
    private static final String CLUSTER_DOMAIN = "cluster.local";

    /** Default sustained access log lines per second. */
    public static final double DEFAULT_RATE = 200;
    /** Default burst of access log lines. */
    public static final int DEFAULT_BURST = 1000;

    private final Logger log;
    private final boolean ztunnelKeys;
    private final TokenBucket bucket;
    private final AccessLogWriter writer; // null: write on the caller's thread
    private final java.util.concurrent.atomic.AtomicLong dropped = new java.util.concurrent.atomic.AtomicLong();
    private final java.util.concurrent.atomic.AtomicLong droppedUnreported = new java.util.concurrent.atomic.AtomicLong();

    /** The agent's access log: logger {@link #LOGGER}, default rate, written on a background thread. */
    public JsonAccessLog() {
        this(LogFormat.TEXT);
    }

    /** The agent's access log in {@code format} ({@code --log-format}). */
    public JsonAccessLog(LogFormat format) {
        this(LoggerFactory.getLogger(LOGGER), format,
                new TokenBucket(DEFAULT_RATE, DEFAULT_BURST, System::nanoTime), AccessLogWriter.SHARED);
    }

    /**
     * An access log that formats and hands lines to the background writer as the agent's does, and discards
     * them: for the start-up warm-up's private data path, whose connections are not the pods'.
     */
    public static JsonAccessLog discarding(LogFormat format) {
        return new JsonAccessLog(org.slf4j.helpers.NOPLogger.NOP_LOGGER, format,
                new TokenBucket(DEFAULT_RATE, DEFAULT_BURST, System::nanoTime), AccessLogWriter.SHARED);
    }

    JsonAccessLog(Logger log) {
        this(log, new TokenBucket(DEFAULT_RATE, DEFAULT_BURST, System::nanoTime));
    }

    JsonAccessLog(Logger log, LogFormat format) {
        this(log, format, new TokenBucket(DEFAULT_RATE, DEFAULT_BURST, System::nanoTime), null);
    }

    /** An access log writing to {@code log} at most as fast as {@code bucket} allows. */
    public JsonAccessLog(Logger log, TokenBucket bucket) {
        this(log, LogFormat.TEXT, bucket, null);
    }

    private JsonAccessLog(Logger log, LogFormat format, TokenBucket bucket, AccessLogWriter writer) {
        this.log = java.util.Objects.requireNonNull(log, "log");
        this.ztunnelKeys = java.util.Objects.requireNonNull(format, "format") == LogFormat.JSON;
        this.bucket = java.util.Objects.requireNonNull(bucket, "bucket");
        this.writer = writer;
    }

    /** Writes the lines still queued for the background writer now, on the caller's thread (shutdown). */
    public static void flushPending() {
        AccessLogWriter.SHARED.flush();
    }

    /** A kernel-decided plaintext connection attempt: one record, under the same rate limit. */
    @Override
    public void plaintext(ConnectionContext context, ConnectionStats stats) {
        closed(context, stats);
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
            write(context, stats, before);
        } else if (!writer.offer(this, context, stats, before)) {
            dropped.incrementAndGet(); // the writer is behind (stalled output): this line is lost
            droppedUnreported.addAndGet(before + 1);
        }
    }

    /** Writes the record of one closed connection (on the writer's thread, or the caller's without one). */
    void write(ConnectionContext context, ConnectionStats stats, long droppedBefore) {
        if (!ztunnelKeys) {
            log.info(line(context, stats, droppedBefore));
            return;
        }
        boolean failed = stats.reason() != CloseReason.OK;
        LoggingEventBuilder b = failed ? log.atError() : log.atInfo();
        for (var kv : keyValues(context, stats)) {
            b = b.addKeyValue(kv.key, kv.value);
        }
        if (droppedBefore > 0) {
            b = b.addKeyValue("dropped_before", droppedBefore);
        }
        b.log(context.route() != ConnectionContext.RouteKind.PLAINTEXT ? "connection complete"
                : failed ? "plaintext connection denied" : "plaintext connection allowed");
    }

    /**
     * The record of one closed connection with ztunnel's access-log keys, in ztunnel's order, then ours.
     * {@code bytes_sent} / {@code bytes_recv} are what the workload on this agent's side sent and received, as
     * ztunnel counts them: the client's request bytes are {@code bytes_sent} outbound and {@code bytes_recv}
     * inbound. Absent values are null (ztunnel omits them; a null key parses the same in every pipeline).
     */
    public static List<KeyValuePair> keyValues(ConnectionContext c, ConnectionStats s) {
        var out = new ArrayList<KeyValuePair>(24);
        Workload src = c.sourceWorkload();
        Workload dst = c.destinationWorkload();
        boolean outbound = c.direction() == ConnectionContext.Direction.OUTBOUND;
        boolean plaintext = c.route() == ConnectionContext.RouteKind.PLAINTEXT; // bytes and duration never seen
        out.add(new KeyValuePair("src.addr", addr(c.client())));
        out.add(new KeyValuePair("src.workload", src == null ? null : src.name()));
        out.add(new KeyValuePair("src.namespace", src == null ? null : src.namespace()));
        out.add(new KeyValuePair("src.identity", c.sourceIdentity() == null ? null : c.sourceIdentity().toString()));
        out.add(new KeyValuePair("dst.addr", addr(c.destination())));
        out.add(new KeyValuePair("dst.hbone_addr", addr(c.tunnelPeer())));
        out.add(new KeyValuePair("dst.service", c.service() == null ? null : c.service().hostname(CLUSTER_DOMAIN)));
        out.add(new KeyValuePair("dst.workload", dst == null ? null : dst.name()));
        out.add(new KeyValuePair("dst.namespace", dst == null ? null : dst.namespace()));
        out.add(new KeyValuePair("dst.identity",
                c.destinationIdentity() == null ? null : c.destinationIdentity().toString()));
        out.add(new KeyValuePair("direction", outbound ? "outbound" : "inbound"));
        out.add(new KeyValuePair("bytes_sent", plaintext ? null : outbound ? s.bytesFromSource() : s.bytesToSource()));
        out.add(new KeyValuePair("bytes_recv", plaintext ? null : outbound ? s.bytesToSource() : s.bytesFromSource()));
        out.add(new KeyValuePair("duration", plaintext ? null : s.duration().toMillis() + "ms"));
        if (s.reason() != CloseReason.OK) {
            out.add(new KeyValuePair("error", s.reason().name()));
        }
        out.add(new KeyValuePair("route", c.route() == null ? null : c.route().name().toLowerCase(Locale.ROOT)));
        out.add(new KeyValuePair("reason", s.reason().name()));
        if (plaintext) {
            out.add(new KeyValuePair("connection_security_policy", "none"));
        }
        if (c.authorization() != null) {
            out.add(new KeyValuePair("policy_decision", c.authorization().label()));
            out.add(new KeyValuePair("policy", c.authorization().policy()));
            out.add(new KeyValuePair("policy_rule", c.authorization().rule()));
            out.add(new KeyValuePair("policy_reason", c.authorization().reason()));
        }
        return out;
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
        boolean plaintext = c.route() == ConnectionContext.RouteKind.PLAINTEXT;
        if (plaintext) {
            field(b, "connection_security_policy", "none");
        }
        if (c.authorization() != null) {
            field(b, "policy_decision", c.authorization().label());
            field(b, "policy", c.authorization().policy());
            b.append("\"policy_rule\":").append(c.authorization().rule()).append(',');
            field(b, "policy_reason", c.authorization().reason());
        }
        if (plaintext) { // the kernel decided it; the agent never sees its bytes or its end
            b.setLength(b.length() - 1);
            return b.append('}').toString();
        }
        b.append("\"bytes_from_src\":").append(s.bytesFromSource()).append(',');
        b.append("\"bytes_to_src\":").append(s.bytesToSource()).append(',');
        b.append("\"duration_ms\":").append(s.duration().toMillis());
        return b.append('}').toString();
    }

    private static String addr(InetSocketAddress a) {
        return dev.tessera.api.net.Addresses.format(a); // [2001:db8::1]:8080 for IPv6
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
