package dev.tessera.agent.connection;

import dev.tessera.agent.connection.ConnectionContext.Direction;
import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.atomic.LongAdder;

/**
 * Cheap data-path counters (LongAdder, no locks) for the lead's metrics exporter: connections opened,
 * closed by reason, active; pooled tunnel connections; handshakes by direction and outcome; bytes.
 */
public final class ProxyCounters implements ConnectionListener {

    private final EnumMap<Direction, LongAdder> opened = adders(Direction.class);
    private final EnumMap<Direction, LongAdder> active = adders(Direction.class);
    private final EnumMap<CloseReason, LongAdder> closed = adders(CloseReason.class);
    private final EnumMap<Direction, LongAdder> handshakesOk = adders(Direction.class);
    private final EnumMap<Direction, LongAdder> handshakesFailed = adders(Direction.class);
    private final LongAdder tunnels = new LongAdder();
    private final LongAdder bytesFromSource = new LongAdder();
    private final LongAdder bytesToSource = new LongAdder();

    private static <E extends Enum<E>> EnumMap<E, LongAdder> adders(Class<E> type) {
        var map = new EnumMap<E, LongAdder>(type);
        for (E e : type.getEnumConstants()) {
            map.put(e, new LongAdder());
        }
        return map;
    }

    @Override
    public void opened(ConnectionContext context) {
        opened.get(context.direction()).increment();
        active.get(context.direction()).increment();
    }

    @Override
    public void closed(ConnectionContext context, ConnectionStats stats) {
        active.get(context.direction()).decrement();
        closed.get(stats.reason()).increment();
        bytesFromSource.add(stats.bytesFromSource());
        bytesToSource.add(stats.bytesToSource());
    }

    @Override
    public void handshake(Direction direction, boolean success) {
        (success ? handshakesOk : handshakesFailed).get(direction).increment();
    }

    @Override
    public void tunnelOpened() {
        tunnels.increment();
    }

    @Override
    public void tunnelClosed() {
        tunnels.decrement();
    }

    public long opened(Direction direction) {
        return opened.get(direction).sum();
    }

    public long active(Direction direction) {
        return active.get(direction).sum();
    }

    public long closed(CloseReason reason) {
        return closed.get(reason).sum();
    }

    /** Closed connections by reason (a fresh copy; reasons with no close are present with 0). */
    public Map<CloseReason, Long> closedByReason() {
        var out = new EnumMap<CloseReason, Long>(CloseReason.class);
        closed.forEach((k, v) -> out.put(k, v.sum()));
        return out;
    }

    public long handshakes(Direction direction, boolean success) {
        return (success ? handshakesOk : handshakesFailed).get(direction).sum();
    }

    /** Pooled HBONE client connections currently established. */
    public long tunnelConnections() {
        return tunnels.sum();
    }

    public long bytesFromSource() {
        return bytesFromSource.sum();
    }

    public long bytesToSource() {
        return bytesToSource.sum();
    }
}
