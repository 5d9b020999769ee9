package dev.tessera.agent.testing;

import dev.tessera.agent.connection.ConnectionContext;
import dev.tessera.agent.connection.ConnectionListener;
import dev.tessera.agent.connection.ConnectionStats;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/** Keeps every closed connection for assertions. */
public final class RecordingListener implements ConnectionListener {

    /** One closed connection. */
    public record Closed(ConnectionContext context, ConnectionStats stats) {}

    private final List<Closed> closed = new CopyOnWriteArrayList<>();

    @Override
    public void closed(ConnectionContext context, ConnectionStats stats) {
        closed.add(new Closed(context, stats));
    }

    public List<Closed> closed() {
        return List.copyOf(closed);
    }
}
